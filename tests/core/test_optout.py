"""Opt-outs: keywords, the suppression stores (in memory, SQLite, the real Redis server), the gate
before every send (no request for a suppressed recipient), provider opt-out errors and the hooks
an application uses to own the list."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pluggy
import pytest
from example_connector import KestrelSmsConnector

import ratatosk
from ratatosk import (
    ALL_SENDERS,
    HELP_KEYWORDS,
    OPT_IN_KEYWORDS,
    OPT_OUT_KEYWORDS,
    InMemorySuppressionStore,
    Message,
    MessageSource,
    MessagingErrorCodes,
    OptOutAction,
    OptOutEvent,
    RedisSuppressionStore,
    SqliteSuppressionStore,
    SuppressionStore,
    classify_keyword,
    hookimpl,
)

US, THEM, OTHER = "+15550001111", "+15550002222", "+15550003333"


def fresh_pm() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("ratatosk")
    pm.add_hookspecs(ratatosk.hookspecs)
    return pm


# -- keywords ----------------------------------------------------------------------------------

def test_the_standard_keyword_sets() -> None:
    assert {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"} == OPT_OUT_KEYWORDS
    assert {"START", "YES", "UNSTOP"} == OPT_IN_KEYWORDS
    assert {"HELP", "INFO"} == HELP_KEYWORDS


@pytest.mark.parametrize(("text", "expected"), [
    ("STOP", (OptOutAction.OPT_OUT, "STOP")),
    (" stop! ", (OptOutAction.OPT_OUT, "STOP")),
    ("Unsubscribe.", (OptOutAction.OPT_OUT, "UNSUBSCRIBE")),
    ("stopall", (OptOutAction.OPT_OUT, "STOPALL")),
    ("quit", (OptOutAction.OPT_OUT, "QUIT")),
    ("Start", (OptOutAction.OPT_IN, "START")),
    ("yes", (OptOutAction.OPT_IN, "YES")),
    ("UNSTOP", (OptOutAction.OPT_IN, "UNSTOP")),
    ("help?", (OptOutAction.HELP, "HELP")),
    ("info", (OptOutAction.HELP, "INFO")),
    ("please stop texting me", None),  # only a message that is the keyword counts
    ("stopp", None),
    ("", None),
    (None, None),
])
def test_keywords_are_recognised(text: str | None,
                                 expected: tuple[OptOutAction, str] | None) -> None:
    assert classify_keyword(text) == expected


# -- stores ------------------------------------------------------------------------------------

@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SuppressionStore]:
    if request.param == "memory":
        yield InMemorySuppressionStore()
    elif request.param == "sqlite":
        sqlite_store = SqliteSuppressionStore(tmp_path / "suppressions.db")
        yield sqlite_store
        sqlite_store.close()
    else:
        import redis

        client = redis.Redis(host="127.0.0.1", port=6379)
        prefix = f"test-optout-{os.urandom(6).hex()}"
        try:
            yield RedisSuppressionStore(client, prefix=prefix)
        finally:
            keys = list(client.scan_iter(f"{prefix}:*"))
            if keys:
                client.delete(*keys)
            client.close()


def test_a_store_suppresses_per_sender(store: SuppressionStore) -> None:
    assert isinstance(store, SuppressionStore)
    assert not store.is_suppressed(US, THEM)
    assert store.suppress(US, THEM, "STOP")
    assert not store.suppress(US, THEM, "STOP")  # already known
    assert store.is_suppressed(US, THEM)
    assert not store.is_suppressed(OTHER, THEM)  # another of our numbers may still write
    assert store.is_suppressed(None, THEM)  # sender unknown: any opt-out counts
    assert not store.is_suppressed(None, OTHER)
    assert store.release(US, THEM)
    assert not store.release(US, THEM)
    assert not store.is_suppressed(US, THEM) and not store.is_suppressed(None, THEM)


def test_all_senders_and_an_opt_in_releases_it(store: SuppressionStore) -> None:
    store.suppress(ALL_SENDERS, THEM, "STOPALL")
    assert store.is_suppressed(US, THEM) and store.is_suppressed(OTHER, THEM)
    assert store.release(US, THEM)  # START to one number: they talk to us again
    assert not store.is_suppressed(OTHER, THEM)


def test_the_sqlite_store_is_shared_between_instances(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    first, second = SqliteSuppressionStore(path), SqliteSuppressionStore(path)
    try:
        first.suppress(US, THEM, "STOP")
        assert second.is_suppressed(US, THEM)
        assert "shared.db" in repr(first)
        rows = sqlite3.connect(path).execute(
            "SELECT sender, recipient, reason FROM ratatosk_suppressions").fetchall()
        assert rows == [(US, THEM, "STOP")]
    finally:
        first.close()
        second.close()
    with pytest.raises(ValueError):
        SqliteSuppressionStore(path, table="x; DROP TABLE y")


def test_the_in_memory_store_is_thread_safe() -> None:
    store = InMemorySuppressionStore([(US, OTHER)])
    new: list[bool] = []
    barrier = threading.Barrier(8)

    def run() -> None:
        barrier.wait()
        new.append(store.suppress(US, THEM))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert new.count(True) == 1 and len(store) == 2


# -- the connector ----------------------------------------------------------------------------

class Kestrel:
    """The Kestrel API in memory; ``opted_out`` recipients are refused like a provider would."""

    def __init__(self, opted_out: tuple[str, ...] = ()) -> None:
        self.requests: list[httpx.Request] = []
        self.opted_out = opted_out

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        to = json.loads(request.content)["to"]
        if to in self.opted_out:
            return httpx.Response(400, json={"error": {"code": "opted_out", "message": "STOP"}})
        return httpx.Response(201, json={"id": f"K{len(self.requests)}", "status": "queued"})


class OptedOutKestrel(KestrelSmsConnector):
    """The example connector, with the provider's opt-out error mapped to the standard code."""

    def send_message_flow(self, message: Message) -> Any:
        result = yield from super().send_message_flow(message)
        error = result.error
        if error is not None and error.provider_code == "opted_out":
            return ratatosk.Err(ratatosk.ErrorInfo(
                MessagingErrorCodes.RECIPIENT_OPTED_OUT, error.message, provider_code="opted_out"))
        return result


