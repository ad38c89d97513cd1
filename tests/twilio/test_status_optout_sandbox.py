"""End to end against the Twilio sandbox over loopback: a STOP reply stops the next send before any
request; Twilio's 21610 is recorded; late and repeated status callbacks never undo "delivered"
and are reported once; reconciliation asks Twilio about a message whose callback never came.

A small stdlib HTTP server on 127.0.0.1 plays the application: it receives the sandbox's signed
webhooks (inbound messages, status callbacks) and hands them to the connector, at once or, for
the out-of-order test, later and in another order (like a queue worker).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Lock, Thread
from typing import Any
from urllib.parse import urlencode

import httpx
import pluggy
import pytest

import ratatosk
from ratatosk import (
    InMemorySuppressionStore,
    Message,
    MessageSource,
    MessageStatus,
    MessagingErrorCodes,
    OptOutAction,
    OptOutEvent,
    Result,
    StatusTracker,
    StatusUpdate,
    hookimpl,
)
from ratatosk_twilio import TwilioSmsConnector
from ratatosk_twilio.sandbox import (
    DUPLICATE_CALLBACKS_TO,
    OUT_OF_ORDER_TO,
    STOP_REPLY_TO,
    TwilioSandbox,
)

US = "+15005550006"
THEM = "+14155550100"


class App:
    """The application's webhook endpoint. With ``hold`` set, status callbacks are kept (and
    answered 200) to be processed later by :meth:`process_held`."""

    def __init__(self) -> None:
        self.connector: Any = None
        self.results: list[Result[Any]] = []
        self.held: list[MessageSource] = []
        self.hold = False
        self.lock = Lock()

    def handle(self, path: str, source: MessageSource) -> int:
        if path.startswith("/status") and self.hold:
            with self.lock:
                self.held.append(source)
            return 200
        result: Result[Any] = (self.connector.receive_message_status(source)
                               if path.startswith("/status")
                               else self.connector.receive_messages(source))
        with self.lock:
            self.results.append(result)
        return 200 if result.error is None else 400


@pytest.fixture
def app() -> Iterator[tuple[App, str]]:
    application = App()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            source = MessageSource(body, content_type=self.headers.get("Content-Type") or "",
                                   url=f"http://{self.headers.get('Host')}{self.path}",
                                   headers=list(self.headers.items()))
            status = application.handle(self.path, source)
            answer = b'<?xml version="1.0" encoding="UTF-8"?><Response />'
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield application, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class Counting(httpx.BaseTransport):
    """Real HTTP over loopback, counting the requests that leave."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def fresh_pm() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("ratatosk")
    pm.add_hookspecs(ratatosk.hookspecs)
    return pm


def make(sandbox: TwilioSandbox, base: str, transport: httpx.BaseTransport | None = None,
         pm: pluggy.PluginManager | None = None) -> TwilioSmsConnector:
    return TwilioSmsConnector(settings={
        "AccountSid": sandbox.account_sid, "AuthToken": sandbox.auth_token,
        "BaseUrl": sandbox.base_url, "WebhookUrl": f"{base}/inbound",
        "StatusCallback": f"{base}/status", "MaxRetries": 0,
    }, http_transport=transport, plugin_manager=pm or fresh_pm())


def test_a_stop_reply_stops_the_next_send_before_it_costs_anything(
        app: tuple[App, str]) -> None:
    application, base = app
    events: list[OptOutEvent] = []

    class Audit:
        @hookimpl
        def ratatosk_opt_out_received(self, connector: Any, event: OptOutEvent) -> None:
            events.append(event)

    pm = fresh_pm()
    pm.register(Audit())
    with TwilioSandbox() as sandbox:
        transport = Counting()
        connector = make(sandbox, base, transport, pm)
        connector.suppressions = InMemorySuppressionStore()
        application.connector = connector.blocking()
        blocking = application.connector
        message = Message.text("Sale today", to=THEM, sender=US)
        assert blocking.send_message(message).is_success

        delivery = sandbox.send_inbound(THEM, US, "Stop", url=f"{base}/inbound")
        assert delivery.status_code == 200
        assert [(e.action, e.sender, e.recipient, e.changed) for e in events] == [
            (OptOutAction.OPT_OUT, US, THEM, True)]
        outbound_before = [m for m in sandbox.messages if m.direction != "inbound"]
        requests_before = len(transport.requests)

        refused = blocking.send_message(Message.text("Sale today", to=THEM, sender=US))
        assert refused.error is not None
        assert refused.error.code == MessagingErrorCodes.RECIPIENT_OPTED_OUT
        assert len(transport.requests) == requests_before  # no request left the process
        assert [m for m in sandbox.messages if m.direction != "inbound"] == outbound_before

        sandbox.send_inbound(THEM, US, "START", url=f"{base}/inbound")
        assert blocking.send_message(Message.text("Welcome back", to=THEM, sender=US)).is_success
        connector.blocking().shutdown()


