"""The core's conformance kit, run against both Vonage connectors and every preset."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

from ratatosk import ConnectionSettings, Message, MessageBuilder, MessageSource, MessageStatus
from ratatosk.testing import ConnectorConformance, StatusCase, WebhookCase
from ratatosk_vonage import VonageMessagesConnector, VonageSmsConnector
from ratatosk_vonage.signature import compute_sms_signature, payload_hash, sign_jwt

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


HOOK = "https://hooks.example.com/vonage"
SMS_ID = "0A0000000123ABCD1"


def jwt_signed(body: dict[str, Any]) -> MessageSource:
    """A Messages API webhook signed as Vonage signs it (HS256 JWT over the raw body's hash)."""
    raw = json.dumps(body).encode()
    token = sign_jwt(SIGNATURE_SECRET, {"iat": int(time.time()), "jti": str(uuid.uuid4()),
                                        "iss": "Vonage", "payload_hash": payload_hash(raw)})
    return MessageSource.json(raw, url=HOOK, headers={"Authorization": f"Bearer {token}"})


def sig_signed(fields: dict[str, str], *, get: bool = False) -> MessageSource:
    """An SMS API webhook with its sig (HMAC-MD5, the default SignatureMethod)."""
    params = {**fields, "timestamp": str(int(time.time())), "nonce": str(uuid.uuid4())}
    params["sig"] = compute_sms_signature(params, SIGNATURE_SECRET, "md5")
    if get:
        return MessageSource(b"", method="GET", url=f"{HOOK}?{urlencode(params)}")
    return MessageSource.url_post(urlencode(params), url=HOOK)


def messages_inbound(channel: str, **more: Any) -> dict[str, Any]:
    return {"channel": channel, "message_uuid": str(uuid.uuid4()), "to": "447700900000",
            "from": "447700900001", "timestamp": "2026-12-04T12:00:00Z",
            "message_type": "text", "text": "Hello", **more}


def messages_status(value: str, **more: Any) -> dict[str, Any]:
    return {"message_uuid": UUID, "to": "447700900001", "from": "447700900000",
            "timestamp": "2026-12-04T12:00:05Z", "status": value, "channel": "sms", **more}


def sms_inbound(**more: str) -> dict[str, str]:
    return {"msisdn": "447700900001", "to": "447700900000", "messageId": SMS_ID,
            "text": "Hello", "type": "text", "keyword": "HELLO",
            "message-timestamp": "2026-12-04 12:00:00", **more}


def sms_receipt(value: str, **more: str) -> dict[str, str]:
    return {"msisdn": "447700900001", "to": "Acme", "network-code": "23410",
            "messageId": SMS_ID, "price": "0.0333", "status": value, "err-code": "0",
            "message-timestamp": "2026-12-04 12:00:05", **more}


class _VonageConformance(ConnectorConformance):
    def valid_settings(self) -> ConnectionSettings:
        return ConnectionSettings({"ApiKey": KEY, "ApiSecret": SECRET,
                                   "SignatureSecret": SIGNATURE_SECRET})

    def error_response(self, status: int, request: httpx.Request) -> httpx.Response:
        return problem(status)

    def inbound_sources(self) -> Sequence[WebhookCase]:
        # either connector receives both APIs' webhooks (one endpoint may serve both)
        return [
            WebhookCase(jwt_signed(messages_inbound("sms"))),
            WebhookCase(jwt_signed(messages_inbound("whatsapp", profile={"name": "Ada"},
                                                    context={"message_uuid": UUID}))),
            WebhookCase(jwt_signed(messages_inbound(
                "mms", message_type="image", text=None,
                image={"url": "https://example.com/a.jpg", "caption": "look"}))),
            WebhookCase(sig_signed(sms_inbound())),
            WebhookCase(sig_signed(sms_inbound(messageId="0A0000000123ABCD2", concat="true", **{
                "concat-ref": "7", "concat-total": "2", "concat-part": "1"}), get=True)),
        ]

    def status_sources(self) -> Sequence[StatusCase]:
        return [
            StatusCase(jwt_signed(messages_status("delivered")), UUID, MessageStatus.DELIVERED),
            StatusCase(jwt_signed(messages_status("rejected", error={
                "type": "https://developer.vonage.com/api-errors/messages#1330",
                "title": "1330", "detail": "unreachable"})), UUID, MessageStatus.ROUTE_FAILED),
            StatusCase(sig_signed(sms_receipt("delivered"), get=True), SMS_ID,
                       MessageStatus.DELIVERED),
            StatusCase(sig_signed(sms_receipt("failed", **{"err-code": "6"})), SMS_ID,
                       MessageStatus.DELIVERY_FAILED),
        ]


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