def connector(api: Kestrel, pm: pluggy.PluginManager | None = None,
              store: SuppressionStore | None = None) -> KestrelSmsConnector:
    c = OptedOutKestrel(settings={"ApiKey": "key-123456", "MaxRetries": 0},
                        http_transport=httpx.MockTransport(api), plugin_manager=pm or fresh_pm())
    c.suppressions = store
    return c


def text(to: str = THEM, sender: str | None = US) -> Message:
    return Message.text("Sale today", to=to, sender=sender)


def inbound(body: str, sender: str = THEM, to: str = US) -> MessageSource:
    return MessageSource(json.dumps({"id": "in1", "from": sender, "to": to, "text": body})
                         .encode(), content_type="application/json")


def test_a_stop_reply_stops_the_next_send_before_any_request() -> None:
    api = Kestrel()
    c = connector(api, store=InMemorySuppressionStore()).blocking()
    assert c.send_message(text()).is_success and len(api.requests) == 1

    received = c.receive_messages(inbound("STOP")).unwrap()
    assert received.additional_data["opt_outs"] == [{
        "action": "opt_out", "keyword": "STOP", "sender": US, "recipient": THEM,
        "message_id": "in1", "changed": True}]
    refused = c.send_message(text())
    assert refused.error is not None
    assert refused.error.code == MessagingErrorCodes.RECIPIENT_OPTED_OUT
    assert refused.error.domain == "messaging" and THEM in refused.error.message
    assert len(api.requests) == 1  # nothing was sent, nothing was paid
    assert c.send_message(text(sender=None)).error is not None  # the provider would pick one
    assert c.send_message(text(to=OTHER)).is_success  # others still get it
    assert c.send_message(Message.text("hi", to=THEM, sender=OTHER)).is_success

    c.receive_messages(inbound("start"))
    assert c.send_message(text()).is_success


def test_help_and_ordinary_text_change_nothing() -> None:
    store = InMemorySuppressionStore()
    c = connector(Kestrel(), store=store).blocking()
    helped = c.receive_messages(inbound("HELP")).unwrap()
    assert helped.additional_data["opt_outs"][0]["action"] == "help"
    plain = c.receive_messages(inbound("stop by later?")).unwrap()
    assert "opt_outs" not in plain.additional_data
    assert len(store) == 0


def test_stopall_suppresses_every_sender() -> None:
    store = InMemorySuppressionStore()
    c = connector(Kestrel(), store=store).blocking()
    c.receive_messages(inbound("STOPALL"))
    assert store.is_suppressed(OTHER, THEM)
    assert c.send_message(Message.text("hi", to=THEM, sender=OTHER)).error is not None


def test_a_provider_opt_out_error_is_recorded() -> None:
    api = Kestrel(opted_out=(THEM,))
    store = InMemorySuppressionStore()
    c = connector(api, store=store).blocking()
    first = c.send_message(text())
    assert first.error is not None and first.error.code == MessagingErrorCodes.RECIPIENT_OPTED_OUT
    assert first.error.provider_code == "opted_out"
    assert store.is_suppressed(US, THEM) and len(api.requests) == 1
    second = c.send_message(text())
    assert second.error is not None and second.error.provider_code is None  # our own gate
    assert len(api.requests) == 1


