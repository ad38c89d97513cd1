"""The embedded ledger: one SQLite file (standard library) in WAL mode.

Safe to share between the threads of a process and between processes on one machine.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._model import LedgerError
from ._sql import Executor, Result, SqlLedger, iter_statements

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ratatosk_ledger_version (
    version INTEGER PRIMARY KEY,
    applied_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS ratatosk_messages (
    idempotency_key TEXT PRIMARY KEY,
    campaign TEXT NOT NULL,
    row_key TEXT NOT NULL,
    recipient TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    message_id TEXT,
    worker TEXT,
    claimed_at REAL,
    provider_message_id TEXT,
    error_code TEXT,
    provider_code TEXT,
    segments INTEGER,
    price TEXT,
    currency TEXT,
    UNIQUE (campaign, row_key)
);
CREATE INDEX IF NOT EXISTS ratatosk_messages_campaign_state
    ON ratatosk_messages (campaign, state);
CREATE INDEX IF NOT EXISTS ratatosk_messages_provider_id
    ON ratatosk_messages (provider_message_id);
CREATE TABLE IF NOT EXISTS ratatosk_status_updates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider_message_id TEXT NOT NULL,
    status TEXT NOT NULL,
    received_at REAL NOT NULL,
    idempotency_key TEXT,
    provider_status TEXT,
    error_code TEXT,
    provider_code TEXT
);
CREATE INDEX IF NOT EXISTS ratatosk_status_updates_provider_id
    ON ratatosk_status_updates (provider_message_id)
"""


class SqliteLedger(SqlLedger):
    """The embedded ledger in one SQLite file (the default store).

    The file is in WAL mode with ``synchronous=FULL``: a method returns only once its write is
    on disk. One connection is shared by the threads of a process (each call holds a lock);
    several processes may open the same file (writes take SQLite's write lock, waiting up to
    ``busy_timeout`` seconds). The tables are created on first use.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            {"messages": "ratatosk_messages", "updates": "ratatosk_status_updates",
             "version": "ratatosk_ledger_version"},
            clock,
        )
        self.path = Path(path)
        try:
            self._conn = sqlite3.connect(
                str(self.path), timeout=busy_timeout, isolation_level=None,
                check_same_thread=False)
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open the ledger {self.path}: {exc}") from exc
        self._migrate()

    def _schema(self) -> list[str]:
        return list(iter_statements(_SCHEMA))

    @contextmanager
    def _transaction(self, write: bool = True) -> Iterator[Executor]:
        conn = self._conn

        def run(sql: str, params: Sequence[Any] = ()) -> Result:
            cursor = conn.execute(sql, tuple(params))
            rows = cursor.fetchall()
            return Result(rows, cursor.rowcount)

        with self._lock:
            try:
                # IMMEDIATE: take the write lock now, so a read-then-write never has to upgrade
                # (and wait for it, up to busy_timeout). Reads see one snapshot (WAL).
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as exc:
                raise LedgerError(f"the ledger {self.path} is unavailable: {exc}") from exc
            try:
                yield run
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise LedgerError(f"the ledger {self.path} failed: {exc}") from exc
                raise
            else:
                try:
                    conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    raise LedgerError(f"the ledger {self.path} failed: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"SqliteLedger({str(self.path)!r})"
