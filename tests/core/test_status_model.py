"""The status model: the order of statuses, multi-part folding, the tracker, its stores
(in memory, mirrored into a real SQLite delivery ledger), the connector wiring
(``connector.status_tracker``) and reconciliation through a status query."""

from __future__ import annotations

import itertools
import json
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pluggy
import pytest
from attrs import evolve
from example_connector import KestrelSmsConnector

import ratatosk
from ratatosk import (
    InMemoryStatusStore,
    LedgerStatusStore,
    MessageBuilder,
    MessageSource,
    MessageStatus,
    SendResult,
    SqliteStatusStore,
    StatusStore,
    StatusTracker,
    StatusUpdate,
    TrackedMessage,
    fold_parts,
    hookimpl,
    supersedes,
)
from ratatosk.ledger import Ledger, PostgresLedger, SqliteLedger, idempotency_key

S = MessageStatus


def fresh_pm() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("ratatosk")
    pm.add_hookspecs(ratatosk.hookspecs)
    return pm


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


# -- the order ---------------------------------------------------------------------------------

def test_statuses_only_move_forward() -> None:
    path = [S.SCHEDULED, S.QUEUED, S.ROUTED, S.SENT, S.DELIVERED, S.READ]
    for earlier, later in itertools.combinations(path, 2):
        assert supersedes(later, earlier), (later, earlier)
        assert not supersedes(earlier, later), (earlier, later)
    for status in S:
        assert not supersedes(status, status)
        assert supersedes(status, S.UNKNOWN) or status is S.UNKNOWN


@pytest.mark.parametrize("final", [S.DELIVERED, S.DELIVERY_FAILED, S.ROUTE_FAILED, S.CANCELED,
                                   S.DELETED, S.RECEIVED, S.READ])
def test_a_final_status_is_never_replaced_by_an_earlier_one(final: MessageStatus) -> None:
    for earlier in (S.UNKNOWN, S.SCHEDULED, S.QUEUED, S.ROUTED, S.SENT):
        assert not supersedes(earlier, final)
    # final statuses do not replace each other ...
    others = {S.DELIVERED, S.DELIVERY_FAILED, S.ROUTE_FAILED, S.CANCELED, S.DELETED} - {final}
    for other in others:
        assert not supersedes(other, final)
    # ... except that a read receipt proves delivery
    assert supersedes(S.READ, final) is (final in (S.DELIVERED, S.DELIVERY_FAILED))


def test_parts_fold_into_one_status() -> None:
    assert fold_parts([S.DELIVERED, S.DELIVERED]) is S.DELIVERED
    assert fold_parts([S.DELIVERED, S.SENT]) is S.SENT  # as far as its slowest part
    assert fold_parts([S.DELIVERED, S.DELIVERY_FAILED]) is S.DELIVERY_FAILED  # any part failed
    assert fold_parts([S.SENT, S.ROUTE_FAILED]) is S.ROUTE_FAILED
    assert fold_parts([S.ROUTE_FAILED, S.DELIVERY_FAILED]) is S.DELIVERY_FAILED
    assert fold_parts([S.READ, S.DELIVERED]) is S.DELIVERED
    assert fold_parts([S.READ, S.READ]) is S.READ
    assert fold_parts([S.CANCELED, S.QUEUED]) is S.CANCELED
    assert fold_parts([S.QUEUED, S.SENT, S.ROUTED]) is S.QUEUED
    assert fold_parts([]) is S.UNKNOWN


# -- the tracker -------------------------------------------------------------------------------

def update(sid: str, status: MessageStatus, provider: str | None = None) -> StatusUpdate:
    return StatusUpdate(sid, status, provider or status.value)