def test_without_a_store_or_hook_nothing_is_gated() -> None:
    api = Kestrel()
    c = connector(api).blocking()
    c.receive_messages(inbound("STOP"))
    assert c.send_message(text()).is_success


def test_the_application_owns_the_list_through_hooks() -> None:
    events: list[OptOutEvent] = []
    app_list: set[tuple[str, str]] = set()

    class AppList:
        @hookimpl
        def ratatosk_opt_out_received(self, connector: Any, event: OptOutEvent) -> None:
            events.append(event)
            if event.action is OptOutAction.OPT_OUT:
                app_list.add((event.sender, event.recipient))
            elif event.action is OptOutAction.OPT_IN:
                app_list.discard((event.sender, event.recipient))

        @hookimpl
        def ratatosk_is_suppressed(self, connector: Any, sender: str | None,
                                   recipient: str) -> bool | None:
            if recipient == OTHER:
                return None  # no opinion: the store (none here) decides
            return (sender, recipient) in app_list

    pm = fresh_pm()
    pm.register(AppList())
    api = Kestrel()
    c = connector(api, pm).blocking()  # no store: the hooks own the list
    c.receive_messages(inbound("Stop"))
    assert [(e.action, e.keyword, e.source, e.changed) for e in events] == [
        (OptOutAction.OPT_OUT, "STOP", "keyword", False)]
    assert events[0].connector == "kestrel/sms" and events[0].message_id == "in1"
    refused = c.send_message(text())
    assert refused.error is not None
    assert refused.error.code == MessagingErrorCodes.RECIPIENT_OPTED_OUT
    assert api.requests == []
    assert c.send_message(text(to=OTHER)).is_success
    c.receive_messages(inbound("yes"))
    assert c.send_message(text()).is_success


def test_a_hook_answer_overrides_the_store() -> None:
    class AllowAll:
        @hookimpl
        def ratatosk_is_suppressed(self, connector: Any, sender: str | None,
                                   recipient: str) -> bool | None:
            return False

    pm = fresh_pm()
    pm.register(AllowAll())
    store = InMemorySuppressionStore([(US, THEM)])
    assert connector(Kestrel(), pm, store).blocking().send_message(text()).is_success


def test_a_failing_store_refuses_the_send_with_an_error_result() -> None:
    class Broken:
        def is_suppressed(self, sender: str | None, recipient: str) -> bool:
            raise ConnectionError("store down")

        def suppress(self, sender: str, recipient: str, reason: str = "") -> bool:
            raise ConnectionError("store down")

        def release(self, sender: str, recipient: str) -> bool:
            raise ConnectionError("store down")

    api = Kestrel()
    result = connector(api, store=Broken()).blocking().send_message(text())
    assert result.error is not None and "store down" in result.error.message
    assert api.requests == []  # fails closed: nothing is sent when the list cannot be read


async def test_the_async_path_is_gated_too() -> None:
    api = Kestrel()
    c = connector(api, store=InMemorySuppressionStore([(US, THEM)]))
    result = await c.send_message(text())
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.RECIPIENT_OPTED_OUT
    batch = [r async for r in c.send_batch([text(), text(to=OTHER)])]
    codes = sorted(str(r.result.error.code) if r.result.error else "ok" for r in batch)
    assert codes == ["RECIPIENT_OPTED_OUT", "ok"]
    assert len(api.requests) == 1


def test_the_blocking_view_sets_the_connectors_store_and_tracker() -> None:
    c = connector(Kestrel())
    view = c.blocking()
    store = InMemorySuppressionStore()
    view.suppressions = store
    assert c.suppressions is store and view.suppressions is store
    tracker = ratatosk.StatusTracker()
    view.status_tracker = tracker
    assert c.status_tracker is tracker and view.status_tracker is tracker


def test_a_store_that_fails_while_recording_a_stop_fails_the_webhook() -> None:
    class Broken(InMemorySuppressionStore):
        def suppress(self, sender: str, recipient: str, reason: str = "") -> bool:
            raise ConnectionError("store down")

    seen: list[Message] = []

    class Observer:
        @hookimpl
        def ratatosk_message_received(self, connector: Any, message: Message) -> None:
            seen.append(message)

    pm = fresh_pm()
    pm.register(Observer())
    c = connector(Kestrel(), pm, store=Broken()).blocking()
    result = c.receive_messages(inbound("STOP"))
    assert result.error is not None
    assert result.error.code == ratatosk.ConnectorErrorCodes.RECEIVE_MESSAGES_ERROR
    assert "store down" in result.error.message and seen == []  # answered 500: retried
    assert c.receive_messages(inbound("hello")).is_success  # other text needs no store
