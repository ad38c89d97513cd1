"""TwilioSmsConnector through httpx.MockTransport: the exact requests sent, local checks before any
request, properties and connection defaults, error mapping, retries, status, cancel, health."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from attrs import define, field

from ratatosk import (
    ChannelCapability,
    ConnectionSettings,
    ConnectorErrorCodes,
    MediaContent,
    MediaType,
    Message,
    MessageBuilder,
    MessageStatus,
    MessagingErrorCodes,
    MultipartContent,
    TextContent,
)
from ratatosk_twilio import (
    TwilioChannelSchemas,
    TwilioErrorCodes,
    TwilioMessageBuilder,
    TwilioSmsConnector,
)
from ratatosk_twilio._connector import build_api_root

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "f00dbabe" * 4
MG = "MG" + "a1" * 16
SID = "SM" + "b2" * 16
MMS_SID = "MM" + "c3" * 16
API = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}"

Handler = Callable[[httpx.Request], httpx.Response]


def message_json(sid: str = SID, status: str = "queued", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "sid": sid, "status": status, "account_sid": ACCOUNT, "to": "+15550002222",
        "from": "+15550001111", "num_segments": "1", "num_media": "0",
        "direction": "outbound-api", "date_created": "Thu, 30 Jul 2015 20:12:31 +0000",
        "date_sent": None, "date_updated": "Thu, 30 Jul 2015 20:12:33 +0000",
        "price": None, "price_unit": "USD", "error_code": None, "error_message": None,
        "messaging_service_sid": None, "api_version": "2010-04-01",
    }
    data.update(extra)
    return data


def twilio_error(code: int, status: int = 400, message: str = "bad") -> httpx.Response:
    return httpx.Response(status, json={
        "code": code, "message": message, "status": status,
        "more_info": f"https://www.twilio.com/docs/errors/{code}"})


@define
class FakeTwilio:
    """A scripted Twilio API: queued responses first, then sensible defaults."""

    queue: list[httpx.Response | Handler] = field(factory=list)
    requests: list[httpx.Request] = field(factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.queue:
            item = self.queue.pop(0)
            return item(request) if callable(item) else item
        path = request.url.path
        if request.method == "POST" and path.endswith("/Messages.json"):
            return httpx.Response(201, json=message_json())
        if request.method == "GET" and "/Messages/" in path:
            return httpx.Response(200, json=message_json(path.rsplit("/", 1)[1][:-5],
                                                         "delivered"))
        if request.method == "GET" and path.endswith(f"/Accounts/{ACCOUNT}.json"):
            return httpx.Response(200, json={"sid": ACCOUNT, "status": "active",
                                             "type": "Full", "friendly_name": "Test"})
        return twilio_error(20404, 404, "not found")

    def form(self, index: int = -1) -> list[tuple[str, str]]:
        return parse_qsl(self.requests[index].content.decode(), keep_blank_values=True)

    def fields(self, index: int = -1) -> dict[str, str]:
        return dict(self.form(index))


def settings(**extra: Any) -> ConnectionSettings:
    s = ConnectionSettings().set_parameter("AccountSid", ACCOUNT).set_parameter("AuthToken", TOKEN)
    for name, value in extra.items():
        s.set_parameter(name, value)
    return s


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)

    def blocking(self, seconds: float) -> None:
        self.calls.append(seconds)


def connector(
    fake: FakeTwilio, schema: Any = None, *, sleeps: Sleeps | None = None, **extra: Any
) -> TwilioSmsConnector:
    c = TwilioSmsConnector(schema, settings(**extra), http_transport=httpx.MockTransport(fake))
    sleeps = sleeps or Sleeps()
    c.configure_timing(sleep=sleeps, blocking_sleep=sleeps.blocking, random=lambda: 1.0)
    return c


def sms(text: str | None = "Hello", *, to: str = "+15550002222",
        sender: str | None = "+15550001111", **props: Any) -> Message:
    builder = MessageBuilder().with_id("m-1").to_phone(to)
    if sender is not None:
        builder.from_phone(sender)
    if text is not None:
        builder.with_text(text)
    for name, value in props.items():
        builder.with_property(name, value)
    return builder.build()


# -- requests -------------------------------------------------------------------------------


async def test_text_message_sends_exact_form_fields() -> None:
    fake = FakeTwilio()
    result = await connector(fake).send_message(sms("Hello from Twilio SMS"))
    assert result.is_success, result.error
    assert result.data is not None
    assert result.data.message_id == "m-1"
    assert result.data.remote_message_id == SID
    assert result.data.status is MessageStatus.QUEUED
    assert result.data.provider_status == "queued"
    assert result.data.additional_data["num_segments"] == "1"
    request = fake.requests[0]
    assert request.method == "POST"
    assert str(request.url) == f"{API}/Messages.json"
    assert fake.form() == [("To", "+15550002222"), ("From", "+15550001111"),
                           ("Body", "Hello from Twilio SMS")]
    expected = base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["accept"] == "application/json"


def test_blocking_twin_sends_the_same_request() -> None:
    fake = FakeTwilio()
    with connector(fake).blocking() as blocking:
        result = blocking.send_message(sms("Hi there & welcome"))
    assert result.is_success
    assert fake.form() == [("To", "+15550002222"), ("From", "+15550001111"),
                           ("Body", "Hi there & welcome")]


async def test_media_only_message_sends_media_url_without_body() -> None:
    fake = FakeTwilio([httpx.Response(201, json=message_json(MMS_SID))])
    message = (MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
               .with_content(MediaContent(MediaType.IMAGE, "photo.jpg",
                                          "https://example.com/photo.jpg")).build())
    result = await connector(fake).send_message(message)
    assert result.is_success and result.data is not None
    assert result.data.remote_message_id == MMS_SID
    assert fake.form() == [("To", "+15550002222"), ("From", "+15550001111"),
                           ("MediaUrl", "https://example.com/photo.jpg")]


async def test_text_and_several_media_keep_their_order() -> None:
    fake = FakeTwilio()
    message = (MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
               .with_text("Look").with_media("https://example.com/a.png")
               .with_media("http://example.com/b.gif").build())
    assert (await connector(fake).send_message(message)).is_success
    assert fake.form() == [("To", "+15550002222"), ("From", "+15550001111"), ("Body", "Look"),
                           ("MediaUrl", "https://example.com/a.png"),
                           ("MediaUrl", "http://example.com/b.gif")]


def _with_media(count: int) -> Message:
    builder = MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
    for i in range(count):
        builder.with_media(f"https://example.com/{i}.png")
    return builder.build()


async def test_ten_media_are_sent_eleven_are_refused_before_any_request() -> None:
    fake = FakeTwilio()
    c = connector(fake)
    assert (await c.send_message(_with_media(10))).is_success
    assert [v for k, v in fake.form() if k == "MediaUrl"] == [
        f"https://example.com/{i}.png" for i in range(10)]
    result = await c.send_message(_with_media(11))
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.INVALID_MESSAGE
    assert result.error.domain == MessagingErrorCodes.DOMAIN
    assert len(fake.requests) == 1


@pytest.mark.parametrize("media", [
    MediaContent(MediaType.IMAGE, "a.png", "ftp://example.com/a.png"),
    MediaContent(MediaType.IMAGE, "a.png", "example.com/a.png"),
    MediaContent(MediaType.IMAGE, "a.png", data=b"\x89PNG"),
])
async def test_media_must_be_an_http_url(media: MediaContent) -> None:
    fake = FakeTwilio()
    message = (MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
               .with_content(MultipartContent((TextContent("x"), media))).build())
    result = await connector(fake).send_message(message)
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.INVALID_MESSAGE
    assert result.error.issues[0].field == "media[0]"
    assert fake.requests == []


async def test_body_over_1600_characters_is_too_large() -> None:
    fake = FakeTwilio()
    c = connector(fake)
    assert (await c.send_message(sms("é" * 1600))).is_success
    assert fake.fields()["Body"] == "é" * 1600
    result = await c.send_message(sms("x" * 1601))
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.MESSAGE_TOO_LARGE
    assert "1601" in result.error.message
    assert len(fake.requests) == 1


async def test_messaging_service_wins_over_from() -> None:
    fake = FakeTwilio()
    c = connector(fake, MessagingServiceSid=MG)
    assert (await c.send_message(sms("Hi"))).is_success
    assert fake.form() == [("To", "+15550002222"), ("Body", "Hi"), ("MessagingServiceSid", MG)]
    assert (await c.send_message(sms("Hi", sender=None))).is_success
    assert fake.fields() == {"To": "+15550002222", "Body": "Hi", "MessagingServiceSid": MG}


async def test_no_sender_and_no_messaging_service_is_missing_from_number() -> None:
    fake = FakeTwilio()
    result = await connector(fake).send_message(sms("Hi", sender=None))
    assert result.error is not None
    assert result.error.code == TwilioErrorCodes.MISSING_FROM_NUMBER
    assert result.error.domain == "Twilio"
    assert fake.requests == []


@pytest.mark.parametrize("to", ["5550002222", "whatsapp:+15550002222"])
async def test_recipient_must_be_e164(to: str) -> None:
    fake = FakeTwilio()
    result = await connector(fake).send_message(sms(to=to))
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.INVALID_RECIPIENT
    assert result.error.issues[0].field == "receiver"
    assert fake.requests == []


@pytest.mark.parametrize("to", ["+0155500", "+1555000222233334444", "+1 555 000 2222", "+1234"])
async def test_a_malformed_e164_recipient_fails_the_schemas_phone_rule(to: str) -> None:
    fake = FakeTwilio()
    result = await connector(fake).send_message(sms(to=to))
    assert result.error is not None
    assert result.error.code == "MESSAGE_VALIDATION_FAILED"
    assert (result.error.issues[0].field, result.error.issues[0].code) == ("receiver", "format")
    assert result.error.issues[0].field == "receiver"
    assert fake.requests == []


@pytest.mark.parametrize("sender", ["12-34", "My!Brand", "ABCDEFGHIJKL", "12"])
async def test_sender_format_is_checked(sender: str) -> None:
    fake = FakeTwilio()
    result = await connector(fake).send_message(sms(sender=sender))
    assert result.error is not None
    assert result.error.code == TwilioErrorCodes.INVALID_SENDER
    assert result.error.domain == "Twilio"
    assert fake.requests == []


@pytest.mark.parametrize("sender", ["+15550001111", "12345", "MyBrand", "Shop 24"])
async def test_short_codes_and_alphanumeric_senders_are_accepted(sender: str) -> None:
    fake = FakeTwilio()
    assert (await connector(fake).send_message(sms(sender=sender))).is_success
    assert fake.fields()["From"] == sender


async def test_every_local_problem_is_reported_at_once() -> None:
    fake = FakeTwilio()
    result = await connector(fake).send_message(sms("x" * 1601, to="12", sender="12-34"))
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.INVALID_RECIPIENT  # the first one found
    assert [i.field for i in result.error.issues] == ["receiver", "sender", "content"]
    assert fake.requests == []


# -- properties -------------------------------------------------------------------------------

SEND_AT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("ValidityPeriod", 300, {"ValidityPeriod": "300"}),
    ("ValidityPeriod", "45", {"ValidityPeriod": "45"}),
    ("MaxPrice", Decimal("0.01"), {"MaxPrice": "0.01"}),
    ("MaxPrice", 0.5, {"MaxPrice": "0.5"}),
    ("SmartEncoded", True, {"SmartEncoded": "true"}),
    ("SmartEncoded", "false", {"SmartEncoded": "false"}),
    ("Attempt", 2, {"Attempt": "2"}),
    ("ShortenUrls", True, {"ShortenUrls": "true", "MessagingServiceSid": MG}),
    ("SendAt", SEND_AT, {"SendAt": "2030-01-02T01:04:05Z", "ScheduleType": "fixed",
                         "MessagingServiceSid": MG}),
    ("SendAt", "2030-01-02T01:04:05Z", {"SendAt": "2030-01-02T01:04:05Z",
                                        "ScheduleType": "fixed", "MessagingServiceSid": MG}),
    ("ContentRetention", "discard", {"ContentRetention": "discard"}),
    ("AddressRetention", "obfuscate", {"AddressRetention": "obfuscate"}),
    ("RiskCheck", "disable", {"RiskCheck": "disable"}),
    ("SendAsMms", True, {"SendAsMms": "true"}),
    ("StatusCallback", "https://example.com/cb", {"StatusCallback": "https://example.com/cb"}),
    ("ProvideCallback", False, {}),
])
async def test_each_property_becomes_its_form_field(
    name: str, value: Any, expected: dict[str, str]
) -> None:
    fake = FakeTwilio()
    extra: dict[str, Any] = (
        {"MessagingServiceSid": MG} if "MessagingServiceSid" in expected else {})
    result = await connector(fake, **extra).send_message(sms("Hi", **{name: value}))
    assert result.is_success, result.error
    fields = fake.fields()
    base = {"To": "+15550002222", "Body": "Hi"}
    if not extra:
        base["From"] = "+15550001111"
    assert fields == {**base, **expected}


async def test_connection_defaults_are_sent_and_a_message_overrides_them() -> None:
    fake = FakeTwilio()
    c = connector(fake, ValidityPeriod="600", MaxPrice="0.25", SmartEncoded="true",
                  StatusCallback="https://example.com/status")
    assert (await c.send_message(sms("Hi"))).is_success
    assert fake.fields() == {
        "To": "+15550002222", "From": "+15550001111", "Body": "Hi", "ValidityPeriod": "600",
        "MaxPrice": "0.25", "SmartEncoded": "true", "StatusCallback": "https://example.com/status"}
    message = (TwilioMessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
               .with_text("Time-sensitive message").with_validity_period(300)
               .with_max_price(0.01).with_smart_encoded(False).build())
    assert (await c.send_message(message)).is_success
    assert fake.fields() == {
        "To": "+15550002222", "From": "+15550001111", "Body": "Time-sensitive message",
        "ValidityPeriod": "300", "MaxPrice": "0.01", "SmartEncoded": "false",
        "StatusCallback": "https://example.com/status"}


async def test_no_defaults_no_extra_fields() -> None:
    fake = FakeTwilio()
    assert (await connector(fake).send_message(sms("Hi", Attempt=1))).is_success
    assert set(fake.fields()) == {"To", "From", "Body", "Attempt"}


async def test_provide_callback_uses_the_status_callback_setting() -> None:
    fake = FakeTwilio()
    c = connector(fake, StatusCallback="https://example.com/status",
                  WebhookUrl="https://example.com/hook")
    assert (await c.send_message(sms(ProvideCallback=True))).is_success
    assert fake.fields()["StatusCallback"] == "https://example.com/status"
    assert (await c.send_message(sms(ProvideCallback=True,
                                     StatusCallback="https://example.com/own"))).is_success
    assert fake.fields()["StatusCallback"] == "https://example.com/own"
    assert (await c.send_message(sms(ProvideCallback=False))).is_success
    assert "StatusCallback" not in fake.fields()


async def test_provide_callback_falls_back_to_the_webhook_url() -> None:
    fake = FakeTwilio()
    c = connector(fake, WebhookUrl="https://example.com/hook")
    assert (await c.send_message(sms("Hi"))).is_success
    assert "StatusCallback" not in fake.fields()
    assert (await c.send_message(sms("Hi", ProvideCallback=True))).is_success
    assert fake.fields()["StatusCallback"] == "https://example.com/hook"


@pytest.mark.parametrize(("extra", "props", "field_name"), [
    ({}, {"ProvideCallback": True}, "properties.ProvideCallback"),
    ({}, {"ProvideCallback": False, "StatusCallback": "https://e.com/x"},
     "properties.ProvideCallback"),
    ({}, {"SendAt": "2030-01-01T00:00:00Z"}, "properties.SendAt"),
    ({"MessagingServiceSid": MG}, {"ScheduleType": "fixed"}, "properties.ScheduleType"),
    ({"MessagingServiceSid": MG}, {"SendAt": datetime(2030, 1, 1)}, "properties.SendAt"),
    ({}, {"ShortenUrls": True}, "properties.ShortenUrls"),
])
async def test_property_combinations_twilio_refuses_are_invalid_message(
    extra: dict[str, Any], props: dict[str, Any], field_name: str
) -> None:
    fake = FakeTwilio()
    result = await connector(fake, **extra).send_message(sms("Hi", **props))
    assert result.error is not None
    assert result.error.code == TwilioErrorCodes.INVALID_MESSAGE
    assert result.error.domain == "Twilio"
    assert field_name in [i.field for i in result.error.issues]
    assert fake.requests == []


@pytest.mark.parametrize("props", [
    {"Colour": "blue"},
    {"ValidityPeriod": 0},
    {"ValidityPeriod": 36001},
    {"RiskCheck": "maybe"},
    {"MaxPrice": "cheap"},
    {"PersistentAction": "mailto:x@example.com"},  # WhatsApp only
])
async def test_schema_validation_runs_before_any_request(props: dict[str, Any]) -> None:
    fake = FakeTwilio()
    result = await connector(fake).send_message(sms("Hi", **props))
    assert result.error is not None
    assert result.error.code == ConnectorErrorCodes.MESSAGE_VALIDATION_FAILED
    assert result.error.issues
    assert fake.requests == []


# -- Twilio API errors ------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "status", "expected"), [
    (21211, 400, MessagingErrorCodes.INVALID_RECIPIENT),
    (21610, 400, MessagingErrorCodes.RECIPIENT_OPTED_OUT),
    (21612, 400, MessagingErrorCodes.INVALID_RECIPIENT),
    (21614, 400, MessagingErrorCodes.INVALID_SENDER),
    (21408, 400, MessagingErrorCodes.INVALID_SENDER),
    (21212, 400, MessagingErrorCodes.INVALID_SENDER),
    (21606, 400, MessagingErrorCodes.INVALID_SENDER),
    (20001, 400, MessagingErrorCodes.INVALID_MESSAGE),
    (21603, 400, MessagingErrorCodes.MISSING_SENDER),
    (21617, 400, MessagingErrorCodes.MESSAGE_TOO_LARGE),
    (20003, 401, MessagingErrorCodes.INVALID_CREDENTIALS),
    (21611, 400, MessagingErrorCodes.SEND_MESSAGE_FAILED),
    (30007, 400, MessagingErrorCodes.SEND_MESSAGE_FAILED),
])
async def test_twilio_error_codes_are_mapped(code: int, status: int, expected: str) -> None:
    fake = FakeTwilio([twilio_error(code, status, f"Twilio says {code}")])
    result = await connector(fake).send_message(sms())
    error = result.error
    assert error is not None
    assert (error.domain, error.code) == (MessagingErrorCodes.DOMAIN, expected)
    assert error.provider_code == str(code)
    assert error.details["twilio_message"] == f"Twilio says {code}"
    assert error.details["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert error.details["http_status"] == status
    assert not error.retryable and not error.outcome_unknown
    assert len(fake.requests) == 1


async def test_http_401_without_a_body_is_invalid_credentials() -> None:
    fake = FakeTwilio([httpx.Response(401, text="Unauthorized")])
    result = await connector(fake).send_message(sms())
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.INVALID_CREDENTIALS
    assert result.error.provider_code is None
    assert TOKEN not in str(result.error)


async def test_rate_limited_is_retried_honouring_retry_after() -> None:
    limited = httpx.Response(429, headers={"Retry-After": "7"}, json={
        "code": 20429, "message": "Too Many Requests", "status": 429})
    fake = FakeTwilio([limited])
    sleeps = Sleeps()
    result = await connector(fake, sleeps=sleeps).send_message(sms())
    assert result.is_success
    assert len(fake.requests) == 2
    assert sleeps.calls == [7.7]  # Retry-After 7 plus its jitter (random() is 1.0 here)


def test_rate_limited_after_the_last_attempt_says_so() -> None:
    limited = httpx.Response(429, headers={"Retry-After": "2"}, json={"code": 20429})
    fake = FakeTwilio([limited, limited])
    sleeps = Sleeps()
    result = connector(fake, sleeps=sleeps, MaxRetries="1").blocking().send_message(sms())
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.RATE_LIMITED
    assert result.error.retryable and result.error.retry_after == 2.0
    assert result.error.details["attempts"] == 2
    assert sleeps.calls == [2.5]  # Retry-After 2 plus its jitter (up to RetryBaseDelay 0.5)
    assert len(fake.requests) == 2


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_server_error_on_create_is_outcome_unknown_and_not_retried(status: int) -> None:
    fake = FakeTwilio([httpx.Response(status, json={"code": 20500, "message": "oops"})])
    result = await connector(fake).send_message(sms())
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.SEND_MESSAGE_FAILED
    assert result.error.outcome_unknown and not result.error.retryable
    assert len(fake.requests) == 1


async def test_created_without_a_sid_is_outcome_unknown() -> None:
    fake = FakeTwilio([httpx.Response(201, text="<html>proxy</html>")])
    result = await connector(fake).send_message(sms())
    assert result.error is not None
    assert result.error.outcome_unknown
    assert len(fake.requests) == 1


async def test_read_timeout_on_create_is_timeout_and_never_resent() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    fake = FakeTwilio([timeout])
    result = await connector(fake).send_message(sms())
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.TIMEOUT
    assert result.error.outcome_unknown
    assert len(fake.requests) == 1


def test_connection_refused_is_connection_failed_and_retried() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    fake = FakeTwilio([refused, refused])
    c = connector(fake, MaxRetries="1")
    result = c.blocking().send_message(sms())
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.CONNECTION_FAILED
    assert not result.error.outcome_unknown
    assert len(fake.requests) == 2
    fake.queue.append(refused)
    assert c.blocking().send_message(sms()).is_success  # refused once, then sent


# -- status, cancel, health -------------------------------------------------------------------


async def test_status_query_parses_price_segments_dates_and_error() -> None:
    body = message_json(status="undelivered", price="-0.00750", num_segments="2",
                        error_code=30007, error_message="Carrier violation",
                        date_sent="Fri, 24 May 2019 17:18:28 +0000")
    fake = FakeTwilio([httpx.Response(200, json=body)])
    result = await connector(fake).get_message_status(SID)
    assert result.is_success and result.data is not None
    update = result.data
    assert str(fake.requests[0].url) == f"{API}/Messages/{SID}.json"
    assert fake.requests[0].method == "GET"
    assert update.remote_message_id == SID
    assert update.status is MessageStatus.DELIVERY_FAILED
    assert update.provider_status == "undelivered"
    assert update.price == Decimal("-0.00750") and update.price_unit == "USD"
    assert update.segments == 2
    assert update.date_sent == datetime(2019, 5, 24, 17, 18, 28, tzinfo=timezone.utc)
    assert update.date_created == datetime(2015, 7, 30, 20, 12, 31, tzinfo=timezone.utc)
    assert update.error is not None and update.error.provider_code == "30007"


@pytest.mark.parametrize("remote_id", ["SM123", "XX" + "b2" * 16, f"{SID}/../x"])
async def test_status_query_checks_the_sid_first(remote_id: str) -> None:
    fake = FakeTwilio()
    result = await connector(fake).get_message_status(remote_id)
    assert result.error is not None
    assert result.error.code == TwilioErrorCodes.STATUS_QUERY_FAILED
    assert result.error.domain == "Twilio"
    assert fake.requests == []


async def test_status_query_failures() -> None:
    fake = FakeTwilio([twilio_error(20404, 404, "not found"), httpx.Response(200, text="nope")])
    c = connector(fake)
    missing = await c.get_message_status(SID)
    assert missing.error is not None
    assert missing.error.code == TwilioErrorCodes.STATUS_QUERY_FAILED
    assert missing.error.provider_code == "20404"
    garbled = await c.get_message_status(SID)
    assert garbled.error is not None and garbled.error.code == TwilioErrorCodes.STATUS_QUERY_FAILED


async def test_status_query_is_retried_after_a_server_error() -> None:
    fake = FakeTwilio([httpx.Response(503, json={"code": 20503})])
    result = await connector(fake).get_message_status(SID)
    assert result.is_success
    assert len(fake.requests) == 2


async def test_cancel_posts_status_canceled() -> None:
    fake = FakeTwilio([httpx.Response(200, json=message_json(status="canceled"))])
    result = await connector(fake).cancel_message(SID)
    assert result.is_success and result.data is not None
    assert result.data.status is MessageStatus.CANCELED
    request = fake.requests[0]
    assert (request.method, str(request.url)) == ("POST", f"{API}/Messages/{SID}.json")
    assert fake.form() == [("Status", "canceled")]


def test_cancel_blocking_and_its_failures() -> None:
    fake = FakeTwilio([httpx.Response(200, json=message_json(status="canceled")),
                       twilio_error(30409, 400, "This message cannot be canceled")])
    blocking = connector(fake).blocking()
    assert blocking.cancel_message(SID).is_success
    refused = blocking.cancel_message(SID)
    assert refused.error is not None
    assert refused.error.code == MessagingErrorCodes.MESSAGING_ERROR
    assert refused.error.provider_code == "30409"
    bad = blocking.cancel_message("not-a-sid")
    assert bad.error is not None and bad.error.code == MessagingErrorCodes.MESSAGING_ERROR
    assert len(fake.requests) == 2


def test_cancel_needs_send_messages() -> None:
    schema = TwilioChannelSchemas.SIMPLE_SMS.remove_capabilities(ChannelCapability.SEND_MESSAGES)
    fake = FakeTwilio()
    result = connector(fake, schema).blocking().cancel_message(SID)
    assert result.error is not None
    assert result.error.code == ConnectorErrorCodes.CAPABILITY_NOT_SUPPORTED
    assert fake.requests == []


async def test_test_connection_fetches_the_account() -> None:
    fake = FakeTwilio()
    result = await connector(fake).test_connection()
    assert result.is_success and result.data is not None
    assert result.data.is_healthy
    assert result.data.details["account_status"] == "active"
    assert str(fake.requests[0].url) == f"{API}.json"
    assert fake.requests[0].method == "GET"


async def test_health_reports_a_suspended_account_and_failures() -> None:
    fake = FakeTwilio([
        httpx.Response(200, json={"sid": ACCOUNT, "status": "suspended"}),
        twilio_error(20003, 401, "Authenticate"),
        twilio_error(20404, 404, "The requested resource was not found"),
        httpx.Response(200, text="not json"),
    ])
    c = connector(fake)
    suspended = await c.test_connection()
    assert suspended.data is not None and not suspended.data.is_healthy
    assert "suspended" in suspended.data.issues[0]
    denied = await c.test_connection()
    assert denied.error is not None
    assert (denied.error.domain, denied.error.code) == (
        "connector", ConnectorErrorCodes.AUTHENTICATION_FAILED)
    missing = await c.get_health()
    assert missing.data is not None and not missing.data.is_healthy
    assert missing.data.details["error_code"] == TwilioErrorCodes.STATUS_ERROR
    garbled = await c.test_connection()
    assert garbled.error is not None
    assert (garbled.error.domain, garbled.error.code) == ("Twilio", TwilioErrorCodes.STATUS_ERROR)


# -- settings -------------------------------------------------------------------------------


async def test_api_key_pair_authenticates_and_the_account_names_the_url() -> None:
    fake = FakeTwilio()
    key, secret = "SK" + "d4" * 16, "keysecret-123"
    s = (ConnectionSettings().set_parameter("AccountSid", ACCOUNT)
         .set_parameter("ApiKeySid", key).set_parameter("ApiKeySecret", secret))
    c = TwilioSmsConnector(None, s, http_transport=httpx.MockTransport(fake))
    assert (await c.send_message(sms())).is_success
    request = fake.requests[0]
    assert str(request.url) == f"{API}/Messages.json"
    expected = base64.b64encode(f"{key}:{secret}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"


@pytest.mark.parametrize(("extra", "code", "fields"), [
    ({"AuthToken": None}, MessagingErrorCodes.MISSING_CREDENTIALS, ["AuthToken"]),
    ({"ApiKeySid": "SK" + "d4" * 16}, TwilioErrorCodes.INVALID_CONNECTION_SETTINGS,
     ["ApiKeySecret"]),
    # no credential set is complete: the schema (authentication_required) reports it up front
    ({"AuthToken": None, "ApiKeySecret": "s3cr3t-value"},
     MessagingErrorCodes.MISSING_CREDENTIALS, ["ApiKeySid"]),
    ({"Region": "ie1", "BaseUrl": "http://127.0.0.1:9"},
     TwilioErrorCodes.INVALID_CONNECTION_SETTINGS, ["BaseUrl"]),
    ({"AccountSid": "SK" + "d4" * 16}, MessagingErrorCodes.INVALID_CONFIGURATION,
     ["AccountSid"]),
    ({"ValidityPeriod": "0", "Colour": "red"}, MessagingErrorCodes.INVALID_CONFIGURATION,
     ["ValidityPeriod", "Colour"]),
])
def test_settings_problems(extra: dict[str, Any], code: str, fields: list[str]) -> None:
    s = settings()
    for name, value in extra.items():
        if value is None:
            s.remove_parameter(name)
        else:
            s.set_parameter(name, value)
    fake = FakeTwilio()
    c = TwilioSmsConnector(None, s, http_transport=httpx.MockTransport(fake))
    result = c.blocking().initialize()
    assert result.error is not None
    assert result.error.code == code
    assert sorted(i.field for i in result.error.issues) == sorted(fields)
    for secret in (TOKEN, "s3cr3t-value"):
        assert secret not in str(result.error) and secret not in repr(result.error)
    assert c.blocking().send_message(sms()).error == result.error
    assert fake.requests == []


@pytest.mark.parametrize(("base", "region", "edge", "root"), [
    (None, None, None, "https://api.twilio.com"),
    ("http://127.0.0.1:8080/", None, None, "http://127.0.0.1:8080"),
    (None, "ie1", "dublin", "https://api.dublin.ie1.twilio.com"),
    (None, "au1", None, "https://api.au1.twilio.com"),
    (None, None, "sydney", "https://api.sydney.us1.twilio.com"),
])
def test_api_root(base: str | None, region: str | None, edge: str | None, root: str) -> None:
    assert build_api_root(base, region, edge) == root


async def test_region_and_edge_choose_the_host() -> None:
    fake = FakeTwilio()
    c = connector(fake, Region="ie1", Edge="dublin")
    assert (await c.send_message(sms())).is_success
    assert str(fake.requests[0].url) == (
        f"https://api.dublin.ie1.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json")


async def test_secrets_stay_out_of_reprs() -> None:
    fake = FakeTwilio()
    c = connector(fake)
    await c.initialize()
    request = c._prepare(sms())
    credentials = base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    for text in (repr(c), repr(c.blocking()), repr(c.settings), str(c.settings), repr(request),
                 repr((await c.get_status()).data)):
        assert TOKEN not in text and credentials not in text


# -- estimate -------------------------------------------------------------------------------


def test_estimate_segments_before_sending() -> None:
    fake = FakeTwilio()
    c = connector(fake)
    one = c.estimate(sms("a" * 160))
    assert one.data is not None and (one.data.encoding, one.data.segments) == ("GSM-7", 1)
    two = c.blocking().estimate(sms("a" * 161))
    assert two.data is not None and two.data.segments == 2
    curly = "\u201cquoted\u201d " * 10
    plain = c.estimate(sms(curly))
    smart = c.estimate(sms(curly, SmartEncoded=True))
    assert plain.data is not None and plain.data.encoding == "UCS-2"
    assert smart.data is not None and smart.data.encoding == "GSM-7"
    defaulted = connector(fake, SmartEncoded="true").estimate(sms(curly))
    assert defaulted.data is not None and defaulted.data.encoding == "GSM-7"
    media_only = c.estimate(_with_media(1))
    assert media_only.error is not None
    assert media_only.error.code == MessagingErrorCodes.UNSUPPORTED_CONTENT_TYPE
    assert fake.requests == []


def test_form_values_are_url_encoded() -> None:
    fake = FakeTwilio()
    text = "a=b&c=d +100% ünïcödé 👍"
    assert connector(fake).blocking().send_message(sms(text)).is_success
    assert fake.fields()["Body"] == text


async def test_a_flexible_schema_passes_undeclared_properties_on() -> None:
    fake = FakeTwilio()
    flexible = TwilioChannelSchemas.TWILIO_SMS.derive(name="Flexible", strict=False)
    c = connector(fake, flexible)
    result = await c.send_message(sms("Hi", Tags={"campaign": "spring"}, TrafficType="free"))
    assert result.is_success, result.error
    fields = fake.fields()
    assert json.loads(fields["Tags"]) == {"campaign": "spring"}
    assert fields["TrafficType"] == "free"


def test_estimate_refuses_a_non_boolean_smart_encoded() -> None:
    result = connector(FakeTwilio()).estimate(sms("Hi", SmartEncoded="maybe"))
    assert result.error is not None
    assert result.error.code == TwilioErrorCodes.INVALID_MESSAGE