def test_twilio_21610_is_recorded_and_the_next_send_makes_no_request(
        app: tuple[App, str]) -> None:
    _, base = app
    with TwilioSandbox() as sandbox:
        transport = Counting()
        connector = make(sandbox, base, transport)
        store = connector.suppressions = InMemorySuppressionStore()
        blocking = connector.blocking()
        unsubscribed = "+15005550004"  # Twilio's magic number for 21610
        first = blocking.send_message(Message.text("Hi", to=unsubscribed, sender=US))
        assert first.error is not None
        assert first.error.code == MessagingErrorCodes.RECIPIENT_OPTED_OUT
        assert first.error.provider_code == "21610"
        assert store.is_suppressed(US, unsubscribed) and len(transport.requests) == 1
        second = blocking.send_message(Message.text("Hi", to=unsubscribed, sender=US))
        assert second.error is not None
        assert second.error.code == MessagingErrorCodes.RECIPIENT_OPTED_OUT
        assert len(transport.requests) == 1
        blocking.shutdown()


def test_late_sent_callbacks_never_undo_delivered_and_duplicates_are_reported_once(
        app: tuple[App, str]) -> None:
    application, base = app
    observed: list[tuple[str, MessageStatus]] = []

    class Observer:
        @hookimpl
        def ratatosk_status_received(self, connector: Any, update: StatusUpdate) -> None:
            observed.append((update.remote_message_id, update.status))

    pm = fresh_pm()
    pm.register(Observer())
    with TwilioSandbox(progression="manual") as sandbox:
        connector = make(sandbox, base, pm=pm)
        tracker = connector.status_tracker = StatusTracker()
        application.connector = connector.blocking()
        application.hold = True  # the callbacks queue up, to be processed out of order
        sid = application.connector.send_message(
            Message.text("Hi", to=THEM, sender=US)).unwrap().remote_message_id
        assert sid is not None
        sandbox.advance(sid, to="delivered")
        callbacks = sandbox.wait_for_callbacks(3)
        assert [c.message_status for c in callbacks] == ["sending", "sent", "delivered"]
        held = list(application.held)
        assert len(held) == 3

        # delivered first, then the late ones, then delivered again (a second delivery report)
        delivered, sending, sent = held[2], held[0], held[1]
        results = [application.connector.receive_message_status(s).unwrap()
                   for s in (delivered, sent, sending, delivered)]
        assert [r.provider_status for r in results] == ["delivered", "sent", "sending",
                                                        "delivered"]
        assert [r.message_status for r in results] == [MessageStatus.DELIVERED] * 4
        assert results[0].is_stale is False
        assert all(r.is_stale or r.is_duplicate for r in results[1:])
        assert tracker.status(sid) is MessageStatus.DELIVERED
        assert observed == [(sid, MessageStatus.DELIVERED)]  # reported once
        application.connector.shutdown()


def test_reconcile_asks_twilio_about_a_message_whose_callback_never_came() -> None:
    now = [1_000_000.0]
    with TwilioSandbox(progression="manual") as sandbox:
        connector = TwilioSmsConnector(settings={
            "AccountSid": sandbox.account_sid, "AuthToken": sandbox.auth_token,
            "BaseUrl": sandbox.base_url}, plugin_manager=fresh_pm())  # no StatusCallback
        tracker = connector.status_tracker = StatusTracker(clock=lambda: now[0])
        blocking = connector.blocking()
        sids = [blocking.send_message(Message.text("Hi", to=to, sender=US)).unwrap()
                .remote_message_id for to in (THEM, "+15005550010")]
        assert all(sid is not None for sid in sids)
        assert [tracker.status(s or "") for s in sids] == [MessageStatus.QUEUED] * 2
        sandbox.advance(sids[0], to="delivered")
        sandbox.advance(sids[1], to="undelivered")
        assert tracker.reconcile_blocking(blocking, older_than=600).checked == 0
        now[0] += 3600
        report = tracker.reconcile_blocking(blocking, older_than=600)
        assert report.checked == 2 and set(report.changed) == set(sids)
        assert [tracker.status(s or "") for s in sids] == [
            MessageStatus.DELIVERED, MessageStatus.DELIVERY_FAILED]
        now[0] += 3600
        assert tracker.reconcile_blocking(blocking, older_than=600).checked == 0  # all final
        blocking.shutdown()


