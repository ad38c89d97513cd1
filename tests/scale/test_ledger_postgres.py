"""The PostgreSQL ledger against the real server on 127.0.0.1:5432 (database ``test``).

Each test gets its own schema (dropped afterwards). If PostgreSQL does not answer, these tests
fail: CI starts the server (.ci/run), so a missing server is an error, never a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from ledger_contract import *  # noqa: F403  (the contract's tests run here, on PostgreSQL)
from ledger_contract import intent

from ratatosk.ledger import Ledger, LedgerError, PostgresLedger

pytestmark = pytest.mark.postgres

CONNINFO = os.environ.get("RATATOSK_TEST_POSTGRES",
                          "postgresql://postgres@127.0.0.1:5432/test?connect_timeout=10")


@pytest.fixture
def schema() -> Iterator[str]:
    import psycopg

    name = f"rtk_test_{uuid.uuid4().hex[:16]}"
    yield name
    with psycopg.connect(CONNINFO, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def open_ledger(schema: str) -> Iterator[Any]:
    opened: list[PostgresLedger] = []

    def open_(clock: Callable[[], float] | None = None) -> Ledger:
        ledger = (PostgresLedger(CONNINFO, schema=schema) if clock is None
                  else PostgresLedger(CONNINFO, schema=schema, clock=clock))
        opened.append(ledger)
        return ledger

    yield open_
    for ledger in opened:
        ledger.close()


@pytest.fixture
def worker_store(schema: str) -> list[str]:
    return ["postgres", CONNINFO, schema]


def test_the_server_answers() -> None:
    import psycopg

    with psycopg.connect(CONNINFO) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_the_tables_live_in_their_own_versioned_schema(schema: str) -> None:
    import psycopg

    with PostgresLedger(CONNINFO, schema=schema) as ledger:
        assert isinstance(ledger, Ledger)
        intent(ledger, "k")
    with psycopg.connect(CONNINFO) as conn:
        tables = {row[0] for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,))}
        assert tables == {"messages", "status_updates", "ledger_version"}
        assert conn.execute(f'SELECT version FROM "{schema}".ledger_version').fetchall() == [(1,)]
        assert conn.execute(f'SELECT state FROM "{schema}".messages').fetchall() == [
            ("pending",)]


def test_a_newer_schema_is_refused(schema: str) -> None:
    import psycopg

    PostgresLedger(CONNINFO, schema=schema).close()
    with psycopg.connect(CONNINFO, autocommit=True) as conn:
        conn.execute(f'INSERT INTO "{schema}".ledger_version VALUES (99, 0)')
    with pytest.raises(LedgerError, match="schema version 99"):
        PostgresLedger(CONNINFO, schema=schema)


def test_a_bad_schema_name_is_refused() -> None:
    with pytest.raises(ValueError):
        PostgresLedger(CONNINFO, schema='x"; DROP TABLE y; --')


def test_a_server_that_does_not_answer_is_a_ledger_error() -> None:
    with pytest.raises(LedgerError, match="cannot connect"):
        PostgresLedger("postgresql://postgres@127.0.0.1:9/test", connect_timeout=2)
