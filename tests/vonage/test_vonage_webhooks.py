"""Vonage webhooks through a connector: signatures first, then Messages API and SMS API inbound
messages and status updates mapped to the core's types, retries recognised."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from vonage_http_client.auth import Auth

from ratatosk import (
    ButtonContent,
    ChannelCapability,
    ChannelParameter,
    ChannelSchema,
    Connector,
    ConnectorErrorCodes,
    EndpointType,
    JsonContent,
    LocationContent,
    MediaContent,
    MediaType,
    MessageSource,
    MessageStatus,
    MessagingErrorCodes,
    MultipartContent,
    ParameterType,
    ReceiveResult,
    Result,
    StatusUpdate,
    TextContent,
    WebhookKind,
    WebhookReply,
)
from ratatosk.provider import InMemoryDeduplicationStore
from ratatosk_vonage._webhooks import VonageWebhookMixin
from ratatosk_vonage.signature import compute_sms_signature, payload_hash, sign_jwt

SECRET = "vonage-signature-secret-000000001"
OLD_SECRET = "vonage-signature-secret-000000002"
UUID = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
URL = "https://hooks.example.com/vonage"
DATA = MessagingErrorCodes.INVALID_WEBHOOK_DATA
SIGNATURE = MessagingErrorCodes.INVALID_WEBHOOK_SIGNATURE

HOOKS = ChannelSchema(
    provider="vonagetest",
    type="messages",
    version="1.0.0",
    capabilities=ChannelCapability.RECEIVE_MESSAGES | ChannelCapability.HANDLE_MESSAGE_STATE,
    parameters=(
        ChannelParameter("SignatureSecret", sensitive=True),
        ChannelParameter("SecondarySignatureSecrets", sensitive=True),
        ChannelParameter("SignatureMethod", default="md5",
                         allowed_values=("md5", "sha1", "sha256", "sha512")),
        ChannelParameter("ValidateSignatures", ParameterType.BOOLEAN, default=True),
        ChannelParameter("WebhookUrl", ParameterType.URL),
        ChannelParameter("MaxWebhookAge", ParameterType.INTEGER),
    ),
)


class HookConnector(VonageWebhookMixin, Connector):
    provider = "vonagetest"
    connector_type = "messages"
    default_schema = HOOKS


def make(**settings: Any) -> HookConnector:
    values: dict[str, Any] = {"SignatureSecret": SECRET, "WebhookUrl": URL}
    values.update(settings)
    return HookConnector(settings={k: v for k, v in values.items() if v is not None})


@pytest.fixture
def connector() -> HookConnector:
    return make()


# -- requests ---------------------------------------------------------------------------------


def jwt_source(body: dict[str, Any] | bytes, *, secret: str = SECRET,
               iat: float | None = None, jti: str | None = None,
               raw: bytes | None = None) -> MessageSource:
    """A Messages API webhook signed the way Vonage signs it (the hash is of ``body``; ``raw``,
    when given, is what arrives instead)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    token = sign_jwt(secret, {"iat": int(time.time()) if iat is None else iat,
                              "jti": jti or str(uuid.uuid4()), "iss": "Vonage",
                              "payload_hash": payload_hash(data)})
    return MessageSource.json(raw if raw is not None else data, url=URL,
                              headers={"Authorization": f"Bearer {token}"})


def inbound(message_type: str = "text", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "channel": "whatsapp", "message_uuid": UUID, "to": "447700900000",
        "from": "447700900001", "timestamp": "2026-12-04T12:00:00Z",
        "message_type": message_type, "profile": {"name": "Jane Doe"},
    }
    if message_type == "text":
        base["text"] = "Hello there"
    base.update(fields)
    return base


def status(value: str = "delivered", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "message_uuid": UUID, "to": "447700900001", "from": "447700900000",
        "timestamp": "2026-12-04T12:00:05.123Z", "status": value, "channel": "sms",
        "client_ref": "order-17",
    }
    base.update(fields)
    return base


