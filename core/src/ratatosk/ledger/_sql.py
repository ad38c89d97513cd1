"""The SQL both ledgers share; each store only says how to connect, commit and spell types.

Statements are written with ``?`` placeholders and ``{messages}``, ``{updates}`` and ``{version}``
table names; a store substitutes its own placeholder and (schema-qualified) names. Times are
stored as seconds since the epoch (UTC), prices as exact decimals.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from ._model import (
    CampaignSummary,
    DeliveryState,
    LedgerEntry,
    LedgerError,
    LedgerStatusUpdate,
)

SCHEMA_VERSION = 1
"""The version of the tables this code reads and writes (kept in the version table)."""

_L = TypeVar("_L", bound="SqlLedger")

_COLUMNS = (
    "idempotency_key, campaign, row_key, recipient, state, created_at, updated_at, message_id, "
    "worker, claimed_at, provider_message_id, error_code, provider_code, segments, price, currency"
)
_UPDATE_COLUMNS = (
    "provider_message_id, status, received_at, idempotency_key, provider_status, error_code, "
    "provider_code"
)
_RESENDABLE = (DeliveryState.PENDING.value, DeliveryState.FAILED.value)
_OPEN = (DeliveryState.PENDING.value, DeliveryState.OUTCOME_UNKNOWN.value)


class Rows(Protocol):
    """What one statement returned."""

    rows: list[tuple[Any, ...]]
    rowcount: int


class Executor(Protocol):
    """Runs one statement inside the current transaction."""

    def __call__(self, sql: str, params: Sequence[Any] = ()) -> Rows: ...


class Result:
    """The rows and row count of one statement (what an :class:`Executor` returns)."""

    __slots__ = ("rowcount", "rows")

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount


def _when(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=timezone.utc)


def _epoch(value: datetime) -> float:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


class SqlLedger(ABC):
    """The ledger's logic over a SQL store (subclassed by the SQLite and PostgreSQL ledgers)."""

    _placeholder = "?"

    def __init__(self, tables: dict[str, str], clock: Callable[[], float] = time.time) -> None:
        self._tables = tables
        self._clock = clock
        self._lock = threading.RLock()
        self._sql_cache: dict[str, str] = {}

    # -- what a store provides ---------------------------------------------------------------

    @abstractmethod
    def _transaction(self, write: bool = True) -> AbstractContextManager[Executor]:
        """A transaction that commits on a normal exit (a writing one takes the write lock)."""

    @abstractmethod
    def _schema(self) -> list[str]:
        """The statements that create the tables (all ``IF NOT EXISTS``)."""

    def _price_param(self, price: Decimal | None) -> Any:
        return None if price is None else str(price)

    def _cost(self, run: Executor, campaign: str) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for currency, price in run(
            self._sql("SELECT currency, price FROM {messages} "
                      "WHERE campaign = ? AND price IS NOT NULL"), (campaign,)
        ).rows:
            key = currency or ""
            totals[key] = totals.get(key, Decimal(0)) + Decimal(str(price))
        return totals

    # -- shared ------------------------------------------------------------------------------

    def _sql(self, sql: str) -> str:
        cached = self._sql_cache.get(sql)
        if cached is None:
            cached = sql.format(**self._tables)
            if self._placeholder != "?":
                cached = cached.replace("?", self._placeholder)
            self._sql_cache[sql] = cached
        return cached

    def _migrate(self) -> None:
        """Create the tables on first use and check the stored schema version."""
        with self._transaction() as run:
            for statement in self._schema():
                run(statement)
            rows = run(self._sql("SELECT MAX(version) FROM {version}")).rows
            stored = rows[0][0] if rows else None
            if stored is None:
                run(self._sql("INSERT INTO {version} (version, applied_at) VALUES (?, ?)"),
                    (SCHEMA_VERSION, self._clock()))
            elif int(stored) > SCHEMA_VERSION:
                raise LedgerError(
                    f"the ledger's tables are at schema version {stored}, newer than this "
                    f"ratatosk understands ({SCHEMA_VERSION}); upgrade ratatosk")

    def _entry(self, row: Sequence[Any]) -> LedgerEntry:
        (key, campaign, row_key, recipient, state, created, updated, message_id, worker, claimed,
         provider_id, error_code, provider_code, segments, price, currency) = row
        return LedgerEntry(
            idempotency_key=key, campaign=campaign, row_key=row_key, recipient=recipient,
            state=DeliveryState(state), created_at=_when(created),  # type: ignore[arg-type]
            updated_at=_when(updated),  # type: ignore[arg-type]
            message_id=message_id, worker=worker, claimed_at=_when(claimed),
            provider_message_id=provider_id, error_code=error_code, provider_code=provider_code,
            segments=None if segments is None else int(segments),
            price=None if price is None else Decimal(str(price)), currency=currency,
        )

    def record_intent(
        self,
        *,
        campaign: str,
        row_key: str,
        recipient: str,
        idempotency_key: str,
        message_id: str | None = None,
    ) -> LedgerEntry:
        now = self._clock()
        with self._transaction() as run:
            run(self._sql(
                "INSERT INTO {messages} (idempotency_key, campaign, row_key, recipient, state, "
                "created_at, updated_at, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING"),
                (idempotency_key, campaign, row_key, recipient, DeliveryState.PENDING.value, now,
                 now, message_id))
            rows = run(self._sql(f"SELECT {_COLUMNS} FROM {{messages}} WHERE idempotency_key = ?"),
                       (idempotency_key,)).rows
            if rows:
                return self._entry(rows[0])
        raise LedgerError(
            f"row {row_key!r} of campaign {campaign!r} is already recorded under another "
            "idempotency key")

    def claim(self, idempotency_key: str, worker: str) -> bool:
        now = self._clock()
        with self._transaction() as run:
            done = run(self._sql(
                "UPDATE {messages} SET state = ?, worker = ?, claimed_at = ?, updated_at = ? "
                "WHERE idempotency_key = ? AND ((state = ? AND worker IS NULL) OR state = ?)"),
                (DeliveryState.PENDING.value, worker, now, now, idempotency_key, *_RESENDABLE))
        return done.rowcount == 1

    def release(self, idempotency_key: str, worker: str) -> bool:
        now = self._clock()
        with self._transaction() as run:
            done = run(self._sql(
                "UPDATE {messages} SET worker = NULL, claimed_at = NULL, updated_at = ? "
                "WHERE idempotency_key = ? AND worker = ? AND state = ?"),
                (now, idempotency_key, worker, DeliveryState.PENDING.value))
        return done.rowcount == 1

    def record_outcome(
        self,
        idempotency_key: str,
        state: DeliveryState,
        *,
        provider_message_id: str | None = None,
        error_code: str | None = None,
        provider_code: str | None = None,
        segments: int | None = None,
        price: Decimal | None = None,
        currency: str | None = None,
    ) -> bool:
        state = DeliveryState(state)
        if state is DeliveryState.PENDING:
            raise ValueError("an outcome is sent, failed, outcome_unknown or suppressed")
        now = self._clock()
        with self._transaction() as run:
            done = run(self._sql(
                "UPDATE {messages} SET state = ?, updated_at = ?, "
                "provider_message_id = COALESCE(?, provider_message_id), error_code = ?, "
                "provider_code = ?, segments = COALESCE(?, segments), "
                "price = COALESCE(?, price), currency = COALESCE(?, currency) "
                "WHERE idempotency_key = ? AND state IN (?, ?)"),
                (state.value, now, provider_message_id, error_code, provider_code, segments,
                 self._price_param(price), currency, idempotency_key, *_OPEN))
        return done.rowcount == 1

    def record_status(
        self,
        provider_message_id: str,
        status: str,
        *,
        provider_status: str | None = None,
        error_code: str | None = None,
        provider_code: str | None = None,
        received_at: datetime | None = None,
    ) -> None:
        when = self._clock() if received_at is None else _epoch(received_at)
        status = str(getattr(status, "value", status))
        with self._transaction() as run:
            run(self._sql(
                f"INSERT INTO {{updates}} ({_UPDATE_COLUMNS}) VALUES (?, ?, ?, "
                "(SELECT idempotency_key FROM {messages} WHERE provider_message_id = ? LIMIT 1), "
                "?, ?, ?)"),
                (provider_message_id, status, when, provider_message_id, provider_status,
                 error_code, provider_code))

    def expire_claims(self, older_than: float, campaign: str | None = None) -> int:
        now = self._clock()
        sql = ("UPDATE {messages} SET state = ?, updated_at = ? "
               "WHERE state = ? AND worker IS NOT NULL AND claimed_at <= ?")
        params: list[Any] = [DeliveryState.OUTCOME_UNKNOWN.value, now,
                             DeliveryState.PENDING.value, now - older_than]
        if campaign is not None:
            sql += " AND campaign = ?"
            params.append(campaign)
        with self._transaction() as run:
            return run(self._sql(sql), params).rowcount

    def get(self, idempotency_key: str) -> LedgerEntry | None:
        with self._transaction(write=False) as run:
            rows = run(self._sql(f"SELECT {_COLUMNS} FROM {{messages}} WHERE idempotency_key = ?"),
                       (idempotency_key,)).rows
        return self._entry(rows[0]) if rows else None

    def entries(self, campaign: str) -> list[LedgerEntry]:
        with self._transaction(write=False) as run:
            rows = run(self._sql(f"SELECT {_COLUMNS} FROM {{messages}} WHERE campaign = ? "
                                 "ORDER BY created_at, row_key"), (campaign,)).rows
        return [self._entry(row) for row in rows]

    def do_not_resend(self, campaign: str) -> set[str]:
        with self._transaction(write=False) as run:
            rows = run(self._sql(
                "SELECT row_key FROM {messages} WHERE campaign = ? AND "
                "(state IN (?, ?) OR (state = ? AND worker IS NOT NULL))"),
                (campaign, DeliveryState.SENT.value, DeliveryState.OUTCOME_UNKNOWN.value,
                 DeliveryState.PENDING.value)).rows
        return {row[0] for row in rows}

    def status_updates(self, idempotency_key: str) -> list[LedgerStatusUpdate]:
        with self._transaction(write=False) as run:
            rows = run(self._sql(
                f"SELECT {_UPDATE_COLUMNS} FROM {{updates}} WHERE provider_message_id IN "
                "(SELECT provider_message_id FROM {messages} WHERE idempotency_key = ?) "
                "ORDER BY received_at, id"), (idempotency_key,)).rows
        return [
            LedgerStatusUpdate(
                provider_message_id=pid, status=status,
                received_at=_when(at),  # type: ignore[arg-type]
                idempotency_key=idempotency_key if key is None else key,
                provider_status=provider_status, error_code=error_code,
                provider_code=provider_code)
            for pid, status, at, key, provider_status, error_code, provider_code in rows
        ]

    def summary(self, campaign: str) -> CampaignSummary:
        with self._transaction(write=False) as run:
            rows = run(self._sql(
                "SELECT state, COUNT(*), COALESCE(SUM(segments), 0) FROM {messages} "
                "WHERE campaign = ? GROUP BY state"), (campaign,)).rows
            cost = self._cost(run, campaign)
        counts = {DeliveryState(state): int(n) for state, n, _ in rows}
        segments = sum(int(s) for _, _, s in rows)
        return CampaignSummary(campaign=campaign, counts=counts, segments=segments, cost=cost)

    def __enter__(self: _L) -> _L:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def close(self) -> None:
        """Close the store's connection(s)."""


def iter_statements(script: str) -> Iterator[str]:
    """The statements of a ``;``-separated DDL script (no ``;`` inside a statement)."""
    for statement in script.split(";"):
        if statement.strip():
            yield statement.strip()