def test_late_sent_never_undoes_delivered_and_duplicates_count_once() -> None:
    tracker = StatusTracker()
    first = tracker.apply(update("SM1", S.QUEUED))
    assert first.changed and first.previous is None and first.status is S.QUEUED
    delivered = tracker.apply(update("SM1", S.DELIVERED))
    assert delivered.changed and delivered.previous is S.QUEUED
    late = tracker.apply(update("SM1", S.SENT))
    assert late.stale and not late.changed and late.status is S.DELIVERED
    again = tracker.apply(update("SM1", S.DELIVERED))
    assert again.duplicate and not again.changed and not again.stale
    read = tracker.apply(update("SM1", S.READ))
    assert read.changed and read.status is S.READ
    assert tracker.status("SM1") is S.READ
    assert tracker.status("SM-unknown") is None
    record = tracker.get("SM1")
    assert record is not None and record.provider_status == "read" and record.version == 3


def test_any_order_of_the_same_updates_ends_in_the_same_status() -> None:
    updates = [update("SM2", s) for s in (S.QUEUED, S.ROUTED, S.SENT, S.DELIVERED, S.SENT)]
    for order in itertools.permutations(updates):
        tracker = StatusTracker()
        changes = sum(tracker.apply(u).changed for u in order)
        assert tracker.status("SM2") is S.DELIVERED
        assert changes <= 4


def test_multi_part_messages_fold_per_part() -> None:
    clock = Clock()
    tracker = StatusTracker(clock=clock)
    sent = SendResult("m1", "p1", S.QUEUED, additional_data={"message_ids": ["p1", "p2", "p3"]})
    record = tracker.track(sent, connector="vonage/sms")
    assert set(record.parts) == {"p1", "p2", "p3"} and record.connector == "vonage/sms"
    assert tracker.track(sent) == record  # idempotent
    assert tracker.apply(update("p2", S.DELIVERED)).status is S.QUEUED
    assert not tracker.apply(update("p1", S.DELIVERED)).changed
    assert tracker.get("p3") == tracker.get("p1")  # any part's id finds the message
    done = tracker.apply(update("p3", S.DELIVERED))
    assert done.changed and done.status is S.DELIVERED
    # one failed part fails the message; a failure after delivered is ignored
    tracker.track(SendResult("m2", "q1", S.QUEUED, additional_data={"message_ids": ["q1", "q2"]}))
    assert tracker.apply(update("q1", S.DELIVERED)).status is S.QUEUED
    assert tracker.apply(update("q2", S.DELIVERY_FAILED)).status is S.DELIVERY_FAILED
    assert tracker.apply(update("q2", S.SENT)).stale


def test_track_needs_a_remote_id() -> None:
    with pytest.raises(ValueError, match="no remote message id"):
        StatusTracker().track(SendResult("m", None, S.QUEUED))


def test_concurrent_appliers_never_lose_an_update() -> None:
    """Compare-and-set: many threads applying interleaved updates end in the latest status."""
    tracker = StatusTracker()
    order = [S.QUEUED, S.ROUTED, S.SENT, S.DELIVERED, S.READ]
    barrier = threading.Barrier(len(order))
    changed: list[bool] = []

    def run(status: MessageStatus) -> None:
        barrier.wait()
        for _ in range(50):
            changed.append(tracker.apply(update("SM9", status)).changed)

    threads = [threading.Thread(target=run, args=(s,)) for s in order]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert tracker.status("SM9") is S.READ
    assert 1 <= sum(changed) <= len(order)


def test_the_in_memory_store_is_bounded_and_compares_versions() -> None:
    store = InMemoryStatusStore(max_messages=2)
    assert isinstance(store, StatusStore)
    a = TrackedMessage("a", S.DELIVERED, {"a": S.DELIVERED}, updated_at=1, version=1)
    assert store.save(a, None) and not store.save(a, None)  # no second creation
    assert not store.save(TrackedMessage("a", S.READ, version=2), 5)  # wrong version
    store.save(TrackedMessage("b", S.SENT, {"b": S.SENT}, updated_at=2, version=1), None)
    store.save(TrackedMessage("c", S.SENT, {"c": S.SENT}, updated_at=3, version=1), None)
    assert len(store) == 2 and store.load("a") is None  # the final one went first
    assert [r.remote_message_id for r in store.open_messages(10, 5)] == ["b", "c"]
    big = InMemoryStatusStore(max_messages=100)
    for i in range(101):
        big.save(TrackedMessage(f"m{i}", S.SENT, {f"m{i}": S.SENT}, updated_at=i, version=1),
                 None)
    assert len(big) == 90 and big.load("m10") is None and big.load("m11") is not None
    with pytest.raises(ValueError):
        InMemoryStatusStore(0)


