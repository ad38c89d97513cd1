"""The SQLite ledger (the embedded default): the ledger contract, WAL, durability, versions."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ledger_contract import *  # noqa: F403  (the contract's tests run here, on SQLite)
from ledger_contract import intent

from ratatosk.ledger import Ledger, LedgerError, SqliteLedger


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.sqlite3"


@pytest.fixture
def open_ledger(db_path: Path) -> Any:
    opened: list[SqliteLedger] = []

    def open_(clock: Callable[[], float] | None = None) -> Ledger:
        ledger = SqliteLedger(db_path) if clock is None else SqliteLedger(db_path, clock=clock)
        opened.append(ledger)
        return ledger

    yield open_
    for ledger in opened:
        ledger.close()


@pytest.fixture
def worker_store(db_path: Path) -> list[str]:
    return ["sqlite", str(db_path)]


def test_the_file_is_in_wal_mode_and_versioned(db_path: Path) -> None:
    with SqliteLedger(db_path) as ledger:
        assert isinstance(ledger, Ledger)
        intent(ledger, "k")
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("SELECT version FROM ratatosk_ledger_version").fetchall() == [(1,)]
        assert raw.execute("SELECT state FROM ratatosk_messages").fetchall() == [("pending",)]
    finally:
        raw.close()


def test_an_intent_is_on_disk_before_record_intent_returns(db_path: Path) -> None:
    ledger = SqliteLedger(db_path)
    intent(ledger, "k")
    # read by a separate connection while the ledger stays open (no close, no checkpoint)
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("SELECT idempotency_key, state FROM ratatosk_messages").fetchall() == [
            ("k", "pending")]
    finally:
        raw.close()
        ledger.close()


def test_a_newer_schema_is_refused(db_path: Path) -> None:
    SqliteLedger(db_path).close()
    raw = sqlite3.connect(db_path)
    raw.execute("INSERT INTO ratatosk_ledger_version VALUES (99, 0)")
    raw.commit()
    raw.close()
    with pytest.raises(LedgerError, match="schema version 99"):
        SqliteLedger(db_path)


def test_an_unusable_path_is_a_ledger_error(tmp_path: Path) -> None:
    with pytest.raises(LedgerError):
        SqliteLedger(tmp_path / "missing-dir" / "ledger.sqlite3")
