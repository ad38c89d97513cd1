"""End to end over loopback HTTP against the Twilio sandbox: the seed's examples, Twilio's magic
test numbers, status queries, cancelling a scheduled message, rate limiting with Retry-After,
API keys, DSNs and health — async and blocking."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

import ratatosk
from ratatosk import (
    ConnectionSettings,
    ConnectorErrorCodes,
    MediaContent,
    MediaType,
    MessageBuilder,
    MessageStatus,
    MessagingErrorCodes,
)
from ratatosk.testing import RecordingTransport
from ratatosk_twilio import (
    TwilioChannelSchemas,
    TwilioMessageBuilder,
    TwilioSmsConnector,
    TwilioWhatsAppConnector,
)
from ratatosk_twilio.sandbox import TwilioSandbox

pytestmark = pytest.mark.slow

MG = "MG" + "a1" * 16
CONTENT = "HX" + "e5" * 16


@pytest.fixture(scope="module")
def sandbox() -> Iterator[TwilioSandbox]:
    with TwilioSandbox(progression="immediate") as sb:
        yield sb


def sandbox_settings(sb: TwilioSandbox, **extra: Any) -> ConnectionSettings:
    settings = (ConnectionSettings()
                .set_parameter("AccountSid", sb.account_sid)
                .set_parameter("AuthToken", sb.auth_token)
                .set_parameter("BaseUrl", sb.base_url))
    for name, value in extra.items():
        settings.set_parameter(name, value)
    return settings


# -- the seed's three send examples ---------------------------------------------------------


async def test_seed_examples(sandbox: TwilioSandbox) -> None:
    # Text SMS, as on the seed page (plus BaseUrl: the sandbox instead of api.twilio.com)
    settings = (ConnectionSettings()
                .set_parameter("AccountSid", sandbox.account_sid)
                .set_parameter("AuthToken", sandbox.auth_token)
                .set_parameter("BaseUrl", sandbox.base_url))
    connector = TwilioSmsConnector(TwilioChannelSchemas.SIMPLE_SMS, settings)
    await connector.initialize()
    message = (MessageBuilder()
               .with_id("sms-1")
               .from_phone("+15550001111")
               .to_phone("+15550002222")
               .with_text("Hello from Twilio SMS")
               .build())
    result = await connector.send_message(message)
    assert result.is_success, result.error
    assert result.data is not None
    assert result.data.remote_message_id and result.data.remote_message_id.startswith("SM")
    assert result.data.status is MessageStatus.QUEUED
    stored = sandbox.get_message(result.data.remote_message_id)
    assert stored is not None and stored.body == "Hello from Twilio SMS"

    # SMS with media (MMS): media needs the full TWILIO_SMS schema (SimpleSms is text only)
    mms_connector = TwilioSmsConnector(TwilioChannelSchemas.TWILIO_SMS, settings)
    message = (MessageBuilder()
               .with_id("mms-1")
               .from_phone("+15550001111")
               .to_phone("+15550002222")
               .with_content(MediaContent(MediaType.IMAGE, "photo.jpg",
                                          "https://example.com/photo.jpg"))
               .build())
    result = await mms_connector.send_message(message)
    assert result.is_success, result.error
    assert result.data is not None and result.data.remote_message_id
    assert result.data.status is MessageStatus.QUEUED
    stored = sandbox.get_message(result.data.remote_message_id)
    assert stored is not None and stored.media_urls == ["https://example.com/photo.jpg"]

    # SMS with custom validity
    message = (TwilioMessageBuilder()
               .from_phone("+15550001111")
               .to_phone("+15550002222")
               .with_text("Time-sensitive message")
               .with_validity_period(300)  # 5 minutes
               .with_max_price(0.01)  # $0.01 max
               .build())
    result = await connector.send_message(message)
    assert result.is_success, result.error
    assert result.data is not None and result.data.remote_message_id
    assert result.data.status is MessageStatus.QUEUED
    stored = sandbox.get_message(result.data.remote_message_id)
    assert stored is not None
    assert ("ValidityPeriod", "300") in stored.params and ("MaxPrice", "0.01") in stored.params
    await connector.shutdown()
    await mms_connector.shutdown()


# -- Twilio's magic test numbers ------------------------------------------------------------


@pytest.mark.parametrize(("to", "sender", "code", "twilio_code"), [
    ("+15005550001", "+15005550006", MessagingErrorCodes.INVALID_RECIPIENT, "21211"),
    ("+15005550002", "+15005550006", MessagingErrorCodes.INVALID_RECIPIENT, "21612"),
    ("+15005550003", "+15005550006", MessagingErrorCodes.INVALID_SENDER, "21408"),
    ("+15005550004", "+15005550006", MessagingErrorCodes.RECIPIENT_OPTED_OUT, "21610"),
    ("+15005550009", "+15005550006", MessagingErrorCodes.INVALID_SENDER, "21614"),
    ("+15550002222", "+15005550001", MessagingErrorCodes.INVALID_SENDER, "21212"),
    ("+15550002222", "+15005550007", MessagingErrorCodes.INVALID_SENDER, "21606"),
    ("+15550002222", "+15005550008", MessagingErrorCodes.SEND_MESSAGE_FAILED, "21611"),
])
def test_magic_numbers_map_to_framework_codes(
    sandbox: TwilioSandbox, to: str, sender: str, code: str, twilio_code: str
) -> None:
    with TwilioSmsConnector(None, sandbox_settings(sandbox)).blocking() as connector:
        message = MessageBuilder().from_phone(sender).to_phone(to).with_text("magic").build()
        result = connector.send_message(message)
    assert result.error is not None
    assert result.error.code == code
    assert result.error.provider_code == twilio_code
    assert result.error.details["more_info"].endswith(twilio_code)
    assert not result.error.retryable


async def test_magic_number_async_and_the_passing_sender(sandbox: TwilioSandbox) -> None:
    async with TwilioSmsConnector(None, sandbox_settings(sandbox)) as connector:
        bad = await connector.send_message(MessageBuilder().from_phone("+15005550006")
                                           .to_phone("+15005550001").with_text("x").build())
        good = await connector.send_message(MessageBuilder().from_phone("+15005550006")
                                            .to_phone("+15550002222").with_text("x").build())
    assert bad.error is not None and bad.error.provider_code == "21211"
    assert good.is_success


# -- status, cancel, health -----------------------------------------------------------------


async def test_status_query_async_and_blocking(sandbox: TwilioSandbox) -> None:
    connector = TwilioSmsConnector(None, sandbox_settings(sandbox))
    sent = await connector.send_message(MessageBuilder().from_phone("+15550001111")
                                        .to_phone("+15550002222").with_text("status?").build())
    assert sent.data is not None and sent.data.remote_message_id
    sid = sent.data.remote_message_id
    for result in (await connector.get_message_status(sid),
                   connector.blocking().get_message_status(sid)):
        assert result.is_success and result.data is not None
        assert result.data.status is MessageStatus.DELIVERED
        assert result.data.segments == 1
        assert isinstance(result.data.price, Decimal)
        assert result.data.date_created is not None and result.data.date_created.tzinfo
    missing = await connector.get_message_status("SM" + "0" * 32)
    assert missing.error is not None
    assert missing.error.code == "STATUS_QUERY_FAILED" and missing.error.provider_code == "20404"
    await connector.shutdown()
    connector.blocking().shutdown()


def test_cancel_a_scheduled_message(sandbox: TwilioSandbox) -> None:
    when = datetime.now(timezone.utc) + timedelta(hours=2)
    with TwilioSmsConnector(None, sandbox_settings(
            sandbox, MessagingServiceSid=MG)).blocking() as connector:
        sent = connector.send_message(MessageBuilder().to_phone("+15550002222")
                                      .with_text("later").with_send_at(when).build())
        assert sent.is_success and sent.data is not None
        assert sent.data.status is MessageStatus.SCHEDULED
        sid = sent.data.remote_message_id
        assert sid is not None
        canceled = connector.cancel_message(sid)
        assert canceled.is_success and canceled.data is not None
        assert canceled.data.status is MessageStatus.CANCELED
        again = connector.cancel_message(sid)
        assert again.error is not None
        assert again.error.code == MessagingErrorCodes.MESSAGING_ERROR
        assert again.error.provider_code is not None
    stored = sandbox.get_message(sid)
    assert stored is not None and stored.status == "canceled"
    assert ("ScheduleType", "fixed") in stored.params


async def test_cancel_async(sandbox: TwilioSandbox) -> None:
    when = datetime.now(timezone.utc) + timedelta(days=1)
    async with TwilioWhatsAppConnector(None, sandbox_settings(
            sandbox, MessagingServiceSid=MG)) as connector:
        sent = await connector.send_message(MessageBuilder().to_phone("+15550002222")
                                            .with_text("later").with_send_at(when).build())
        assert sent.data is not None and sent.data.remote_message_id
        canceled = await connector.cancel_message(sent.data.remote_message_id)
    assert canceled.data is not None and canceled.data.status is MessageStatus.CANCELED


async def test_health_and_bad_credentials(sandbox: TwilioSandbox) -> None:
    good = TwilioSmsConnector(None, sandbox_settings(sandbox))
    health = await good.get_health()
    assert health.data is not None and health.data.is_healthy
    assert good.blocking().test_connection().is_success
    bad = TwilioSmsConnector(None, sandbox_settings(sandbox, AuthToken="wrong-token-9999"))
    result = bad.blocking().send_message(MessageBuilder().from_phone("+15550001111")
                                         .to_phone("+15550002222").with_text("x").build())
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.INVALID_CREDENTIALS
    assert "wrong-token-9999" not in str(result.error)
    unhealthy = await bad.get_health()
    assert unhealthy.data is not None and not unhealthy.data.is_healthy
    assert unhealthy.data.details["error_code"] == ConnectorErrorCodes.AUTHENTICATION_FAILED
    await good.shutdown()
    await bad.shutdown()


def test_connection_refused_is_connection_failed() -> None:
    with TwilioSandbox() as sb:
        settings = sandbox_settings(sb, MaxRetries="1", RetryBaseDelay="0", RetryMaxDelay="0")
    connector = TwilioSmsConnector(None, settings).blocking()
    result = connector.send_message(MessageBuilder().from_phone("+15550001111")
                                    .to_phone("+15550002222").with_text("x").build())
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.CONNECTION_FAILED
    assert result.error.details["attempts"] == 2
    assert not result.error.outcome_unknown
    connector.shutdown()


# -- rate limiting ----------------------------------------------------------------------------


def _batch(count: int) -> list[ratatosk.Message]:
    return [MessageBuilder().with_id(f"b{i}").from_phone("+15550001111").to_phone("+15550002222")
            .with_text(f"message {i}").build() for i in range(count)]


async def test_rate_limited_sends_are_retried_until_they_pass() -> None:
    with TwilioSandbox(max_concurrency=1, latency=0.03) as sb:
        recorder = RecordingTransport.create()
        connector = TwilioSmsConnector(None, sandbox_settings(
            sb, MaxRetries="10", RetryBaseDelay="0.01", RetryMaxDelay="0.05"),
            http_transport=recorder)
        results = [item async for item in connector.send_batch(_batch(5), concurrency=5)]
        assert sorted(r.index for r in results) == list(range(5))
        assert all(r.is_success for r in results), [r.result.error for r in results]
        assert recorder.count > 5  # some were answered 429 and sent again
        assert len(sb.messages) == 5  # and no message went out twice
        blocking = list(connector.blocking().send_batch(_batch(4), concurrency=4))
        assert all(r.is_success for r in blocking)
        assert len(sb.messages) == 9
        await connector.shutdown()
        connector.blocking().shutdown()


async def test_rate_limited_without_retries_reports_retry_after() -> None:
    # four sends at once, not a batch (a batch would slow down and send the throttled again)
    with TwilioSandbox(max_concurrency=1, latency=0.1) as sb:
        connector = TwilioSmsConnector(None, sandbox_settings(sb, MaxRetries="0"))
        results = await asyncio.gather(*(connector.send_message(m) for m in _batch(4)))
        limited = [r.error for r in results if r.error is not None]
        assert limited, "the sandbox let every concurrent send through"
        for error in limited:
            assert error.code == MessagingErrorCodes.RATE_LIMITED
            assert error.provider_code == "20429"
            assert error.retryable and error.retry_after == 1.0
        assert len(sb.messages) == len(results) - len(limited)
        await connector.shutdown()


# -- WhatsApp, API keys, DSNs -----------------------------------------------------------------


def test_whatsapp_text_and_template(sandbox: TwilioSandbox) -> None:
    with TwilioWhatsAppConnector(None, sandbox_settings(sandbox)).blocking() as connector:
        text = connector.send_message(MessageBuilder().from_phone("+15550001111")
                                      .to_phone("+15550002222").with_text("Hola").build())
        template = connector.send_message(MessageBuilder().from_phone("whatsapp:+15550001111")
                                          .to_phone("whatsapp:+15550002222")
                                          .with_template(CONTENT, {"1": "Ada"}).build())
        bad = connector.send_message(MessageBuilder().from_phone("+15550001111")
                                     .to_phone("whatsapp:5550002222").with_text("x").build())
    assert text.data is not None and template.data is not None
    stored = sandbox.get_message(text.data.remote_message_id or "")
    assert stored is not None
    assert (stored.to, stored.from_) == ("whatsapp:+15550002222", "whatsapp:+15550001111")
    stored = sandbox.get_message(template.data.remote_message_id or "")
    assert stored is not None
    assert ("ContentSid", CONTENT) in stored.params
    assert ("ContentVariables", '{"1":"Ada"}') in stored.params
    assert bad.error is not None and bad.error.code == "INVALID_WHATSAPP_NUMBER"


def test_api_key_authentication(sandbox: TwilioSandbox) -> None:
    key, secret = sandbox.create_api_key()
    settings = (ConnectionSettings().set_parameter("AccountSid", sandbox.account_sid)
                .set_parameter("ApiKeySid", key).set_parameter("ApiKeySecret", secret)
                .set_parameter("BaseUrl", sandbox.base_url))
    with TwilioSmsConnector(None, settings).blocking() as connector:
        result = connector.send_message(MessageBuilder().from_phone("+15550001111")
                                        .to_phone("+15550002222").with_text("key").build())
        assert result.is_success, result.error
        assert connector.test_connection().is_success


def test_connect_with_a_dsn(sandbox: TwilioSandbox) -> None:
    host = sandbox.base_url.removeprefix("http://")
    dsn = f"twilio://{sandbox.account_sid}:{sandbox.auth_token}@{host}?MessagingServiceSid={MG}"
    connector = ratatosk.connect(dsn)
    assert isinstance(connector, TwilioSmsConnector)
    with connector.blocking() as blocking:
        result = blocking.send_message(MessageBuilder().to_phone("+15550002222")
                                       .with_text("dsn").build())
        assert result.is_success, result.error
        assert result.data is not None and result.data.status is MessageStatus.QUEUED
    stored = sandbox.get_message(result.data.remote_message_id or "")
    assert stored is not None and stored.messaging_service_sid == MG
    assert sandbox.auth_token not in repr(connector) + str(connector.settings)
