"""The multi-machine ledger: PostgreSQL through psycopg 3.

Install with ``pip install 'ratatosk-messaging[postgres]'``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ._model import LedgerError
from ._sql import Executor, Result, SqlLedger, iter_statements

if TYPE_CHECKING:
    import psycopg

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {version} (
    version INTEGER PRIMARY KEY,
    applied_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS {messages} (
    idempotency_key TEXT PRIMARY KEY,
    campaign TEXT NOT NULL,
    row_key TEXT NOT NULL,
    recipient TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    message_id TEXT,
    worker TEXT,
    claimed_at DOUBLE PRECISION,
    provider_message_id TEXT,
    error_code TEXT,
    provider_code TEXT,
    segments INTEGER,
    price NUMERIC,
    currency TEXT,
    UNIQUE (campaign, row_key)
);
CREATE INDEX IF NOT EXISTS messages_campaign_state ON {messages} (campaign, state);
CREATE INDEX IF NOT EXISTS messages_provider_id ON {messages} (provider_message_id);
CREATE TABLE IF NOT EXISTS {updates} (
    id BIGSERIAL PRIMARY KEY,
    provider_message_id TEXT NOT NULL,
    status TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    idempotency_key TEXT,
    provider_status TEXT,
    error_code TEXT,
    provider_code TEXT
);
CREATE INDEX IF NOT EXISTS status_updates_provider_id ON {updates} (provider_message_id)
"""


class PostgresLedger(SqlLedger):
    """The ledger in PostgreSQL, shared by the workers of several machines.

    ``conninfo`` is a libpq connection string or URL (``postgresql://user@host/db``). The tables
    live in their own ``schema`` (created on first use, under a transaction-scoped advisory lock
    so concurrent first uses do not collide). One connection is shared by the threads of a
    process; every method is one committed transaction. A claim is one ``UPDATE`` whose
    condition PostgreSQL re-checks after a concurrent update, so exactly one claimer wins.
    """

    _placeholder = "%s"

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str = "ratatosk",
        connect_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not _IDENTIFIER.fullmatch(schema):
            raise ValueError("a ledger schema name is letters, digits and _ (not first), <= 63")
        self.schema = schema
        super().__init__(
            {"schema": f'"{schema}"', "messages": f'"{schema}".messages',
             "updates": f'"{schema}".status_updates', "version": f'"{schema}".ledger_version'},
            clock,
        )
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - the extra is installed in development
            raise LedgerError(
                "PostgresLedger needs psycopg: pip install 'ratatosk-messaging[postgres]'") from exc
        self._psycopg_error: type[Exception] = psycopg.Error
        try:
            self._conn: psycopg.Connection[Any] = psycopg.connect(
                conninfo, autocommit=True, connect_timeout=max(1, int(connect_timeout)))
        except psycopg.Error as exc:
            raise LedgerError(f"cannot connect to the PostgreSQL ledger: {exc}") from exc
        self._migrate()

    def _schema(self) -> list[str]:
        # Concurrent CREATE ... IF NOT EXISTS can still collide in PostgreSQL's catalogs: take a
        # lock that lasts until this transaction ends.
        key = f"ratatosk-ledger:{self.schema}"
        return [f"SELECT pg_advisory_xact_lock(hashtext('{key}'))",
                *iter_statements(_SCHEMA.format(**self._tables))]

    def _price_param(self, price: Decimal | None) -> Any:
        return price

    def _cost(self, run: Executor, campaign: str) -> dict[str, Decimal]:
        rows = run(self._sql(
            "SELECT COALESCE(currency, ''), SUM(price) FROM {messages} "
            "WHERE campaign = ? AND price IS NOT NULL GROUP BY 1"), (campaign,)).rows
        return {currency: Decimal(total) for currency, total in rows}

    @contextmanager
    def _transaction(self, write: bool = True) -> Iterator[Executor]:
        conn = self._conn

        def run(sql: str, params: Sequence[Any] = ()) -> Result:
            cursor = conn.execute(sql, tuple(params))
            rows = cursor.fetchall() if cursor.description is not None else []
            return Result(rows, cursor.rowcount)

        with self._lock:
            try:
                with conn.transaction():
                    yield run
            except LedgerError:
                raise
            except Exception as exc:
                if isinstance(exc, self._psycopg_error):
                    raise LedgerError(f"the PostgreSQL ledger failed: {exc}") from exc
                raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"PostgresLedger(schema={self.schema!r})"
