"""The ledger-backed send (ratatosk.campaign.deliver / deliver_blocking) against the Twilio sandbox
over loopback, with the ledger in SQLite: write-ahead, one send per idempotency key, outcomes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ratatosk import ConnectionSettings, MessageBuilder
from ratatosk.campaign import deliver, deliver_blocking, delivery
from ratatosk.ledger import DeliveryState, SqliteLedger, idempotency_key
from ratatosk_twilio import TwilioChannelSchemas, TwilioSmsConnector
from ratatosk_twilio.sandbox import TwilioSandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[TwilioSandbox]:
    with TwilioSandbox(progression="immediate") as box:
        yield box


def connector_for(box: TwilioSandbox, base_url: str | None = None) -> TwilioSmsConnector:
    settings = (ConnectionSettings()
                .set_parameter("AccountSid", box.account_sid)
                .set_parameter("AuthToken", box.auth_token)
                .set_parameter("BaseUrl", base_url or box.base_url))
    return TwilioSmsConnector(TwilioChannelSchemas.SIMPLE_SMS, settings)


def message(mid: str, to: str = "+15550002222"):  # type: ignore[no-untyped-def]
    return (MessageBuilder().with_id(mid).from_phone("+15550001111").to_phone(to)
            .with_text(f"hello {mid}").build())


def sent_to(box: TwilioSandbox, body: str) -> int:
    return sum(1 for m in box.messages if m.body == body)


def test_blocking_delivery_sends_once_and_records_the_outcome(
        sandbox: TwilioSandbox, tmp_path: Path) -> None:
    ledger = SqliteLedger(tmp_path / "l.db")
    blocking = connector_for(sandbox).blocking()
    first = deliver_blocking(blocking.connector, message("b-1"), ledger=ledger, campaign="c1")
    again = deliver_blocking(blocking.connector, message("b-1"), ledger=ledger, campaign="c1")
    blocking.shutdown()
    assert first.sent_now and first.state is DeliveryState.SENT
    assert first.result is not None and first.result.is_success
    assert not again.sent_now and again.state is DeliveryState.SENT and again.result is None
    assert sent_to(sandbox, "hello b-1") == 1
    entry = ledger.get(idempotency_key("c1", "b-1"))
    assert entry is not None and entry.state is DeliveryState.SENT
    assert entry.provider_message_id == first.result.data.remote_message_id  # type: ignore[union-attr]
    assert entry.segments == 1
    ledger.close()


async def test_async_delivery_redelivered_sends_once(
        sandbox: TwilioSandbox, tmp_path: Path) -> None:
    ledger = SqliteLedger(tmp_path / "l.db")
    connector = connector_for(sandbox)
    outcomes = [await deliver(connector, message("a-1"), ledger=ledger, campaign="c2",
                              row_key="row-7") for _ in range(3)]
    await connector.shutdown()
    assert [o.sent_now for o in outcomes] == [True, False, False]
    assert sent_to(sandbox, "hello a-1") == 1
    assert ledger.summary("c2").count(DeliveryState.SENT) == 1
    ledger.close()


async def test_a_refused_message_is_failed_and_sent_again_later(
        sandbox: TwilioSandbox, tmp_path: Path) -> None:
    ledger = SqliteLedger(tmp_path / "l.db")
    connector = connector_for(sandbox)
    bad = message("f-1", to="+15005550001")  # Twilio's magic "invalid number"
    first = await deliver(connector, bad, ledger=ledger, campaign="c3")
    assert first.state is DeliveryState.FAILED and first.sent_now
    assert first.entry is not None and first.entry.error_code
    second = await deliver(connector, bad, ledger=ledger, campaign="c3")
    assert second.sent_now  # failed is safe to send again
    await connector.shutdown()
    ledger.close()


async def test_no_answer_after_the_request_left_is_outcome_unknown(tmp_path: Path) -> None:
    import asyncio

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)  # read the request, then drop the connection: no answer
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with TwilioSandbox() as box:
        connector = connector_for(box, base_url=f"http://127.0.0.1:{port}")
        ledger = SqliteLedger(tmp_path / "l.db")
        done = await deliver(connector, message("u-1"), ledger=ledger, campaign="c4")
        assert done.state is DeliveryState.OUTCOME_UNKNOWN and done.outcome_unknown
        again = await deliver(connector, message("u-1"), ledger=ledger, campaign="c4")
        assert not again.sent_now and again.state is DeliveryState.OUTCOME_UNKNOWN
        await connector.shutdown()
        ledger.close()
    server.close()


def test_closing_the_generator_after_the_request_left_records_outcome_unknown(
        sandbox: TwilioSandbox, tmp_path: Path) -> None:
    from ratatosk.transports import HttpRequest

    ledger = SqliteLedger(tmp_path / "l.db")
    connector = connector_for(sandbox)
    steps = delivery(connector, message("x-1"), ledger=ledger, campaign="c5")
    effect = next(steps)
    while not isinstance(effect, HttpRequest):
        effect = steps.send(None)
    steps.close()  # the task was cancelled while the request was on the wire
    entry = ledger.get(idempotency_key("c5", "x-1"))
    assert entry is not None and entry.state is DeliveryState.OUTCOME_UNKNOWN
    assert ledger.do_not_resend("c5") == {"x-1"}
    ledger.close()


class KeyedTwilio(TwilioSmsConnector):
    """A connector whose provider takes an idempotency key header on a send."""

    idempotency_key_header = "Idempotency-Key"


def test_the_ledger_key_is_the_request_idempotency_key_where_the_provider_takes_one(
        sandbox: TwilioSandbox, tmp_path: Path) -> None:
    from ratatosk.testing import RecordingTransport

    recorder = RecordingTransport.create()
    settings = (ConnectionSettings()
                .set_parameter("AccountSid", sandbox.account_sid)
                .set_parameter("AuthToken", sandbox.auth_token)
                .set_parameter("BaseUrl", sandbox.base_url))
    keyed = KeyedTwilio(TwilioChannelSchemas.SIMPLE_SMS, settings, http_transport=recorder)
    plain = TwilioSmsConnector(TwilioChannelSchemas.SIMPLE_SMS, settings,
                               http_transport=recorder)
    with SqliteLedger(tmp_path / "l.db") as ledger:
        done = deliver_blocking(keyed, message("k-1"), ledger=ledger, campaign="c6")
        assert done.state is DeliveryState.SENT
        deliver_blocking(plain, message("k-2"), ledger=ledger, campaign="c6")
    keyed.blocking().shutdown()
    plain.blocking().shutdown()
    posts = [r for r in recorder.requests if r.method == "POST"]
    assert [r.headers.get("Idempotency-Key") for r in posts] == [
        idempotency_key("c6", "k-1"), None]