def test_an_opt_out_error_in_a_status_callback_is_recorded_for_the_tracked_pair() -> None:
    """Through a Messaging Service Twilio accepts the create and reports 21610 in the callback
    (the pool chose the sender): the tracked recipient is suppressed for every sender."""
    with TwilioSandbox() as sandbox:
        connector = TwilioSmsConnector(settings={
            "AccountSid": sandbox.account_sid, "AuthToken": sandbox.auth_token,
            "BaseUrl": sandbox.base_url, "MessagingServiceSid": "MG" + "0" * 32,
            "ValidateSignatures": "false"}, plugin_manager=fresh_pm())
        blocking = connector.blocking()
        blocking.suppressions = InMemorySuppressionStore()
        blocking.status_tracker = StatusTracker()
        sid = blocking.send_message(Message.text("Hi", to=THEM)).unwrap().remote_message_id
        assert sid is not None
        callback = MessageSource.url_post(urlencode(
            {"MessageSid": sid, "AccountSid": sandbox.account_sid, "MessageStatus": "failed",
             "ErrorCode": "21610", "From": US, "To": THEM}), url="https://app.example/status")
        update = blocking.receive_message_status(callback).unwrap()
        assert update.error is not None
        assert update.error.code == MessagingErrorCodes.RECIPIENT_OPTED_OUT
        assert update.message_status is MessageStatus.ROUTE_FAILED
        assert connector.suppressions is not None
        assert connector.suppressions.is_suppressed(US, THEM)
        before = len(sandbox.messages)
        refused = blocking.send_message(Message.text("Hi again", to=THEM))
        assert refused.error is not None
        assert refused.error.code == MessagingErrorCodes.RECIPIENT_OPTED_OUT
        assert len(sandbox.messages) == before
        blocking.shutdown()


def test_a_stop_whose_recording_failed_is_processed_when_twilio_retries_it() -> None:
    """The suppression store was down: the webhook failed (Twilio retries it) and its
    de-duplication key was forgotten, so the retry records the STOP instead of being dropped as
    a duplicate."""
    class Flaky(InMemorySuppressionStore):
        down = True

        def suppress(self, sender: str, recipient: str, reason: str = "") -> bool:
            if self.down:
                raise ConnectionError("store down")
            return super().suppress(sender, recipient, reason)

    store = Flaky()
    connector = TwilioSmsConnector(settings={
        "AccountSid": "AC" + "1" * 32, "AuthToken": "token-123456",
        "ValidateSignatures": "false"}, plugin_manager=fresh_pm())
    connector.suppressions = store
    blocking = connector.blocking()
    source = MessageSource.url_post(urlencode({
        "MessageSid": "SM" + "2" * 32, "AccountSid": "AC" + "1" * 32, "From": THEM, "To": US,
        "Body": "STOP", "NumMedia": "0", "SmsStatus": "received"}),
        url="https://app.example/inbound", headers={"I-Twilio-Idempotency-Token": "tok-1"})
    failed = blocking.receive_messages(source)
    assert failed.error is not None
    assert failed.error.code == ratatosk.ConnectorErrorCodes.RECEIVE_MESSAGES_ERROR
    store.down = False
    retried = blocking.receive_messages(source).unwrap()
    assert not retried.is_duplicate and len(retried.messages) == 1
    assert store.is_suppressed(US, THEM)
    assert blocking.receive_messages(source).unwrap().is_duplicate  # now it is one


def test_a_status_query_goes_through_the_tracker_and_never_undoes_a_later_status() -> None:
    with TwilioSandbox(progression="manual") as sandbox:
        connector = TwilioSmsConnector(settings={
            "AccountSid": sandbox.account_sid, "AuthToken": sandbox.auth_token,
            "BaseUrl": sandbox.base_url}, plugin_manager=fresh_pm())
        tracker = connector.status_tracker = StatusTracker()
        blocking = connector.blocking()
        sid = blocking.send_message(Message.text("Hi", to=THEM, sender=US)).unwrap() \
            .remote_message_id or ""
        sandbox.advance(sid, to="sent")
        first = blocking.get_message_status(sid).unwrap()
        assert (first.message_status, first.is_stale) == (MessageStatus.SENT, False)
        assert tracker.status(sid) == MessageStatus.SENT
        # the application learnt "delivered" elsewhere (a callback); a query still saying "sent"
        # is reported as stale and leaves the tracked status alone
        tracker.apply(StatusUpdate(remote_message_id=sid, status=MessageStatus.DELIVERED))
        again = blocking.get_message_status(sid).unwrap()
        assert again.status == MessageStatus.SENT
        assert (again.message_status, again.is_stale) == (MessageStatus.DELIVERED, True)
        assert tracker.status(sid) == MessageStatus.DELIVERED
        blocking.shutdown()


# -- the sandbox's own realism: duplicates, disorder, STOP replies, errors on demand ---------------

def _observer(observed: list[tuple[str, MessageStatus]]) -> pluggy.PluginManager:
    class Observer:
        @hookimpl
        def ratatosk_status_received(self, connector: Any, update: StatusUpdate) -> None:
            observed.append((update.remote_message_id, update.status))

    pm = fresh_pm()
    pm.register(Observer())
    return pm


