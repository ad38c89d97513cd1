"""The core's conformance kit, run against both Vonage connectors and every preset."""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import parse_qsl

import httpx

from ratatosk import ConnectionSettings, Message, MessageBuilder
from ratatosk.testing import ConnectorConformance
from ratatosk_vonage import VonageMessagesConnector, VonageSmsConnector

KEY = "abcd1234"
SECRET = "conformance-api-secret-4242"
SIGNATURE_SECRET = "conformance-signature-secret-77"
UUID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"


def fake_messages_api(request: httpx.Request) -> httpx.Response:
    """Just enough of the Messages API: a send with Basic auth."""
    if request.method != "POST" or request.url.path != "/v1/messages":
        return httpx.Response(404, json={"type": "https://developer.vonage.com/api-errors#404",
                                         "title": "Not Found"})
    if not request.headers.get("authorization", "").startswith("Basic "):
        return httpx.Response(401, json={"type": "https://developer.vonage.com/api-errors#401",
                                         "title": "Unauthorized"})
    body = json.loads(request.content)
    assert body["channel"] in ("sms", "mms", "whatsapp")
    return httpx.Response(202, json={"message_uuid": UUID})


def fake_sms_api(request: httpx.Request) -> httpx.Response:
    """Just enough of the SMS API: one entry per 160 characters."""
    if request.method != "POST" or request.url.path != "/sms/json":
        return httpx.Response(404)
    form = dict(parse_qsl(request.content.decode()))
    if form.get("api_key") != KEY or form.get("api_secret") != SECRET:
        return httpx.Response(200, json={"message-count": "1", "messages": [
            {"status": "4", "error-text": "Bad Credentials"}]})
    count = max(1, -(-len(form.get("text", "")) // 153))
    return httpx.Response(200, json={"message-count": str(count), "messages": [
        {"to": form["to"], "message-id": f"0A00000{i}", "status": "0",
         "remaining-balance": "10.0", "message-price": "0.0333", "network": "23410"}
        for i in range(count)]})


def problem(status: int) -> httpx.Response:
    headers = {"Retry-After": "1"} if status in (429, 503) else {}
    return httpx.Response(status, headers=headers, json={
        "type": f"https://developer.vonage.com/api-errors/messages#{status}",
        "title": "failure", "detail": "failure"})


class _VonageConformance(ConnectorConformance):
    def valid_settings(self) -> ConnectionSettings:
        return ConnectionSettings({"ApiKey": KEY, "ApiSecret": SECRET,
                                   "SignatureSecret": SIGNATURE_SECRET})

    def error_response(self, status: int, request: httpx.Request) -> httpx.Response:
        return problem(status)


class TestVonageMessagesConformance(_VonageConformance):
    connector_class = VonageMessagesConnector

    def make_transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(fake_messages_api)

    def sample_messages(self) -> Sequence[Message]:
        return [
            *super().sample_messages(),
            MessageBuilder().with_id("mms").from_phone("+15550001111").to_phone("+15550002222")
            .with_text("photo").with_media("https://example.com/photo.jpg").build(),
            MessageBuilder().with_id("whatsapp").from_phone("whatsapp:+15550001111")
            .to_phone("whatsapp:+15550002222").with_text("hi").with_property("ClientRef", "r1")
            .build(),
            Message.template("order_update", {"1": "Ada"}, to="whatsapp:+15550002222",
                             sender="+15550001111", id="template"),
        ]

    def invalid_messages(self) -> Sequence[Message]:
        return [
            *super().invalid_messages(),
            MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
            .with_text("hi").with_property("Colour", "blue").build(),
            MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
            .with_text("hi").with_property("Channel", "fax").build(),
            MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
            .with_text("hi").with_validity_period(5).build(),
        ]


class TestVonageSmsConformance(_VonageConformance):
    connector_class = VonageSmsConnector

    def make_transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(fake_sms_api)

    def sample_messages(self) -> Sequence[Message]:
        return [
            *super().sample_messages(),
            MessageBuilder().with_id("long").from_phone("Acme").to_phone("+15550002222")
            .with_text("long " * 100).with_property("ClientRef", "r2").build(),
            MessageBuilder().with_id("unicode").from_phone("+15550001111")
            .to_phone("+15550002222").with_text("Zażółć gęślą jaźń").build(),
        ]

    def invalid_messages(self) -> Sequence[Message]:
        return [
            *super().invalid_messages(),
            MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
            .with_text("hi").with_media("https://example.com/photo.jpg").build(),
            MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
            .with_text("hi").with_property("ClientRef", "x" * 41).build(),
        ]