def sms_fields(**fields: str | None) -> dict[str, str]:
    base: dict[str, str | None] = {
            "msisdn": "447700900001", "to": "447700900000", "messageId": "0A0000000123ABCD1",
            "text": "Hello & welcome", "type": "text", "keyword": "HELLO",
            "message-timestamp": "2026-12-04 12:00:00", "timestamp": str(int(time.time())),
            "nonce": str(uuid.uuid4())}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def receipt(value: str = "delivered", **fields: str | None) -> dict[str, str]:
    base: dict[str, str | None] = {"msisdn": "447700900001", "to": "ACME", "network-code": "23410",
            "messageId": "0A0000000123ABCD1", "price": "0.03330000", "status": value,
            "scts": "2612041200", "err-code": "0", "message-timestamp": "2026-12-04 12:00:05",
            "client-ref": "order-17", "timestamp": str(int(time.time()))}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def signed(fields: dict[str, str], method: str = "md5", secret: str = SECRET) -> dict[str, str]:
    return {**fields, "sig": compute_sms_signature(fields, secret, method)}


def get_source(fields: dict[str, str]) -> MessageSource:
    return MessageSource(b"", method="GET", url=f"{URL}?{urlencode(fields)}")


def post_source(fields: dict[str, str]) -> MessageSource:
    return MessageSource.url_post(urlencode(fields), url=URL)


async def receive(c: Connector, source: MessageSource) -> Result[ReceiveResult]:
    return await c.receive_messages(source)


async def update(c: Connector, source: MessageSource) -> Result[StatusUpdate]:
    return await c.receive_message_status(source)


def code(result: Result[Any]) -> str | None:
    return result.error.code if result.error is not None else None


# -- Messages API: signatures -----------------------------------------------------------------


async def test_signed_text_message_is_received(connector: HookConnector) -> None:
    result = await receive(connector, jwt_source(inbound(context={"message_uuid": "prev-1"})))
    assert result.error is None and result.data is not None
    (message,) = result.data.messages
    assert message.id == UUID
    assert message.content == TextContent("Hello there")
    assert message.sender is not None and message.receiver is not None
    assert message.sender.type == EndpointType.PHONE_NUMBER
    assert message.sender.address == "+447700900001"
    assert message.receiver.address == "+447700900000"
    assert message.properties["Channel"] == "whatsapp"
    assert message.properties["ProfileName"] == "Jane Doe"
    assert message.properties["context"] == {"message_uuid": "prev-1"}
    assert result.data.additional_data["jti"]


@pytest.mark.parametrize("case", ["no_header", "wrong_secret", "tampered", "stale", "basic"])
async def test_bad_jwt_is_refused_before_the_fields(connector: HookConnector, case: str) -> None:
    body = inbound()
    if case == "no_header":
        source = MessageSource.json(body, url=URL)
    elif case == "wrong_secret":
        source = jwt_source(body, secret=OLD_SECRET)
    elif case == "tampered":
        source = jwt_source(body, raw=json.dumps({**body, "text": "Pay me"}).encode())
    elif case == "stale":
        source = jwt_source(body, iat=time.time() - 3600)
    else:
        source = MessageSource.json(body, url=URL, headers={"Authorization": "Basic abc"})
    result = await receive(connector, source)
    assert code(result) == SIGNATURE
    assert result.error is not None and result.error.domain == "messaging"
    assert SECRET not in repr(result.error)
    # a refused request is not recorded: the genuine one still counts as new
    genuine = await receive(connector, jwt_source(body))
    assert genuine.data is not None and not genuine.data.is_duplicate


async def test_a_bad_signature_wins_over_bad_fields(connector: HookConnector) -> None:
    result = await receive(connector, jwt_source({"nothing": 1}, secret=OLD_SECRET))
    assert code(result) == SIGNATURE
    result = await receive(connector, jwt_source({"nothing": 1}))
    assert code(result) == DATA


async def test_rotation_accepts_the_secondary_secret() -> None:
    c = make(SecondarySignatureSecrets=f"{OLD_SECRET}, other-secret-000000000000000003")
    assert (await receive(c, jwt_source(inbound(), secret=OLD_SECRET))).error is None
    c = make(SecondarySignatureSecrets=None)
    assert code(await receive(c, jwt_source(inbound(), secret=OLD_SECRET))) == SIGNATURE


async def test_max_webhook_age_setting() -> None:
    c = make(MaxWebhookAge=7200)
    assert (await receive(c, jwt_source(inbound(), iat=time.time() - 3600))).error is None