def test_callbacks_sent_twice_by_the_sandbox_are_reported_once(app: tuple[App, str]) -> None:
    application, base = app
    observed: list[tuple[str, MessageStatus]] = []
    with TwilioSandbox() as sandbox:
        connector = make(sandbox, base, pm=_observer(observed))
        connector.status_tracker = StatusTracker()
        application.connector = connector.blocking()
        sid = application.connector.send_message(
            Message.text("Hi", to=DUPLICATE_CALLBACKS_TO, sender=US)).unwrap().remote_message_id
        callbacks = sandbox.wait_for_callbacks(6)
        assert [c.message_status for c in callbacks] == [
            "sending", "sending", "sent", "sent", "delivered", "delivered"]
        assert all(c.status_code == 200 for c in callbacks)
        assert observed == [(sid, MessageStatus.ROUTED), (sid, MessageStatus.SENT),
                            (sid, MessageStatus.DELIVERED)]
        application.connector.shutdown()


def test_callbacks_the_sandbox_sends_in_reverse_never_undo_delivered(
        app: tuple[App, str]) -> None:
    application, base = app
    observed: list[tuple[str, MessageStatus]] = []
    with TwilioSandbox() as sandbox:
        connector = make(sandbox, base, pm=_observer(observed))
        tracker = connector.status_tracker = StatusTracker()
        application.connector = connector.blocking()
        sid = application.connector.send_message(
            Message.text("Hi", to=OUT_OF_ORDER_TO, sender=US)).unwrap().remote_message_id or ""
        callbacks = sandbox.wait_for_callbacks(3)
        assert [c.message_status for c in callbacks] == ["delivered", "sent", "sending"]
        assert tracker.status(sid) is MessageStatus.DELIVERED
        assert observed == [(sid, MessageStatus.DELIVERED)]
        application.connector.shutdown()


def test_a_stop_reply_from_the_sandbox_stops_the_next_send(app: tuple[App, str]) -> None:
    application, base = app
    with TwilioSandbox(inbound_webhook_url=f"{base}/inbound") as sandbox:
        transport = Counting()
        connector = make(sandbox, base, transport)
        connector.suppressions = InMemorySuppressionStore()
        application.connector = connector.blocking()
        assert application.connector.send_message(
            Message.text("Sale", to=STOP_REPLY_TO, sender=US)).is_success
        deadline = time.monotonic() + 5
        while not connector.suppressions.is_suppressed(US, STOP_REPLY_TO):
            assert time.monotonic() < deadline, "the STOP reply never arrived"
            time.sleep(0.02)
        assert (STOP_REPLY_TO, US) in sandbox.opt_outs
        sent = len(transport.requests)
        refused = application.connector.send_message(Message.text("Sale", to=STOP_REPLY_TO,
                                                                  sender=US))
        assert refused.error is not None
        assert refused.error.code == MessagingErrorCodes.RECIPIENT_OPTED_OUT
        assert len(transport.requests) == sent
        application.connector.shutdown()

        # an application without a suppression list learns it from Twilio's 21610
        other = make(sandbox, base).blocking()
        answer = other.send_message(Message.text("Sale", to=STOP_REPLY_TO, sender=US))
        assert answer.error is not None and answer.error.provider_code == "21610"
        assert answer.error.code == MessagingErrorCodes.RECIPIENT_OPTED_OUT
        other.shutdown()


@pytest.mark.parametrize(("status", "code", "expected", "unknown"), [
    (503, 20503, MessagingErrorCodes.SEND_MESSAGE_FAILED, False),
    (500, 20500, MessagingErrorCodes.SEND_MESSAGE_FAILED, True),
    (429, 20429, MessagingErrorCodes.RATE_LIMITED, False),
    (401, 20003, MessagingErrorCodes.INVALID_CREDENTIALS, False),
])
def test_provider_errors_on_demand(status: int, code: int, expected: str, unknown: bool) -> None:
    with TwilioSandbox() as sandbox:
        sandbox.fail_next(status, code, retry_after=1 if status == 429 else None)
        connector = TwilioSmsConnector(settings={
            "AccountSid": sandbox.account_sid, "AuthToken": sandbox.auth_token,
            "BaseUrl": sandbox.base_url, "MaxRetries": 0}, plugin_manager=fresh_pm()).blocking()
        failed = connector.send_message(Message.text("Hi", to=THEM, sender=US))
        assert failed.error is not None and failed.error.code == expected
        assert failed.error.outcome_unknown is unknown
        assert failed.error.details.get("http_status") == status
        assert sandbox.messages == []
        assert connector.send_message(Message.text("Hi", to=THEM, sender=US)).is_success
        connector.shutdown()
    with pytest.raises(ValueError):
        TwilioSandbox().fail_next(200)
