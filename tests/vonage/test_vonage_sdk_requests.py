"""The requests we build are the ones the official Vonage SDK builds for the same message.

The Messages API body is compared with the ``vonage-messages`` models'
``model_dump(by_alias=True, exclude_none=True)``; the SMS API form with ``vonage_sms.SmsMessage``'s
(booleans as the API's ``true``/``false``).
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from vonage_messages.models import (
    MmsImage,
    MmsVideo,
    Sms,
    WhatsappAudio,
    WhatsappFile,
    WhatsappTemplate,
    WhatsappText,
)
from vonage_sms import SmsMessage

from ratatosk import Message, MessageBuilder
from ratatosk_vonage import VonageMessagesConnector, VonageSmsConnector

KEY = "abcd1234"
SECRET = "s3cr3t-Vonage-42"
UUID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"


class Recorder:
    def __init__(self, answer: httpx.Response | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.answer is not None:
            return self.answer
        return httpx.Response(202, json={"message_uuid": UUID})


def send_messages(message: Message, **settings: Any) -> tuple[httpx.Request, Any]:
    recorder = Recorder()
    connector = VonageMessagesConnector(
        settings={"ApiKey": KEY, "ApiSecret": SECRET, **settings},
        http_transport=httpx.MockTransport(recorder))
    result = connector.blocking().send_message(message)
    assert result.is_success, result.error
    (request,) = recorder.requests
    return request, result.data


def sdk(model: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(by_alias=True, exclude_none=True, mode="json")
    return dumped


def body(request: httpx.Request) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(request.content)
    return parsed


def test_sms_text_matches_the_sdk() -> None:
    message = (MessageBuilder().from_phone("+447700900001").to_phone("+447700900000")
               .with_text("Hello from Ratatosk").with_property("ClientRef", "order-17")
               .with_status_callback("https://hooks.example.com/vonage/status")
               .with_validity_period(600).build())
    request, data = send_messages(message)
    expected = Sms(to="447700900000", from_="447700900001", text="Hello from Ratatosk",
                   client_ref="order-17", webhook_url="https://hooks.example.com/vonage/status",
                   ttl=600)
    assert body(request) == sdk(expected)
    assert request.method == "POST"
    assert str(request.url) == "https://api.nexmo.com/v1/messages"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(
        f"{KEY}:{SECRET}".encode()).decode()
    assert data.remote_message_id == UUID
    assert data.additional_data["channel"] == "sms"


def test_sms_encoding_matches_the_sdk() -> None:
    message = (MessageBuilder().from_phone("Acme").to_phone("+447700900000")
               .with_text("Grüße").with_property("EncodingType", "unicode").build())
    request, _ = send_messages(message)
    assert body(request) == sdk(Sms(to="447700900000", from_="Acme", text="Grüße",
                                    sms={"encoding_type": "unicode"}))


def test_mms_image_with_caption_matches_the_sdk() -> None:
    message = (MessageBuilder().from_phone("+14155550100").to_phone("+14155550101")
               .with_text("our new shop").with_media("https://example.com/shop.jpg").build())
    request, data = send_messages(message)
    expected = MmsImage(to="14155550101", from_="14155550100",
                        image={"url": "https://example.com/shop.jpg", "caption": "our new shop"})
    assert body(request) == sdk(expected)
    assert data.additional_data["channel"] == "mms"


def test_mms_video_with_ttl_matches_the_sdk() -> None:
    message = (MessageBuilder().from_phone("+14155550100").to_phone("+14155550101")
               .with_media("https://example.com/clip.mp4", "video").with_validity_period(3600)
               .build())
    request, _ = send_messages(message)
    expected = MmsVideo(to="14155550101", from_="14155550100",
                        video={"url": "https://example.com/clip.mp4"}, ttl=3600)
    assert body(request) == sdk(expected)


def test_whatsapp_text_matches_the_sdk() -> None:
    message = (MessageBuilder().from_phone("whatsapp:+447700900001")
               .to_phone("whatsapp:+447700900000").with_text("Your order shipped").build())
    request, data = send_messages(message)
    expected = WhatsappText(to="447700900000", from_="447700900001", text="Your order shipped")
    assert body(request) == sdk(expected)
    assert data.additional_data["channel"] == "whatsapp"


def test_channel_setting_chooses_whatsapp_for_bare_numbers() -> None:
    message = (MessageBuilder().from_phone("+447700900001").to_phone("+447700900000")
               .with_text("hi").build())
    request, _ = send_messages(message, Channel="whatsapp")
    assert body(request) == sdk(WhatsappText(to="447700900000", from_="447700900001", text="hi"))


def test_whatsapp_template_matches_the_sdk() -> None:
    message = Message.template("order_update", {"2": "tomorrow", "1": "Ada"},
                               to="whatsapp:+447700900000", sender="+447700900001",
                               properties={"TemplateLocale": "en_GB",
                                           "WhatsAppPolicy": "deterministic"})
    request, _ = send_messages(message)
    expected = WhatsappTemplate(
        to="447700900000", from_="447700900001",
        template={"name": "order_update", "parameters": ["Ada", "tomorrow"]},
        whatsapp={"locale": "en_GB", "policy": "deterministic"})
    assert body(request) == sdk(expected)


def test_whatsapp_template_defaults_match_the_sdk() -> None:
    message = Message.template("welcome", to="+447700900000", sender="+447700900001")
    request, _ = send_messages(message)
    assert body(request) == sdk(WhatsappTemplate(to="447700900000", from_="447700900001",
                                                 template={"name": "welcome"}))


def test_whatsapp_file_and_audio_match_the_sdk() -> None:
    file_message = (MessageBuilder().from_phone("whatsapp:+447700900001")
                    .to_phone("whatsapp:+447700900000").with_text("the invoice")
                    .with_media("https://example.com/invoice.pdf", "document", "invoice.pdf")
                    .build())
    request, _ = send_messages(file_message)
    assert body(request) == sdk(WhatsappFile(
        to="447700900000", from_="447700900001",
        file={"url": "https://example.com/invoice.pdf", "caption": "the invoice",
              "name": "invoice.pdf"}))
    audio = (MessageBuilder().from_phone("whatsapp:+447700900001")
             .to_phone("whatsapp:+447700900000")
             .with_media("https://example.com/note.mp3", "audio").build())
    request, _ = send_messages(audio)
    assert body(request) == sdk(WhatsappAudio(to="447700900000", from_="447700900001",
                                              audio={"url": "https://example.com/note.mp3"}))


@pytest.mark.parametrize(("region", "host"), [("eu", "api-eu.vonage.com"),
                                              ("ap", "api-ap.vonage.com")])
def test_region_picks_the_regional_host(region: str, host: str) -> None:
    message = Message.text("hi", to="+447700900000", sender="+447700900001")
    request, _ = send_messages(message, Region=region)
    assert str(request.url) == f"https://{host}/v1/messages"


def test_base_url_wins_over_region() -> None:
    message = Message.text("hi", to="+447700900000", sender="+447700900001")
    request, _ = send_messages(message, Region="eu", BaseUrl="http://127.0.0.1:8099/")
    assert str(request.url) == "http://127.0.0.1:8099/v1/messages"


# -- SMS API ------------------------------------------------------------------------------------


def sms_answer(*parts: dict[str, str]) -> httpx.Response:
    return httpx.Response(200, json={"message-count": str(len(parts)), "messages": list(parts)})


def ok_part(message_id: str, price: str = "0.03330000") -> dict[str, str]:
    return {"to": "447700900000", "message-id": message_id, "status": "0",
            "remaining-balance": "3.14159265", "message-price": price, "network": "12345"}


def send_sms(message: Message, answer: httpx.Response | None = None,
             **settings: Any) -> tuple[httpx.Request, Any]:
    recorder = Recorder(answer or sms_answer(ok_part("0A0000000123ABCD1")))
    connector = VonageSmsConnector(settings={"ApiKey": KEY, "ApiSecret": SECRET, **settings},
                                   http_transport=httpx.MockTransport(recorder))
    result = connector.blocking().send_message(message)
    (request,) = recorder.requests
    return request, result


def sdk_form(message: SmsMessage) -> dict[str, str]:
    dumped = message.model_dump(by_alias=True, exclude_none=True)
    return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in dumped.items()}


def test_sms_api_form_matches_the_sdk() -> None:
    message = (MessageBuilder().from_phone("Acme").to_phone("+447700900000")
               .with_text("Hello & welcome = 100%").with_property("ClientRef", "ref-1")
               .with_property("StatusReportRequest", True)
               .with_status_callback("https://hooks.example.com/dlr")
               .with_validity_period(900).build())
    request, result = send_sms(message)
    assert result.is_success, result.error
    form = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
    assert form.pop("api_key") == KEY
    assert form.pop("api_secret") == SECRET
    expected = SmsMessage(to="447700900000", from_="Acme", text="Hello & welcome = 100%",
                          type="text", client_ref="ref-1", status_report_req=True,
                          callback="https://hooks.example.com/dlr", ttl=900000)
    assert form == sdk_form(expected)
    assert str(request.url) == "https://rest.nexmo.com/sms/json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"


@pytest.mark.parametrize(("text", "kind"), [
    ("plain GSM text {with} [extension] €", "text"),
    ("Grüße aus Köln", "text"),  # ü, ö and ß are in the GSM-7 alphabet
    ("Zażółć gęślą", "unicode"),  # ż, ł, ć, ę, ś, ą are not
    ("emoji 🎉", "unicode"),
    ("Ça coûte 5€", "unicode"),  # û is not GSM-7
])
def test_sms_api_type_follows_the_content(text: str, kind: str) -> None:
    message = Message.text(text, to="+447700900000", sender="+447700900001")
    request, _ = send_sms(message)
    form = dict(parse_qsl(request.content.decode()))
    assert form["type"] == kind
    assert form["text"] == text
    assert form == {"api_key": KEY, "api_secret": SECRET, **sdk_form(SmsMessage(
        to="447700900000", from_="447700900001", text=text, type=kind))}


def test_sms_api_settings_defaults_go_with_every_message() -> None:
    message = Message.text("hi", to="+447700900000", sender="+447700900001")
    request, _ = send_sms(message, StatusReportRequest=False,
                          StatusCallback="https://hooks.example.com/dlr",
                          BaseUrl="http://127.0.0.1:8098")
    form = dict(parse_qsl(request.content.decode()))
    assert form["status-report-req"] == "false"
    assert form["callback"] == "https://hooks.example.com/dlr"
    assert str(request.url) == "http://127.0.0.1:8098/sms/json"