async def test_validation_can_be_turned_off_and_needs_a_secret_otherwise() -> None:
    off = make(SignatureSecret=None, ValidateSignatures="false")
    assert (await receive(off, MessageSource.json(inbound(), url=URL))).error is None
    none = make(SignatureSecret=None)
    result = await receive(none, jwt_source(inbound()))
    assert code(result) == MessagingErrorCodes.INVALID_CONFIGURATION


# -- Messages API: inbound types ----------------------------------------------------------------


@pytest.mark.parametrize("kind,media", [("image", MediaType.IMAGE), ("audio", MediaType.AUDIO),
                                        ("video", MediaType.VIDEO), ("file", MediaType.FILE)])
async def test_media_messages(connector: HookConnector, kind: str, media: MediaType) -> None:
    body = inbound(kind, **{kind: {"url": f"https://api.nexmo.com/media/{kind}", "name": "x.bin"}})
    result = await receive(connector, jwt_source(body))
    assert result.data is not None
    assert result.data.messages[0].content == MediaContent(
        media, file_name="x.bin", file_url=f"https://api.nexmo.com/media/{kind}")


async def test_media_with_caption_is_text_and_media(connector: HookConnector) -> None:
    body = inbound("image", image={"url": "https://x.example/a.jpg", "caption": "Look"})
    result = await receive(connector, jwt_source(body))
    assert result.data is not None
    content = result.data.messages[0].content
    assert isinstance(content, MultipartContent)
    assert content.parts[0] == TextContent("Look")
    assert isinstance(content.parts[1], MediaContent)


async def test_location_reply_button_and_other_types(connector: HookConnector) -> None:
    location = inbound("location", location={"lat": 51.5, "long": -0.12, "name": "Office",
                                             "address": "1 Main St"})
    reply = inbound("reply", reply={"id": "row-1", "title": "Yes please"},
                    context={"message_uuid": "prev-2", "message_from": "447700900000"})
    button = inbound("button", button={"text": "Stop", "payload": "STOP"})
    sticker = inbound("sticker", sticker={"url": "https://x.example/s.webp"})
    got = []
    for body in (location, reply, button, sticker):
        result = await receive(connector, jwt_source({**body, "message_uuid": str(uuid.uuid4())}))
        assert result.data is not None, result.error
        got.append(result.data.messages[0])
    assert got[0].content == LocationContent(51.5, -0.12, label="Office", address="1 Main St")
    assert got[1].content == ButtonContent("Yes please", "row-1")
    assert got[1].properties["context"]["message_uuid"] == "prev-2"
    assert got[2].content == ButtonContent("Stop", "STOP")
    assert got[3].content == JsonContent({"url": "https://x.example/s.webp"})


@pytest.mark.parametrize("body", [
    inbound(text=None),
    {k: v for k, v in inbound().items() if k != "message_uuid"},
    {k: v for k, v in inbound().items() if k != "from"},
    inbound("image", image={"name": "no-url"}),
    inbound("location", location={"lat": 91, "long": 0}),
    inbound("reply", reply={"id": "x"}),
])
async def test_malformed_inbound_is_invalid_data(connector: HookConnector,
                                                 body: dict[str, Any]) -> None:
    body = {k: v for k, v in body.items() if v is not None}
    result = await receive(connector, jwt_source(body))
    assert code(result) == DATA
    assert result.error is not None and result.error.issues


async def test_unreadable_json_is_invalid_data(connector: HookConnector) -> None:
    result = await receive(connector, jwt_source(b"{not json"))
    assert code(result) == DATA
    result = await receive(connector, jwt_source(b"[1, 2]"))
    assert code(result) == DATA


# -- Messages API: statuses -----------------------------------------------------------------------


@pytest.mark.parametrize("value,expected", [
    ("submitted", MessageStatus.SENT), ("delivered", MessageStatus.DELIVERED),
    ("rejected", MessageStatus.ROUTE_FAILED), ("undeliverable", MessageStatus.DELIVERY_FAILED),
    ("read", MessageStatus.READ), ("brand-new", MessageStatus.UNKNOWN),
])
async def test_messages_statuses(connector: HookConnector, value: str,
                                 expected: MessageStatus) -> None:
    result = await update(connector, jwt_source(status(value)))
    assert result.data is not None
    assert result.data.status == expected
    assert result.data.provider_status == value
    assert result.data.remote_message_id == UUID
    assert result.data.additional_data["client_ref"] == "order-17"


