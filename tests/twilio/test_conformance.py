"""The core's conformance kit, run against both Twilio connectors and every preset."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode

import httpx

from ratatosk import ConnectionSettings, Message, MessageBuilder, MessageSource, MessageStatus
from ratatosk.testing import ConnectorConformance, StatusCase, WebhookCase
from ratatosk_twilio import TwilioMessageBuilder, TwilioSmsConnector, TwilioWhatsAppConnector
from ratatosk_twilio.signature import compute_signature

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "conformance-auth-token-4242"
MG = "MG" + "a1" * 16
SID = "SM" + "b2" * 16
CONTENT = "HX" + "e5" * 16
HOOK = "https://hooks.example.com/twilio"


def fake_twilio(request: httpx.Request) -> httpx.Response:
    """Just enough of the Messages API: create, fetch and the account."""
    path = request.url.path
    if not path.startswith(f"/2010-04-01/Accounts/{ACCOUNT}"):
        return httpx.Response(404, json={"code": 20404, "message": "not found"})
    if request.method == "POST" and path.endswith("/Messages.json"):
        form = dict(parse_qsl(request.content.decode()))
        status = "accepted" if "MessagingServiceSid" in form else "queued"
        return httpx.Response(201, json={"sid": SID, "status": status, "to": form.get("To")})
    if request.method == "GET" and "/Messages/" in path:
        sid = path.rsplit("/", 1)[1].removesuffix(".json")
        return httpx.Response(200, json={"sid": sid, "status": "delivered",
                                         "num_segments": "1", "price": "-0.0079"})
    if request.method == "GET" and path.endswith(f"{ACCOUNT}.json"):
        return httpx.Response(200, json={"sid": ACCOUNT, "status": "active"})
    return httpx.Response(405, json={"code": 20004, "message": "method not allowed"})


def signed(params: list[tuple[str, str]]) -> MessageSource:
    signature = compute_signature(TOKEN, HOOK, params)
    return MessageSource.url_post(urlencode(params), url=HOOK,
                                  headers={"X-Twilio-Signature": signature})


def inbound(address: str) -> list[tuple[str, str]]:
    return [("MessageSid", SID), ("SmsSid", SID), ("AccountSid", ACCOUNT), ("From", address),
            ("To", "+15005550006"), ("Body", "Hello"), ("NumMedia", "0"), ("NumSegments", "1"),
            ("SmsStatus", "received"), ("ApiVersion", "2010-04-01")]


def status(value: str) -> list[tuple[str, str]]:
    return [("MessageSid", SID), ("SmsSid", SID), ("AccountSid", ACCOUNT),
            ("MessageStatus", value), ("SmsStatus", value), ("To", "+14155550100"),
            ("From", "+15005550006"), ("ApiVersion", "2010-04-01")]


class _TwilioConformance(ConnectorConformance):
    def valid_settings(self) -> ConnectionSettings:
        # MessagingServiceSid: the BulkSms preset requires it, and every preset accepts it
        return ConnectionSettings({"AccountSid": ACCOUNT, "AuthToken": TOKEN,
                                   "MessagingServiceSid": MG})

    def make_transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(fake_twilio)

    def status_sources(self) -> Sequence[StatusCase]:
        return [StatusCase(signed(status("delivered")), SID, MessageStatus.DELIVERED),
                StatusCase(signed([*status("undelivered"), ("ErrorCode", "30003")]), SID,
                           MessageStatus.DELIVERY_FAILED)]

    def invalid_messages(self) -> Sequence[Message]:
        return [
            *super().invalid_messages(),
            MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
            .with_text("hi").with_property("Colour", "blue").build(),
            MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
            .with_text("hi").with_validity_period(0).build(),
        ]


class TestTwilioSmsConformance(_TwilioConformance):
    connector_class = TwilioSmsConnector

    def sample_messages(self) -> Sequence[Message]:
        return [
            *super().sample_messages(),
            MessageBuilder().with_id("mms").from_phone("+15550001111").to_phone("+15550002222")
            .with_text("photo").with_media("https://example.com/photo.jpg").build(),
            TwilioMessageBuilder().with_id("props").to_phone("+15550002222").with_text("later")
            .with_validity_period(600).with_max_price("0.05").build(),
        ]

    def inbound_sources(self) -> Sequence[WebhookCase]:
        return [WebhookCase(signed(inbound("+14155550100")), 1)]


class TestTwilioWhatsAppConformance(_TwilioConformance):
    connector_class = TwilioWhatsAppConnector

    def sample_messages(self) -> Sequence[Message]:
        return [
            *super().sample_messages(),
            MessageBuilder().with_id("template").from_phone("whatsapp:+15550001111")
            .to_phone("whatsapp:+15550002222").with_template(CONTENT, {"1": "Ada"}).build(),
            MessageBuilder().with_id("media").to_phone("+15550002222").with_text("menu")
            .with_media("https://example.com/menu.pdf", "document").build(),
        ]

    def inbound_sources(self) -> Sequence[WebhookCase]:
        fields = [*inbound("whatsapp:+14155550100"), ("ProfileName", "Ada"),
                  ("WaId", "14155550100")]
        return [WebhookCase(signed(fields), 1)]
