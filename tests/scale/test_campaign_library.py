"""ratatosk.campaign.run_campaign and reconcile_unknown against the Twilio sandbox over loopback,
with the ledger in the real PostgreSQL (a schema per test): two runners on one campaign send each
row once, a rerun resumes, stop/abort, and the reconciliation by status query."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from ratatosk import ConnectionSettings, MessageBuilder
from ratatosk.campaign import CampaignControl, CampaignRow, reconcile_unknown, run_campaign
from ratatosk.ledger import DeliveryState, PostgresLedger, idempotency_key
from ratatosk_twilio import TwilioChannelSchemas, TwilioSmsConnector
from ratatosk_twilio.sandbox import TwilioSandbox

pytestmark = pytest.mark.postgres

POSTGRES = os.environ.get("RATATOSK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def schema() -> Iterator[str]:
    import psycopg

    name = f"rtk_campaign_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def connector_for(box: TwilioSandbox) -> TwilioSmsConnector:
    settings = (ConnectionSettings()
                .set_parameter("AccountSid", box.account_sid)
                .set_parameter("AuthToken", box.auth_token)
                .set_parameter("BaseUrl", box.base_url))
    return TwilioSmsConnector(TwilioChannelSchemas.SIMPLE_SMS, settings)


def rows(n: int) -> list[CampaignRow]:
    return [CampaignRow(MessageBuilder().with_id("same-id").from_phone("+15550001111")
                        .to_phone(f"+1555030{i:04d}").with_text(f"hi {i}").build(),
                        row_key=str(i + 1)) for i in range(n)]


async def test_two_runners_on_one_campaign_send_each_row_once(schema: str) -> None:
    with TwilioSandbox(latency=0.05) as box:
        ledgers = [PostgresLedger(POSTGRES, schema=schema) for _ in range(2)]
        connectors = [connector_for(box) for _ in range(2)]

        async def runner(i: int) -> list[Any]:
            return [r async for r in run_campaign(connectors[i], rows(30), ledger=ledgers[i],
                                                  name="twin", concurrency=4,
                                                  worker=f"runner-{i}")]

        first, second = await asyncio.gather(runner(0), runner(1))
        assert len(first) == len(second) == 30
        sent_now = [r for r in (*first, *second) if r.delivery.sent_now]
        assert len(sent_now) == 30
        counts = Counter(m.to for m in box.messages)
        assert len(counts) == 30 and set(counts.values()) == {1}
        # a rerun resumes: nothing left to send
        again = [r async for r in run_campaign(connectors[0], rows(30), ledger=ledgers[0],
                                               name="twin")]
        assert all(r.skipped and r.delivery.state is DeliveryState.SENT for r in again)
        assert len(box.messages) == 30
        for c in connectors:
            await c.shutdown()
        for ledger in ledgers:
            ledger.close()


async def test_stop_takes_no_new_rows_and_abort_records_in_flight_as_unknown(
        schema: str) -> None:
    with TwilioSandbox(latency=1.0) as box, PostgresLedger(POSTGRES, schema=schema) as ledger:
        connector = connector_for(box)
        control = CampaignControl()
        results = []
        async for result in run_campaign(connector, rows(20), ledger=ledger, name="stop",
                                         concurrency=3, control=control):
            results.append(result)
            control.stop()  # after the first result: the sends in flight finish, no new ones
        taken = len(results)  # the slow start sent one row alone: it may be all there was
        assert 1 <= taken <= 6 and all(r.delivery.state is DeliveryState.SENT for r in results)
        assert len(box.messages) == taken

        control = CampaignControl()

        async def abort_soon() -> None:
            while len(box.messages) < taken + 3:
                await asyncio.sleep(0.01)
            control.abort()

        task = asyncio.ensure_future(abort_soon())
        cut = [r async for r in run_campaign(connector, rows(20), ledger=ledger, name="stop",
                                             concurrency=3, control=control)]
        await task
        assert sum(r.skipped for r in cut) == taken
        interrupted = [r for r in cut if r.interrupted]
        sent_now = [r for r in cut if r.delivery.sent_now]
        assert interrupted  # the abort cut the sends in flight short...
        assert all(r.delivery.state is DeliveryState.OUTCOME_UNKNOWN for r in interrupted)
        assert ledger.summary("stop").count(DeliveryState.OUTCOME_UNKNOWN) == len(interrupted)
        # ...and every request that reached the provider is accounted for, once
        assert len(box.messages) == taken + len(sent_now) + len(interrupted)
        assert len(cut) == taken + len(sent_now) + len(interrupted)
        await connector.shutdown()


async def test_reconcile_unknown_asks_the_provider_first(schema: str) -> None:
    with TwilioSandbox() as box, PostgresLedger(POSTGRES, schema=schema) as ledger:
        connector = connector_for(box)
        done = [r async for r in run_campaign(connector, rows(3), ledger=ledger, name="rec")]
        assert len(done) == 3 and len(box.messages) == 3
        known = ledger.get(idempotency_key("rec", "1"))
        assert known is not None and known.provider_message_id
        # make row 1 unknown though the provider has it, row 2 unknown with an id it does not
        # know, row 3 unknown with no id at all (no answer ever came back)
        for row in ("1", "2", "3"):
            assert ledger.claim(idempotency_key("rec", row), "w") is False  # sent: not claimable
        with ledger._transaction() as run:  # test set-up: rewrite the states directly
            for row, pid in (("1", known.provider_message_id), ("2", "SM" + "0" * 32),
                             ("3", None)):
                run(ledger._sql("UPDATE {messages} SET state = ?, provider_message_id = ? "
                                "WHERE idempotency_key = ?"),
                    ("outcome_unknown", pid, idempotency_key("rec", row)))
        again = await reconcile_unknown(connector, ledger, "rec")
        assert sorted(e.row_key for e in again) == ["2", "3"]
        state = {row: ledger.get(idempotency_key("rec", row)).state  # type: ignore[union-attr]
                 for row in ("1", "2", "3")}
        assert state == {"1": DeliveryState.SENT, "2": DeliveryState.FAILED,
                         "3": DeliveryState.FAILED}
        rerun = [r async for r in run_campaign(connector, rows(3), ledger=ledger, name="rec")]
        assert sorted(r.row.key for r in rerun if r.delivery.sent_now) == ["2", "3"]
        assert len(box.messages) == 5
        await connector.shutdown()