async def test_messages_status_error_and_usage(connector: HookConnector) -> None:
    body = status("rejected", error={
        "type": "https://developer.vonage.com/api-errors/messages-olympus#1330",
        "title": "1330", "detail": "The number is not reachable"},
        usage={"currency": "EUR", "price": "0.0333"})
    result = await update(connector, jwt_source(body))
    assert result.data is not None
    assert result.data.price == Decimal("0.0333") and result.data.price_unit == "EUR"
    assert result.data.error is not None
    assert result.data.error.provider_code == "1330"
    assert "not reachable" in result.data.error.message
    assert result.data.date_updated is not None and result.data.date_updated.year == 2026


async def test_messages_status_bad_price_is_invalid_data(connector: HookConnector) -> None:
    result = await update(connector, jwt_source(status(usage={"price": "cheap"})))
    assert code(result) == DATA


async def test_retried_status_is_a_duplicate(connector: HookConnector) -> None:
    first = await update(connector, jwt_source(status()))
    again = await update(connector, jwt_source(status()))  # a new token, the same content
    later = await update(connector, jwt_source(status("read")))
    assert first.data is not None and not first.data.is_duplicate
    assert again.data is not None and again.data.is_duplicate
    assert later.data is not None and not later.data.is_duplicate


async def test_retried_inbound_is_a_duplicate_and_the_store_can_be_shared() -> None:
    store = InMemoryDeduplicationStore()
    a, b = make(), make()
    a.dedup_store = b.dedup_store = store
    first = await receive(a, jwt_source(inbound()))
    again = await receive(b, jwt_source(inbound()))
    assert first.data is not None and len(first.data.messages) == 1
    assert again.data is not None and again.data.is_duplicate and again.data.messages == ()


async def test_a_failing_store_is_an_error_result() -> None:
    class Broken:
        def seen(self, key: str) -> bool:
            raise RuntimeError("store down")

    c = make()
    c.dedup_store = Broken()
    assert code(await receive(c, jwt_source(inbound()))) == \
        ConnectorErrorCodes.RECEIVE_MESSAGES_ERROR
    assert code(await update(c, jwt_source(status()))) == ConnectorErrorCodes.RECEIVE_STATUS_ERROR


# -- SMS API -------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["md5", "sha1", "sha256", "sha512"])
@pytest.mark.parametrize("transport", ["get", "post", "json"])
async def test_sms_inbound_signed_each_method(method: str, transport: str) -> None:
    c = make(SignatureMethod=method)
    fields = signed(sms_fields(), method)
    source = {"get": get_source, "post": post_source,
              "json": lambda f: MessageSource.json(f, url=URL)}[transport](fields)
    result = await receive(c, source)
    assert result.data is not None, result.error
    (message,) = result.data.messages
    assert message.id == "0A0000000123ABCD1"
    assert message.content == TextContent("Hello & welcome")
    assert message.sender is not None and message.sender.address == "+447700900001"
    assert message.properties["keyword"] == "HELLO"
    assert "sig" not in message.properties


async def test_the_sdk_accepts_the_parameters_we_accept() -> None:
    fields = signed(sms_fields(), "sha256")
    sdk = Auth(api_key="abcd1234", signature_secret=SECRET, signature_method="sha256")
    assert sdk.check_signature(dict(fields)) is True
    result = await receive(make(SignatureMethod="sha256"), get_source(fields))
    assert result.error is None


@pytest.mark.parametrize("case", ["unsigned", "wrong_secret", "changed", "missing", "extra",
                                  "stale", "wrong_method"])
async def test_bad_sms_signatures_are_refused(connector: HookConnector, case: str) -> None:
    fields = signed(sms_fields())
    if case == "unsigned":
        fields.pop("sig")
    elif case == "wrong_secret":
        fields = signed(sms_fields(), secret=OLD_SECRET)
    elif case == "changed":
        fields["text"] = "Pay me"
    elif case == "missing":
        fields.pop("keyword")
    elif case == "extra":
        fields["extra"] = "1"
    elif case == "stale":
        fields = signed(sms_fields(timestamp=str(int(time.time()) - 3600)))
    else:
        fields = signed(sms_fields(), "sha1")
    assert code(await receive(connector, get_source(fields))) == SIGNATURE


