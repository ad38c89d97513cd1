"""The behaviour every Ledger store must have; test_ledger_sqlite/_postgres run it on each store.

A test module provides two fixtures: ``open_ledger(clock=None)`` opens a *new* connection to the
store under test (each call is like another process or machine), and ``worker_store`` is the
command-line description of that store for ``ledger_worker.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from ratatosk.ledger import (
    SCHEMA_VERSION,
    CampaignSummary,
    DeliveryState,
    Ledger,
    LedgerError,
    idempotency_key,
)

OpenLedger = Callable[..., Ledger]
WORKER = Path(__file__).with_name("ledger_worker.py")


def intent(ledger: Ledger, key: str, row: str | None = None, campaign: str = "spring") -> None:
    ledger.record_intent(campaign=campaign, row_key=row or key, recipient="+15005550006",
                         idempotency_key=key)


def test_an_intent_is_pending_committed_and_recorded_once(open_ledger: OpenLedger) -> None:
    ledger = open_ledger()
    entry = ledger.record_intent(campaign="spring", row_key="7", recipient="+15005550006",
                                 idempotency_key="key-7", message_id="m-7")
    assert entry.state is DeliveryState.PENDING
    assert (entry.campaign, entry.row_key, entry.recipient, entry.message_id) == (
        "spring", "7", "+15005550006", "m-7")
    assert entry.worker is None and entry.provider_message_id is None
    # committed before record_intent returned: another connection sees it at once
    other = open_ledger()
    seen = other.get("key-7")
    assert seen is not None and seen.state is DeliveryState.PENDING
    # recording again returns what is stored, whatever happened since
    assert ledger.claim("key-7", "w1")
    assert ledger.record_outcome("key-7", DeliveryState.SENT, provider_message_id="SM7")
    again = other.record_intent(campaign="spring", row_key="7", recipient="+15005550006",
                                idempotency_key="key-7")
    assert again.state is DeliveryState.SENT and again.created_at == entry.created_at
    assert len(ledger.entries("spring")) == 1
    # the same row of the campaign under another key is a conflict, not a second message
    with pytest.raises(LedgerError):
        ledger.record_intent(campaign="spring", row_key="7", recipient="+15005550006",
                             idempotency_key="key-other")
    assert ledger.get("key-other") is None


def test_the_same_row_key_in_two_campaigns_are_two_messages(open_ledger: OpenLedger) -> None:
    ledger = open_ledger()
    for campaign in ("a", "b"):
        ledger.record_intent(campaign=campaign, row_key="1", recipient="+1",
                             idempotency_key=idempotency_key(campaign, "1"))
    assert [e.campaign for e in ledger.entries("a") + ledger.entries("b")] == ["a", "b"]
    assert idempotency_key("a", "1") == idempotency_key("a", "1") != idempotency_key("a1", "")


def test_a_claim_has_one_winner_and_only_for_a_sendable_message(open_ledger: OpenLedger) -> None:
    ledger = open_ledger()
    assert not ledger.claim("never-recorded", "w1")
    intent(ledger, "k")
    assert ledger.claim("k", "w1")
    assert not ledger.claim("k", "w2")
    assert not ledger.claim("k", "w1")  # not twice either
    entry = ledger.get("k")
    assert entry is not None and entry.worker == "w1" and entry.claimed_at is not None
    # a claim given back before the request left can be taken by another worker
    assert not ledger.release("k", "w2")
    assert ledger.release("k", "w1")
    assert ledger.claim("k", "w2")
    # sent, outcome unknown and suppressed messages are never claimed again
    for key, state in [("s", DeliveryState.SENT), ("u", DeliveryState.OUTCOME_UNKNOWN),
                       ("x", DeliveryState.SUPPRESSED)]:
        intent(ledger, key)
        assert ledger.claim(key, "w1")
        assert ledger.record_outcome(key, state)
        assert not ledger.claim(key, "w2"), state
        assert not ledger.release(key, "w1")
    # a failed one may be sent again: claiming it makes it pending
    intent(ledger, "f")
    assert ledger.claim("f", "w1")
    assert ledger.record_outcome("f", DeliveryState.FAILED, error_code="RATE_LIMITED",
                                 provider_code="20429")
    assert ledger.claim("f", "w2")
    entry = ledger.get("f")
    assert entry is not None and entry.state is DeliveryState.PENDING and entry.worker == "w2"


def test_outcomes_record_the_provider_data_and_never_undo_a_final_one(
    open_ledger: OpenLedger,
) -> None:
    ledger = open_ledger()
    intent(ledger, "k")
    assert ledger.claim("k", "w1")
    with pytest.raises(ValueError):
        ledger.record_outcome("k", DeliveryState.PENDING)
    assert ledger.record_outcome("k", DeliveryState.OUTCOME_UNKNOWN, error_code="TIMEOUT")
    # a reconciliation resolves the unknown outcome
    assert ledger.record_outcome("k", DeliveryState.SENT, provider_message_id="SM1", segments=2,
                                 price=Decimal("-0.0158"), currency="USD")
    entry = ledger.get("k")
    assert entry is not None
    assert (entry.state, entry.provider_message_id, entry.segments, entry.price,
            entry.currency, entry.error_code) == (
        DeliveryState.SENT, "SM1", 2, Decimal("-0.0158"), "USD", None)
    assert entry.updated_at >= entry.created_at
    # sent is final: a late failure report does not overwrite it
    assert not ledger.record_outcome("k", DeliveryState.FAILED, error_code="X")
    assert not ledger.record_outcome("missing", DeliveryState.SENT)
    entry = ledger.get("k")
    assert entry is not None and entry.state is DeliveryState.SENT


def test_a_rerun_skips_sent_unknown_and_in_flight_rows(open_ledger: OpenLedger) -> None:
    ledger = open_ledger()
    outcomes = {"sent": DeliveryState.SENT, "unknown": DeliveryState.OUTCOME_UNKNOWN,
                "failed": DeliveryState.FAILED, "suppressed": DeliveryState.SUPPRESSED}
    for row, state in outcomes.items():
        intent(ledger, f"key-{row}", row)
        assert ledger.claim(f"key-{row}", "w1")
        assert ledger.record_outcome(f"key-{row}", state)
    intent(ledger, "key-in-flight", "in-flight")
    assert ledger.claim("key-in-flight", "w2")
    intent(ledger, "key-not-started", "not-started")
    intent(ledger, "key-other", "sent", campaign="other")
    assert ledger.do_not_resend("spring") == {"sent", "unknown", "in-flight"}
    assert ledger.do_not_resend("other") == set()
    assert ledger.do_not_resend("nothing") == set()


def test_a_summary_counts_states_segments_and_exact_cost(open_ledger: OpenLedger) -> None:
    ledger = open_ledger()
    for i in range(3):
        intent(ledger, f"s{i}")
        assert ledger.claim(f"s{i}", "w")
        assert ledger.record_outcome(f"s{i}", DeliveryState.SENT, provider_message_id=f"SM{i}",
                                     segments=i + 1, price=Decimal("-0.0079"), currency="USD")
    intent(ledger, "eur")
    assert ledger.claim("eur", "w")
    assert ledger.record_outcome("eur", DeliveryState.SENT, segments=1, price=Decimal("0.07"),
                                 currency="EUR")
    intent(ledger, "f")
    assert ledger.claim("f", "w")
    assert ledger.record_outcome("f", DeliveryState.FAILED, error_code="INVALID_RECIPIENT")
    intent(ledger, "p")
    summary = ledger.summary("spring")
    assert isinstance(summary, CampaignSummary)
    assert dict(summary.counts) == {DeliveryState.SENT: 4, DeliveryState.FAILED: 1,
                                    DeliveryState.PENDING: 1}
    assert summary.total == 6 and summary.count(DeliveryState.OUTCOME_UNKNOWN) == 0
    assert summary.segments == 7
    assert dict(summary.cost) == {"USD": Decimal("-0.0237"), "EUR": Decimal("0.07")}
    empty = ledger.summary("none")
    assert (empty.total, empty.segments, dict(empty.cost)) == (0, 0, {})


def test_status_updates_are_appended_in_order(open_ledger: OpenLedger) -> None:
    ledger = open_ledger()
    intent(ledger, "k")
    assert ledger.claim("k", "w")
    assert ledger.record_outcome("k", DeliveryState.SENT, provider_message_id="SM9")
    ledger.record_status("SM9", "sent", provider_status="sent")
    ledger.record_status("SM9", "delivery_failed", provider_status="undelivered",
                         error_code="UNREACHABLE", provider_code="30003")
    ledger.record_status("SM9", "delivery_failed", provider_status="undelivered")  # duplicate kept
    ledger.record_status("SM-unknown", "delivered")
    updates = ledger.status_updates("k")
    assert [(u.status, u.provider_status, u.provider_code) for u in updates] == [
        ("sent", "sent", None), ("delivery_failed", "undelivered", "30003"),
        ("delivery_failed", "undelivered", None)]
    assert {u.idempotency_key for u in updates} == {"k"}
    assert updates[0].received_at <= updates[1].received_at <= updates[2].received_at
    # the message's own state is the send's outcome; statuses never rewrite it
    entry = ledger.get("k")
    assert entry is not None and entry.state is DeliveryState.SENT
    assert ledger.status_updates("missing") == []


def test_claims_held_too_long_become_outcome_unknown(open_ledger: OpenLedger) -> None:
    now = [1_000_000.0]
    ledger = open_ledger(clock=lambda: now[0])
    intent(ledger, "old")
    intent(ledger, "new")
    intent(ledger, "free")
    intent(ledger, "elsewhere", campaign="other")
    assert ledger.claim("old", "dead-worker")
    assert ledger.claim("elsewhere", "dead-worker")
    now[0] += 100
    assert ledger.claim("new", "live-worker")
    now[0] += 10
    assert ledger.expire_claims(60, campaign="spring") == 1
    states = {e.row_key: e.state for e in ledger.entries("spring")}
    assert states == {"old": DeliveryState.OUTCOME_UNKNOWN, "new": DeliveryState.PENDING,
                      "free": DeliveryState.PENDING}
    assert ledger.expire_claims(60) == 1  # every campaign
    assert not ledger.claim("old", "w")


def test_the_schema_is_created_once_and_versioned(open_ledger: OpenLedger) -> None:
    first = open_ledger()
    intent(first, "k")
    second = open_ledger()  # opening again migrates nothing and loses nothing
    assert second.get("k") is not None
    assert SCHEMA_VERSION == 1


def test_threads_sharing_one_ledger_claim_each_key_once(open_ledger: OpenLedger) -> None:
    ledger = open_ledger()
    keys = [f"t{i}" for i in range(60)]
    for key in keys:
        intent(ledger, key)
    won: dict[str, list[str]] = {}
    lock = threading.Lock()

    def worker(name: str) -> None:
        mine = [key for key in keys if ledger.claim(key, name)]
        with lock:
            won[name] = mine

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [key for mine in won.values() for key in mine]
    assert sorted(claimed) == sorted(keys)


_RECORD_THEN_HANG = """
import sys, time
from ratatosk.ledger import PostgresLedger, SqliteLedger
kind, *where = sys.argv[1:]
ledger = SqliteLedger(where[0]) if kind == "sqlite" else PostgresLedger(where[0], schema=where[1])
ledger.record_intent(campaign="spring", row_key="1", recipient="+1", idempotency_key="k1")
assert ledger.claim("k1", "doomed")
print("recorded", flush=True)
time.sleep(60)
"""


@pytest.mark.slow
def test_an_intent_survives_the_process_being_killed_right_after(
    open_ledger: OpenLedger, worker_store: list[str]
) -> None:
    ledger = open_ledger()  # the tables exist before the other process starts
    proc = subprocess.Popen([sys.executable, "-c", _RECORD_THEN_HANG, *worker_store],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "recorded\n", proc.stderr.read() if proc.stderr else ""
    finally:
        proc.kill()  # SIGKILL: no cleanup, no close, no flush
        proc.communicate(timeout=30)
    entry = ledger.get("k1")
    assert entry is not None and entry.state is DeliveryState.PENDING and entry.worker == "doomed"
    assert ledger.do_not_resend("spring") == {"1"}  # it may be on the wire: never sent again


@pytest.mark.slow
def test_two_processes_claiming_the_same_keys_each_key_has_one_winner(
    open_ledger: OpenLedger, worker_store: list[str], tmp_path: Path
) -> None:
    count = 300
    ledger = open_ledger()
    for i in range(count):
        intent(ledger, f"k{i}")
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), f"proc{n}", str(go), str(count), *worker_store],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in range(2)
    ]
    deadline = time.monotonic() + 60
    while not all(Path(f"{go}.proc{n}.ready").exists() for n in range(2)):
        assert time.monotonic() < deadline, "the worker processes did not start"
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.01)
    go.write_text("go")
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    won = [set(json.loads(out)) for out, _ in outputs]
    assert won[0].isdisjoint(won[1])
    assert won[0] | won[1] == {f"k{i}" for i in range(count)}
    # both processes really competed (each won some), and the ledger agrees with them
    assert won[0] and won[1]
    for n, keys in enumerate(won):
        for key in list(keys)[:20]:
            entry = ledger.get(key)
            assert entry is not None and entry.worker == f"proc{n}"
