"""TwilioWhatsAppConnector through httpx.MockTransport: whatsapp: addresses, templates, media,
WhatsApp-only properties and the WhatsApp error codes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from attrs import define, field

from ratatosk import (
    ConnectionSettings,
    ConnectorErrorCodes,
    Message,
    MessageBuilder,
    MessageStatus,
    MessagingErrorCodes,
    TemplateContent,
)
from ratatosk_twilio import TwilioChannelSchemas, TwilioErrorCodes, TwilioWhatsAppConnector

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "c0ffee00" * 4
MG = "MG" + "a1" * 16
SID = "SM" + "b2" * 16
CONTENT = "HX" + "e5" * 16


@define
class FakeTwilio:
    queue: list[httpx.Response] = field(factory=list)
    requests: list[httpx.Request] = field(factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.queue:
            return self.queue.pop(0)
        if request.method == "POST":
            return httpx.Response(201, json={"sid": SID, "status": "queued",
                                             "to": "whatsapp:+15550002222"})
        return httpx.Response(200, json={"sid": SID, "status": "read"})

    def form(self) -> list[tuple[str, str]]:
        return parse_qsl(self.requests[-1].content.decode(), keep_blank_values=True)


def connector(fake: FakeTwilio, schema: Any = None, **extra: str) -> TwilioWhatsAppConnector:
    settings = ConnectionSettings({"AccountSid": ACCOUNT, "AuthToken": TOKEN, **extra})
    c = TwilioWhatsAppConnector(schema, settings, http_transport=httpx.MockTransport(fake))

    async def no_sleep(_: float) -> None:
        return None

    return c.configure_timing(sleep=no_sleep, blocking_sleep=lambda _: None)


def wa(to: str = "whatsapp:+15550002222", sender: str | None = "whatsapp:+15550001111",
       text: str | None = "Hola", **props: Any) -> Message:
    builder = MessageBuilder().to_phone(to)
    if sender is not None:
        builder.from_phone(sender)
    if text is not None:
        builder.with_text(text)
    for name, value in props.items():
        builder.with_property(name, value)
    return builder.build()


@pytest.mark.parametrize(("to", "sender"), [
    ("whatsapp:+15550002222", "whatsapp:+15550001111"),
    ("+15550002222", "+15550001111"),
    ("WhatsApp:+15550002222", " +15550001111 "),
])
async def test_addresses_are_normalised_to_whatsapp_e164(to: str, sender: str) -> None:
    fake = FakeTwilio()
    result = await connector(fake).send_message(wa(to, sender))
    assert result.is_success and result.data is not None
    assert result.data.remote_message_id == SID
    assert result.data.status is MessageStatus.QUEUED
    assert fake.form() == [("To", "whatsapp:+15550002222"), ("From", "whatsapp:+15550001111"),
                           ("Body", "Hola")]


@pytest.mark.parametrize(("to", "sender", "field_name"), [
    ("whatsapp:15550002222", "+15550001111", "receiver"),
    ("messenger:+15550002222", "+15550001111", "receiver"),
    ("+15550002222", "whatsapp:MyBrand", "sender"),
    ("+15550002222", "12345", "sender"),
])
async def test_other_addresses_are_invalid_whatsapp_numbers(
    to: str, sender: str, field_name: str
) -> None:
    fake = FakeTwilio()
    result = await connector(fake).send_message(wa(to, sender))
    assert result.error is not None
    assert result.error.code == TwilioErrorCodes.INVALID_WHATSAPP_NUMBER
    assert result.error.domain == "Twilio"
    assert result.error.issues[0].field == field_name
    assert fake.requests == []


async def test_template_sends_content_sid_and_variables_as_json() -> None:
    fake = FakeTwilio()
    message = (MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
               .with_template(CONTENT, {"1": "Ada", "2": 3, "name": "Ünïcode"}).build())
    assert (await connector(fake).send_message(message)).is_success
    fields = dict(fake.form())
    assert fields["ContentSid"] == CONTENT
    assert json.loads(fields["ContentVariables"]) == {"1": "Ada", "2": "3", "name": "Ünïcode"}
    assert "Body" not in fields


async def test_template_without_parameters_sends_no_variables() -> None:
    fake = FakeTwilio()
    message = (MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
               .with_template(CONTENT).build())
    assert (await connector(fake).send_message(message)).is_success
    assert fake.form() == [("To", "whatsapp:+15550002222"), ("From", "whatsapp:+15550001111"),
                           ("ContentSid", CONTENT)]


@pytest.mark.parametrize("template_id", ["welcome_message", "HX123", "MG" + "e5" * 16])
async def test_a_template_without_a_content_sid_is_missing_content_sid(template_id: str) -> None:
    fake = FakeTwilio()
    message = (MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
               .with_content(TemplateContent(template_id, {"1": "x"})).build())
    result = await connector(fake).send_message(message)
    assert result.error is not None
    assert result.error.code == TwilioErrorCodes.MISSING_CONTENT_SID
    assert result.error.issues[0].field == "content.template_id"
    assert fake.requests == []


async def test_an_empty_template_id_is_caught_by_schema_validation() -> None:
    fake = FakeTwilio()
    message = (MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
               .with_template("  ").build())
    result = await connector(fake).send_message(message)
    assert result.error is not None
    assert result.error.code == ConnectorErrorCodes.MESSAGE_VALIDATION_FAILED
    assert fake.requests == []


async def test_twilio_content_sid_required_maps_to_missing_content_sid() -> None:
    fake = FakeTwilio([httpx.Response(400, json={"code": 21654, "message": "ContentSid Required"})])
    result = await connector(fake).send_message(wa())
    assert result.error is not None
    assert (result.error.domain, result.error.code) == ("Twilio",
                                                        TwilioErrorCodes.MISSING_CONTENT_SID)


async def test_media_and_caption() -> None:
    fake = FakeTwilio()
    message = (MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
               .with_text("Our menu").with_media("https://example.com/menu.pdf", "document")
               .build())
    assert (await connector(fake).send_message(message)).is_success
    assert fake.form()[2:] == [("Body", "Our menu"), ("MediaUrl", "https://example.com/menu.pdf")]


@pytest.mark.parametrize(("value", "expected"), [
    ("geo:37.787890,-122.391664|375 Beale St", ["geo:37.787890,-122.391664|375 Beale St"]),
    (["mailto:a@example.com", "tel:+15550001111"], ["mailto:a@example.com", "tel:+15550001111"]),
    ('["mailto:a@example.com"]', ["mailto:a@example.com"]),
])
async def test_persistent_action_repeats(value: Any, expected: list[str]) -> None:
    fake = FakeTwilio()
    assert (await connector(fake).send_message(wa(PersistentAction=value))).is_success
    assert [v for k, v in fake.form() if k == "PersistentAction"] == expected


async def test_persistent_action_must_be_texts() -> None:
    fake = FakeTwilio()
    result = await connector(fake).send_message(wa(PersistentAction=[1, 2]))
    assert result.error is not None
    assert result.error.code == TwilioErrorCodes.INVALID_MESSAGE
    assert fake.requests == []


async def test_sms_only_properties_are_refused_on_whatsapp() -> None:
    fake = FakeTwilio()
    for name in ("SmartEncoded", "SendAsMms", "MaxPrice", "RiskCheck"):
        result = await connector(fake).send_message(wa(**{name: "true"}))
        assert result.error is not None, name
        assert result.error.code == ConnectorErrorCodes.MESSAGE_VALIDATION_FAILED
    assert fake.requests == []


@pytest.mark.parametrize(("code", "expected_domain", "expected"), [
    (63016, "Twilio", TwilioErrorCodes.SEND_WHATSAPP_MESSAGE_FAILED),
    (63005, "Twilio", TwilioErrorCodes.SEND_WHATSAPP_MESSAGE_FAILED),
    (21211, "messaging", MessagingErrorCodes.INVALID_RECIPIENT),
    (20003, "messaging", MessagingErrorCodes.INVALID_CREDENTIALS),
])
async def test_whatsapp_send_failures(code: int, expected_domain: str, expected: str) -> None:
    fake = FakeTwilio([httpx.Response(400, json={"code": code, "message": "nope",
                                                 "more_info": "https://x"})])
    result = await connector(fake).send_message(wa())
    assert result.error is not None
    assert (result.error.domain, result.error.code) == (expected_domain, expected)
    assert result.error.provider_code == str(code)


async def test_whatsapp_server_error_is_outcome_unknown() -> None:
    fake = FakeTwilio([httpx.Response(500, text="")])
    result = await connector(fake).send_message(wa())
    assert result.error is not None
    assert result.error.code == TwilioErrorCodes.SEND_WHATSAPP_MESSAGE_FAILED
    assert result.error.outcome_unknown
    assert len(fake.requests) == 1


async def test_whatsapp_status_query_and_its_failures() -> None:
    fake = FakeTwilio()
    c = connector(fake)
    read = await c.get_message_status(SID)
    assert read.data is not None and read.data.status is MessageStatus.READ
    fake.queue.append(httpx.Response(404, json={"code": 20404, "message": "not found"}))
    missing = await c.get_message_status(SID)
    assert missing.error is not None
    assert missing.error.code == TwilioErrorCodes.WHATSAPP_STATUS_QUERY_FAILED
    bad = c.blocking().get_message_status("whatsapp:+15550002222")
    assert bad.error is not None
    assert bad.error.code == TwilioErrorCodes.WHATSAPP_STATUS_QUERY_FAILED
    assert len(fake.requests) == 2


async def test_messaging_service_and_scheduling_on_whatsapp() -> None:
    fake = FakeTwilio()
    c = connector(fake, MessagingServiceSid=MG)
    message = wa(sender=None, SendAt="2031-05-01T10:00:00+02:00")
    assert (await c.send_message(message)).is_success
    assert dict(fake.form()) == {
        "To": "whatsapp:+15550002222", "Body": "Hola", "MessagingServiceSid": MG,
        "SendAt": "2031-05-01T08:00:00Z", "ScheduleType": "fixed"}


def test_presets_accept_what_they_declare() -> None:
    fake = FakeTwilio()
    template = (MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
                .with_template(CONTENT).build())
    simple = connector(fake, TwilioChannelSchemas.SIMPLE_WHATSAPP).blocking()
    assert simple.send_message(wa()).is_success
    refused = simple.send_message(template)
    assert refused.error is not None
    assert refused.error.code == ConnectorErrorCodes.MESSAGE_VALIDATION_FAILED
    templates = connector(fake, TwilioChannelSchemas.WHATSAPP_TEMPLATES).blocking()
    assert templates.send_message(template).is_success
    text = templates.send_message(wa())
    assert text.error is not None
    assert text.error.code == ConnectorErrorCodes.MESSAGE_VALIDATION_FAILED
    assert len(fake.requests) == 2