async def test_sms_concat_parts_are_kept(connector: HookConnector) -> None:
    fields = signed(sms_fields(concat="true", **{"concat-ref": "17", "concat-total": "2",
                                                 "concat-part": "1"}))
    result = await receive(connector, post_source(fields))
    assert result.data is not None
    assert result.data.additional_data["concat"] == {
        "concat": "true", "concat-ref": "17", "concat-total": "2", "concat-part": "1"}
    assert result.data.messages[0].properties["concat-part"] == "1"


async def test_sms_repeated_parameter_is_invalid_data(connector: HookConnector) -> None:
    body = urlencode(signed(sms_fields())) + "&to=447700900002"
    result = await receive(connector, MessageSource.url_post(body, url=URL))
    assert code(result) == DATA


async def test_get_without_a_url_is_refused(connector: HookConnector) -> None:
    result = await receive(connector, MessageSource(b"", method="GET"))
    assert code(result) == SIGNATURE


@pytest.mark.parametrize("value,expected", [
    ("delivered", MessageStatus.DELIVERED), ("expired", MessageStatus.DELIVERY_FAILED),
    ("failed", MessageStatus.DELIVERY_FAILED), ("rejected", MessageStatus.ROUTE_FAILED),
    ("accepted", MessageStatus.SENT), ("buffered", MessageStatus.SENT),
    ("unknown", MessageStatus.UNKNOWN),
])
async def test_sms_delivery_receipts(connector: HookConnector, value: str,
                                     expected: MessageStatus) -> None:
    result = await update(connector, get_source(signed(receipt(value))))
    assert result.data is not None, result.error
    assert result.data.status == expected and result.data.provider_status == value
    assert result.data.price == Decimal("0.03330000")
    assert result.data.error is None
    assert result.data.additional_data["client-ref"] == "order-17"
    assert "sig" not in result.data.additional_data


async def test_sms_receipt_error_code_and_duplicates(connector: HookConnector) -> None:
    fields = receipt("failed", **{"err-code": "6"})
    result = await update(connector, post_source(signed(fields)))
    assert result.data is not None and result.data.error is not None
    assert result.data.error.provider_code == "6"
    assert result.data.error.code == MessagingErrorCodes.MESSAGE_ROUTING_FAILED
    again = await update(connector, post_source(signed(fields)))  # Vonage's retry
    assert again.data is not None and again.data.is_duplicate


async def test_sms_receipt_bad_fields_are_invalid_data(connector: HookConnector) -> None:
    assert code(await update(connector, get_source(signed(receipt(**{"err-code": "x"}))))) == DATA
    assert code(await update(connector, get_source(signed(receipt(price="free"))))) == DATA
    assert code(await update(connector, get_source(signed(receipt(status=None))))) == DATA


# -- classification and reply ------------------------------------------------------------------


def test_classify_webhook(connector: HookConnector) -> None:
    assert connector.classify_webhook(jwt_source(status())) == WebhookKind.STATUS
    assert connector.classify_webhook(jwt_source(inbound())) == WebhookKind.MESSAGE
    assert connector.classify_webhook(get_source(signed(receipt()))) == WebhookKind.STATUS
    assert connector.classify_webhook(post_source(signed(sms_fields()))) == WebhookKind.MESSAGE
    assert connector.classify_webhook(MessageSource.json(b"{bad")) == WebhookKind.MESSAGE


def test_webhook_reply_is_an_empty_200(connector: HookConnector) -> None:
    reply = connector.webhook_reply(WebhookKind.MESSAGE)
    assert reply.status_code == 200 and reply.body == b""
    custom = WebhookReply.text(204, "ok")
    assert connector.webhook_reply(WebhookKind.STATUS, custom) is custom


async def test_oversized_and_wrong_method_are_invalid_data(connector: HookConnector) -> None:
    big = MessageSource.json(b"{" + b" " * (64 * 1024) + b"}", url=URL)
    assert code(await receive(connector, big)) == DATA
    put = MessageSource(b"{}", "application/json", "PUT", URL)
    assert code(await receive(connector, put)) == DATA