POSTGRES = os.environ.get("RATATOSK_TEST_POSTGRES",
                          "postgresql://postgres@127.0.0.1:5432/test?connect_timeout=10")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    if request.param == "sqlite":
        sqlite_ledger = SqliteLedger(tmp_path / "ledger.db")
        yield sqlite_ledger
        sqlite_ledger.close()
        return
    import psycopg

    schema = f"rtk_status_{uuid.uuid4().hex[:16]}"
    pg_ledger = PostgresLedger(POSTGRES, schema=schema)
    try:
        yield pg_ledger
    finally:
        pg_ledger.close()
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_the_ledger_gets_each_status_change_once(ledger: Ledger) -> None:
    key = idempotency_key("spring", "row-1")
    ledger.record_intent(campaign="spring", row_key="row-1", recipient="+15550002222",
                         idempotency_key=key)
    assert ledger.claim(key, "w1")
    ledger.record_outcome(key, ratatosk.ledger.DeliveryState.SENT, provider_message_id="SMx")
    tracker = StatusTracker(LedgerStatusStore(ledger))
    tracker.track(SendResult("m", "SMx", S.QUEUED, provider_status="queued"))
    for status in (S.SENT, S.DELIVERED, S.SENT, S.DELIVERED, S.QUEUED):
        tracker.apply(update("SMx", status))
    history = [(u.status, u.idempotency_key) for u in ledger.status_updates(key)]
    assert history == [("queued", key), ("sent", key), ("delivered", key)]


# -- the connector: receive_message_status through the tracker --------------------------------

class Kestrel:
    """The Kestrel API in memory: sends answer queued, status queries the status set here."""

    def __init__(self) -> None:
        self.statuses: dict[str, str] = {}
        self.requests: list[httpx.Request] = []
        self.counter = itertools.count(1)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "POST":
            sid = f"K{next(self.counter)}"
            self.statuses[sid] = "queued"
            return httpx.Response(201, json={"id": sid, "status": "queued"})
        sid = request.url.path.rsplit("/", 1)[-1]
        if sid not in self.statuses:
            return httpx.Response(404, json={"error": {"code": "nope", "message": "unknown"}})
        return httpx.Response(200, json={"id": sid, "status": self.statuses[sid]})


def kestrel(api: Kestrel, pm: pluggy.PluginManager | None = None) -> KestrelSmsConnector:
    return KestrelSmsConnector(settings={"ApiKey": "key-123456", "MaxRetries": 0},
                               http_transport=httpx.MockTransport(api),
                               plugin_manager=pm or fresh_pm())


def callback(sid: str, status: str) -> MessageSource:
    return MessageSource(json.dumps({"id": sid, "status": status}).encode(),
                         content_type="application/json")


