"""Vonage's error answers map to the standard codes, keep Vonage's code and retry only where safe;
local problems fail validation without a request; the DSN reaches the right connector."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import ratatosk
from ratatosk import (
    ConnectorErrorCodes,
    Message,
    MessageBuilder,
    MessagingErrorCodes,
)
from ratatosk_vonage import (
    VonageMessagesConnector,
    VonageSmsConnector,
)
from ratatosk_vonage._errors import problem_code

KEY = "abcd1234"
SECRET = "s3cr3t-Vonage-42"
SETTINGS = {"ApiKey": KEY, "ApiSecret": SECRET, "MaxRetries": 2}
TEXT = Message.text("hello", to="+447700900000", sender="+447700900001")


class Counter:
    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.count = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        return self.answers[min(self.count, len(self.answers)) - 1]


async def _no_sleep(_seconds: float) -> None:
    return None


def send(cls: type[Any], handler: Counter, message: Message = TEXT,
         **settings: Any) -> Any:
    connector = cls(settings={**SETTINGS, **settings}, http_transport=httpx.MockTransport(handler))
    connector.configure_timing(sleep=_no_sleep, blocking_sleep=lambda _s: None)
    return connector.blocking().send_message(message)


def problem(status: int, code: str, title: str = "Problem", detail: str = "Something",
            headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers, json={
        "type": f"https://developer.vonage.com/api-errors/messages#{code}",
        "title": title, "detail": detail, "instance": "bf0ca0bf-927b-3b52-a5d7-1c0f8c6b2f38"})


# -- Messages API -------------------------------------------------------------------------------


@pytest.mark.parametrize(("type_url", "code"), [
    ("https://developer.vonage.com/api-errors/messages#1120", "1120"),
    ("https://developer.nexmo.com/api-errors/messages-olympus#1000", "1000"),
    ("https://developer.vonage.com/api-errors#unauthorized", "unauthorized"),
    ("https://developer.vonage.com/api-errors/messages/1240", "1240"),
    ("https://developer.vonage.com/api-errors/messages/1240/", "1240"),
    ("", None), (None, None), (42, None),
])
def test_problem_code_is_the_fragment_or_last_segment(type_url: Any, code: str | None) -> None:
    assert problem_code(type_url) == code


@pytest.mark.parametrize(("status", "vonage_code", "expected"), [
    (401, "unauthorized", MessagingErrorCodes.INVALID_CREDENTIALS),
    (402, "1170", MessagingErrorCodes.INSUFFICIENT_FUNDS),
    (422, "1150", MessagingErrorCodes.INVALID_MESSAGE),
    (400, "1000", MessagingErrorCodes.INVALID_MESSAGE),
    (403, "1100", MessagingErrorCodes.SEND_MESSAGE_FAILED),
    (404, "1110", MessagingErrorCodes.SEND_MESSAGE_FAILED),
])
def test_messages_errors_map_to_standard_codes(status: int, vonage_code: str,
                                               expected: Any) -> None:
    handler = Counter(problem(status, vonage_code, "Invalid params", "The value of 'to' is bad"))
    result = send(VonageMessagesConnector, handler)
    error = result.error
    assert error is not None
    assert error.code == expected
    assert error.provider_code == vonage_code
    assert not error.retryable
    assert not error.outcome_unknown
    assert handler.count == 1
    assert error.details["http_status"] == status
    assert error.details["detail"] == "The value of 'to' is bad"
    assert "Invalid params" in error.message


def test_insufficient_funds_is_the_standard_code_and_never_retried() -> None:
    handler = Counter(problem(402, "1170"))
    result = send(VonageMessagesConnector, handler)
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.INSUFFICIENT_FUNDS
    assert result.error.domain == "messaging"
    assert result.error.provider_code == "1170"
    assert not result.error.retryable
    assert handler.count == 1


def test_messages_429_is_retried_after_retry_after() -> None:
    handler = Counter(problem(429, "1010", headers={"Retry-After": "7"}))
    result = send(VonageMessagesConnector, handler)
    error = result.error
    assert error is not None
    assert error.code == MessagingErrorCodes.RATE_LIMITED
    assert error.retryable
    assert error.retry_after == 7.0
    assert error.provider_code == "1010"
    assert handler.count == 3  # one attempt and MaxRetries=2 retries


def test_messages_429_then_success() -> None:
    handler = Counter(problem(429, "1010"), httpx.Response(202, json={"message_uuid": "u-1"}))
    result = send(VonageMessagesConnector, handler)
    assert result.is_success
    assert result.data.remote_message_id == "u-1"
    assert handler.count == 2


@pytest.mark.parametrize("status", [500, 502, 504])
def test_messages_5xx_is_outcome_unknown_and_never_retried(status: int) -> None:
    handler = Counter(problem(status, "1300", headers={"Retry-After": "1"}))
    result = send(VonageMessagesConnector, handler)
    error = result.error
    assert error is not None
    assert error.code == MessagingErrorCodes.SEND_MESSAGE_FAILED
    assert error.outcome_unknown
    assert not error.retryable
    assert handler.count == 1


def test_messages_error_without_a_problem_body() -> None:
    result = send(VonageMessagesConnector, Counter(httpx.Response(401, text="nope")))
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.INVALID_CREDENTIALS
    assert result.error.provider_code is None


@pytest.mark.parametrize("answer", [
    httpx.Response(202, text="not json"),
    httpx.Response(202, json={"other": 1}),
    httpx.Response(202, json={"message_uuid": ""}),
    httpx.Response(202, json=["message_uuid"]),
])
def test_messages_unreadable_success_is_outcome_unknown(answer: httpx.Response) -> None:
    handler = Counter(answer)
    result = send(VonageMessagesConnector, handler)
    assert result.error is not None
    assert result.error.outcome_unknown
    assert handler.count == 1


def test_messages_workflow_id_is_kept() -> None:
    result = send(VonageMessagesConnector, Counter(httpx.Response(
        202, json={"message_uuid": "u-2", "workflow_id": "w-3"})))
    assert result.data.additional_data["workflow_id"] == "w-3"


@pytest.mark.parametrize(("message", "field"), [
    (Message.text("hi", to="+447700900000"), "sender"),
    (Message.text("hi", to="+1234", sender="+447700900001"), "receiver"),
    (Message.text("hi", to="+447700900000", sender="Acme Brand Name Too Long"), "sender"),
    (Message.text("hi", to="+447700900000", sender="Acme", properties={"Channel": "whatsapp"}),
     "sender"),
    (Message.media("https://example.com/a.jpg", to="+447700900000", sender="+447700900001",
                   properties={"Channel": "sms"}), "content"),
    (Message.template("t", to="+447700900000", sender="+447700900001",
                      properties={"Channel": "sms"}), "content"),
    (MessageBuilder().to_phone("+447700900000").from_phone("+447700900001")
     .with_media("https://example.com/a.jpg").with_media("https://example.com/b.jpg").build(),
     "content"),
    (MessageBuilder().to_phone("whatsapp:+447700900000").from_phone("+447700900001")
     .with_text("caption").with_media("https://example.com/a.mp3", "audio").build(), "content"),
    (Message.media("https://example.com/a.jpg", to="+447700900000", sender="+447700900001",
                   properties={"ValidityPeriod": 60}), "properties.ValidityPeriod"),
    (Message.text("hi", to="whatsapp:+447700900000", sender="+447700900001",
                  properties={"ValidityPeriod": 600}), "properties.ValidityPeriod"),
    (Message.text("hi", to="whatsapp:+447700900000", sender="+447700900001",
                  properties={"EncodingType": "text"}), "properties.EncodingType"),
])
def test_messages_local_problems_fail_without_a_request(message: Message, field: str) -> None:
    handler = Counter(httpx.Response(202, json={"message_uuid": "u"}))
    result = send(VonageMessagesConnector, handler, message)
    assert result.error is not None
    assert result.error.code == ConnectorErrorCodes.MESSAGE_VALIDATION_FAILED
    assert field in [issue.field for issue in result.error.issues]
    assert handler.count == 0


# -- SMS API ------------------------------------------------------------------------------------


def part(status: str, message_id: str | None = None, error_text: str | None = None,
         price: str = "0.03330000") -> dict[str, str]:
    entry = {"to": "447700900000", "status": status}
    if message_id:
        entry.update({"message-id": message_id, "message-price": price,
                      "remaining-balance": "3.14", "network": "23410"})
    if error_text:
        entry["error-text"] = error_text
    return entry


def answer(*parts: dict[str, str]) -> httpx.Response:
    return httpx.Response(200, json={"message-count": str(len(parts)), "messages": list(parts)})


def test_sms_every_part_is_accounted_for() -> None:
    handler = Counter(answer(part("0", "ID-1", price="0.0333"), part("0", "ID-2", price="0.0333"),
                             part("0", "ID-3", price="0.0334")))
    result = send(VonageSmsConnector, handler, Message.text(
        "x" * 400, to="+447700900000", sender="+447700900001"))
    assert result.is_success, result.error
    data = result.data
    assert data.remote_message_id == "ID-1"
    assert data.additional_data["message_ids"] == ["ID-1", "ID-2", "ID-3"]
    assert [p["price"] for p in data.additional_data["parts"]] == ["0.0333", "0.0333", "0.0334"]
    assert data.additional_data["price"] == "0.1000"
    assert data.additional_data["message_count"] == 3
    assert data.additional_data["parts"][0]["network"] == "23410"


@pytest.mark.parametrize(("status", "expected"), [
    ("2", MessagingErrorCodes.INVALID_MESSAGE),
    ("3", MessagingErrorCodes.INVALID_MESSAGE),
    ("4", MessagingErrorCodes.INVALID_CREDENTIALS),
    ("5", MessagingErrorCodes.SEND_MESSAGE_FAILED),
    ("6", MessagingErrorCodes.INVALID_MESSAGE),
    ("7", MessagingErrorCodes.RECIPIENT_OPTED_OUT),
    ("8", MessagingErrorCodes.ACCOUNT_SUSPENDED),
    ("9", MessagingErrorCodes.INSUFFICIENT_FUNDS),
    ("15", MessagingErrorCodes.INVALID_SENDER),
    ("29", MessagingErrorCodes.INVALID_RECIPIENT),
    ("99", MessagingErrorCodes.SEND_MESSAGE_FAILED),
])
def test_sms_part_statuses_map_to_standard_codes(status: str, expected: Any) -> None:
    handler = Counter(answer(part(status, error_text="Bad things")))
    result = send(VonageSmsConnector, handler)
    error = result.error
    assert error is not None
    assert error.code == expected
    assert error.provider_code == status
    assert "Bad things" in error.message
    assert not error.retryable
    assert handler.count == 1


def test_sms_throttled_is_retried() -> None:
    handler = Counter(answer(part("1", error_text="Throughput Rate Exceeded")))
    result = send(VonageSmsConnector, handler)
    error = result.error
    assert error is not None
    assert error.code == MessagingErrorCodes.RATE_LIMITED
    assert error.retryable
    assert error.provider_code == "1"
    assert handler.count == 3


def test_sms_throttled_then_success() -> None:
    handler = Counter(answer(part("1")), answer(part("0", "ID-9")))
    result = send(VonageSmsConnector, handler)
    assert result.is_success
    assert result.data.remote_message_id == "ID-9"
    assert handler.count == 2


def test_sms_partial_failure_is_an_error_never_retried() -> None:
    handler = Counter(answer(part("0", "ID-1"), part("1", error_text="Throttled")))
    result = send(VonageSmsConnector, handler)
    error = result.error
    assert error is not None
    assert error.code == MessagingErrorCodes.RATE_LIMITED
    assert not error.retryable
    assert "1 of 2 parts went out" in error.message
    assert [p.get("message_id") for p in error.details["parts"]] == ["ID-1", None]
    assert handler.count == 1


@pytest.mark.parametrize(("response", "code", "retryable", "unknown"), [
    (httpx.Response(401, json={"type": "https://developer.vonage.com/api-errors#unauthorized",
                               "title": "Unauthorized"}),
     MessagingErrorCodes.INVALID_CREDENTIALS, False, False),
    (httpx.Response(429, headers={"Retry-After": "2"}), MessagingErrorCodes.RATE_LIMITED,
     True, False),
    (httpx.Response(503), MessagingErrorCodes.SEND_MESSAGE_FAILED, True, False),
    (httpx.Response(200, text="<html>"), MessagingErrorCodes.SEND_MESSAGE_FAILED, False, True),
    (httpx.Response(200, json={"message-count": "0", "messages": []}),
     MessagingErrorCodes.SEND_MESSAGE_FAILED, False, True),
    (httpx.Response(200, json={"messages": [{"no": "status"}]}),
     MessagingErrorCodes.SEND_MESSAGE_FAILED, False, True),
])
def test_sms_http_failures(response: httpx.Response, code: Any, retryable: bool,
                           unknown: bool) -> None:
    result = send(VonageSmsConnector, Counter(response), MaxRetries=0)
    error = result.error
    assert error is not None
    assert error.code == code
    assert error.retryable is retryable
    assert error.outcome_unknown is unknown
    if response.status_code == 429:
        assert error.retry_after == 2.0


@pytest.mark.parametrize(("message", "field"), [
    (Message.text("hi", to="+447700900000"), "sender"),
    (Message.text("hi", to="not a number", sender="+447700900001"), "receiver"),
])
def test_sms_local_problems_fail_without_a_request(message: Message, field: str) -> None:
    handler = Counter(answer(part("0", "ID")))
    result = send(VonageSmsConnector, handler, message)
    assert result.error is not None
    assert result.error.code == ConnectorErrorCodes.MESSAGE_VALIDATION_FAILED
    assert field in [issue.field for issue in result.error.issues]
    assert handler.count == 0


# -- DSN and plugin -----------------------------------------------------------------------------


def test_dsn_maps_user_and_password_and_picks_the_messages_connector() -> None:
    connector = ratatosk.connect(f"vonage://{KEY}:{SECRET}@default?Channel=whatsapp&Region=eu")
    assert isinstance(connector, VonageMessagesConnector)
    assert SECRET not in repr(connector.settings)
    assert connector.blocking().initialize().is_success
    assert connector.config.api_key == KEY
    assert connector.config.api_secret.reveal() == SECRET
    assert connector.config.channel == "whatsapp"
    assert connector.api_url == "https://api-eu.vonage.com/v1/messages"


def test_dsn_host_becomes_the_base_url_for_a_sandbox() -> None:
    connector = ratatosk.connect(f"vonage+sms://{KEY}:{SECRET}@127.0.0.1:8765")
    assert isinstance(connector, VonageSmsConnector)
    assert connector.blocking().initialize().is_success
    assert connector.api_url == "http://127.0.0.1:8765/sms/json"
    messages = ratatosk.connect(f"vonage+messages://{KEY}:{SECRET}@127.0.0.1:8765")
    assert messages.blocking().initialize().is_success
    assert isinstance(messages, VonageMessagesConnector)
    assert messages.api_url == "http://127.0.0.1:8765/v1/messages"


def test_missing_secret_fails_initialization() -> None:
    # the Messages API takes a key and secret or an application's JWT: neither is complete
    connector = ratatosk.connect(f"vonage://{KEY}@default")
    result = connector.blocking().initialize()
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.MISSING_CREDENTIALS
    assert "ApplicationId and PrivateKey" in result.error.message
    # the SMS API needs its secret
    sms = ratatosk.connect(f"vonage+sms://{KEY}@default").blocking().initialize()
    assert sms.error is not None
    assert sms.error.code == MessagingErrorCodes.INVALID_CONFIGURATION
    assert [issue.field for issue in sms.error.issues] == ["ApiSecret"]


def test_plugin_registers_both_connectors() -> None:
    from ratatosk.plugins import get_registry

    registry = get_registry()
    assert registry.get("vonage/messages") is VonageMessagesConnector
    assert registry.get("vonage/sms") is VonageSmsConnector
    assert registry.default_for("vonage") is VonageMessagesConnector


def test_sms_status_report_property_wins_over_the_setting() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(part("0", "ID"))

    connector = VonageSmsConnector(settings={**SETTINGS, "StatusReportRequest": True},
                                   http_transport=httpx.MockTransport(handler))
    message = Message.text("hi", to="+447700900000", sender="+447700900001",
                           properties={"StatusReportRequest": "false"})
    assert connector.blocking().send_message(message).is_success
    assert b"status-report-req=false" in seen[0].content