def test_receive_message_status_reports_stale_updates_and_observes_news_once() -> None:
    seen: list[tuple[str, MessageStatus]] = []

    class Observer:
        @hookimpl
        def ratatosk_status_received(self, connector: Any, update: StatusUpdate) -> None:
            seen.append((update.remote_message_id, update.status))

    pm = fresh_pm()
    pm.register(Observer())
    api = Kestrel()
    base = kestrel(api, pm)
    tracker = base.status_tracker = StatusTracker()
    connector = base.blocking()
    sent = connector.send_message(
        MessageBuilder().to_phone("+15550002222").with_text("hi").build()).unwrap()
    assert tracker.status("K1") is S.QUEUED  # the send was tracked

    results = [connector.receive_message_status(callback("K1", s)).unwrap()
               for s in ("delivered", "sent", "delivered", "queued")]
    assert [(r.status, r.is_stale, r.message_status) for r in results] == [
        (S.DELIVERED, False, S.DELIVERED), (S.SENT, True, S.DELIVERED),
        (S.DELIVERED, True, S.DELIVERED), (S.QUEUED, True, S.DELIVERED)]
    assert seen == [(sent.remote_message_id, S.DELIVERED)]  # reported once
    # a re-delivered webhook (flagged by the provider) stays a duplicate and is not applied
    dup = evolve_duplicate(StatusUpdate("K1", S.SENT))
    annotated = tracker.annotate(dup)
    assert annotated.is_duplicate and annotated.is_stale
    assert annotated.message_status is S.DELIVERED


def evolve_duplicate(update: StatusUpdate) -> StatusUpdate:
    return evolve(update, is_duplicate=True)


def test_without_a_tracker_updates_pass_through_unchanged() -> None:
    connector = kestrel(Kestrel()).blocking()
    results = [connector.receive_message_status(callback("K7", s)).unwrap()
               for s in ("delivered", "sent")]
    assert [(r.is_stale, r.message_status) for r in results] == [(False, None), (False, None)]


# -- reconciliation ----------------------------------------------------------------------------

def test_reconcile_queries_messages_whose_callback_never_came() -> None:
    clock = Clock()
    api = Kestrel()
    base = kestrel(api)
    tracker = base.status_tracker = StatusTracker(clock=clock)
    connector = base.blocking()
    message = MessageBuilder().to_phone("+15550002222").with_text("hi").build()
    ids = [connector.send_message(message).unwrap().remote_message_id for _ in range(3)]
    assert ids == ["K1", "K2", "K3"]
    connector.receive_message_status(callback("K3", "delivered"))  # its callback came

    api.statuses.update({"K1": "delivered", "K2": "sent"})
    assert tracker.reconcile_blocking(connector, older_than=60).checked == 0  # too recent
    clock.now += 120
    before = len(api.requests)
    report = tracker.reconcile_blocking(connector, older_than=60)
    assert report.checked == 2 and report.changed == ("K1", "K2") and report.failed == {}
    assert len(api.requests) == before + 2  # K3 is final: not asked about
    assert tracker.status("K1") is S.DELIVERED and tracker.status("K2") is S.SENT
    # an answer that is behind what is known changes nothing
    api.statuses["K2"] = "queued"
    clock.now += 120
    assert tracker.reconcile_blocking(connector, older_than=60).changed == ()
    assert tracker.status("K2") is S.SENT


async def test_reconcile_async_reports_failed_queries() -> None:
    clock = Clock()
    api = Kestrel()
    connector = kestrel(api)
    tracker = connector.status_tracker = StatusTracker(clock=clock)
    tracker.track(SendResult("m", "GONE", S.SENT))
    clock.now += 10
    report = await tracker.reconcile(connector, older_than=1)
    assert report.checked == 1 and report.changed == () and report.failed == {
        "GONE": "MESSAGING_ERROR"}
    with pytest.raises(ValueError):
        tracker.due(-1)


def test_reconcile_skips_connectors_without_status_queries() -> None:
    clock = Clock()
    api = Kestrel()
    connector = KestrelSmsConnector("SimpleSms", {"ApiKey": "key-123456"},
                                    http_transport=httpx.MockTransport(api),
                                    plugin_manager=fresh_pm())
    simple = connector.schema.derive(name="NoQuery").remove_capabilities(
        ratatosk.ChannelCapability.MESSAGE_STATUS_QUERY)
    no_query = KestrelSmsConnector(simple, {"ApiKey": "key-123456"},
                                   http_transport=httpx.MockTransport(api),
                                   plugin_manager=fresh_pm())
    tracker = StatusTracker(clock=clock)
    tracker.track(SendResult("m", "K1", S.SENT))
    clock.now += 10
    assert tracker.reconcile_blocking(no_query.blocking(), older_than=1).checked == 0
    assert api.requests == []


# -- the SQLite store --------------------------------------------------------------------------

def test_the_sqlite_store_keeps_statuses_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "statuses.db"
    clock = Clock()
    store = SqliteStatusStore(path)
    assert isinstance(store, StatusStore) and "statuses.db" in repr(store)
    tracker = StatusTracker(store, clock=clock)
    tracker.track(SendResult("m1", "p1", S.QUEUED, provider_status="0",
                             additional_data={"message_ids": ["p1", "p2"]}),
                  connector="vonage/sms", sender="ACME", recipient="+15550002222")
    tracker.apply(update("p1", S.DELIVERED))
    store.close()

    again = StatusTracker(SqliteStatusStore(path), clock=clock)
    record = again.get("p2")
    assert record is not None and record.remote_message_id == "p1"
    assert record.parts == {"p1": S.DELIVERED, "p2": S.QUEUED}
    assert (record.connector, record.sender, record.recipient, record.message_id) == (
        "vonage/sms", "ACME", "+15550002222", "m1")
    assert record.status is S.QUEUED and record.version == 2
    clock.now += 100
    assert [r.remote_message_id for r in again.due(50)] == ["p1"]
    assert again.apply(update("p2", S.DELIVERED)).changed
    assert again.status("p1") is S.DELIVERED and again.due(0) == []
    assert not again.apply(update("p1", S.SENT)).changed
    with pytest.raises(ValueError):
        SqliteStatusStore(path, prefix="bad name")


def test_two_processes_sharing_a_sqlite_store_never_lose_an_update(tmp_path: Path) -> None:
    """Two store instances (two connections, as two processes would have) apply interleaved
    updates concurrently; compare-and-set keeps the latest status."""
    path = tmp_path / "shared.db"
    trackers = [StatusTracker(SqliteStatusStore(path)) for _ in range(2)]
    order = [S.QUEUED, S.ROUTED, S.SENT, S.DELIVERED, S.READ]
    barrier = threading.Barrier(len(order))

    def run(index: int, status: MessageStatus) -> None:
        barrier.wait()
        for _ in range(20):
            trackers[index % 2].apply(update("SMq", status))

    threads = [threading.Thread(target=run, args=(i, s)) for i, s in enumerate(order)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert trackers[0].status("SMq") is S.READ and trackers[1].status("SMq") is S.READ


def test_a_status_store_that_fails_fails_the_callback() -> None:
    class Broken(InMemoryStatusStore):
        def load(self, remote_id: str) -> TrackedMessage | None:
            raise ConnectionError("store down")

    base = kestrel(Kestrel())
    base.status_tracker = StatusTracker(Broken())
    result = base.blocking().receive_message_status(callback("K1", "delivered"))
    assert result.error is not None
    assert result.error.code == ratatosk.ConnectorErrorCodes.RECEIVE_STATUS_ERROR
    assert "store down" in result.error.message
    # a send is never failed by the tracker: the message went out
    sent = base.blocking().send_message(
        MessageBuilder().to_phone("+15550002222").with_text("hi").build())
    assert sent.is_success


def test_the_new_status_update_fields_serialize() -> None:
    stale = StatusUpdate("SM1", S.SENT, "sent", is_stale=True, message_status=S.DELIVERED)
    data = ratatosk.unstructure(stale)
    assert (data["is_stale"], data["message_status"]) == (True, "delivered")
    assert ratatosk.structure(data, StatusUpdate) == stale
    plain = ratatosk.unstructure(StatusUpdate("SM1", S.SENT))
    assert (plain["is_stale"], plain["message_status"]) == (False, None)
