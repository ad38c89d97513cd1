"""Twilio webhooks through the connector: signatures, inbound messages, status callbacks,
retries."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pluggy
import pytest

import ratatosk.hookspecs
from ratatosk import (
    ButtonContent,
    Endpoint,
    EndpointType,
    LocationContent,
    MediaContent,
    MediaType,
    Message,
    MessageSource,
    MessageStatus,
    MessagingErrorCodes,
    MultipartContent,
    ReceiveResult,
    Result,
    StatusUpdate,
    TextContent,
    WebhookKind,
    WebhookReply,
    hookimpl,
)
from ratatosk._dedup import InMemoryDeduplicationStore
from ratatosk.connector import Connector
from ratatosk_twilio import TwilioSmsConnector, TwilioWhatsAppConnector
from ratatosk_twilio._status import TWILIO_STATUSES, map_twilio_status
from ratatosk_twilio._webhooks import classify_webhook, resolve_public_url
from ratatosk_twilio.signature import body_sha256, compute_signature
from ratatosk_twilio.twiml import TwiML

TOKEN = "primary-auth-token-0001"
OLD_TOKEN = "previous-auth-token-0002"
PUBLIC = "https://hooks.example.com/twilio/sms"
ACCOUNT = "AC" + "0" * 32
SID = "SM" + "a" * 32
API_KEY = {"ApiKeySid": "SK" + "1" * 32, "ApiKeySecret": "api-key-secret-0003"}
DATA = MessagingErrorCodes.INVALID_WEBHOOK_DATA
SIGNATURE = MessagingErrorCodes.INVALID_WEBHOOK_SIGNATURE

Pairs = list[tuple[str, str]]


# -- a connector ------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.updates: list[StatusUpdate] = []

    @hookimpl
    def ratatosk_message_received(self, connector: Connector, message: Message) -> None:
        self.messages.append(message)

    @hookimpl
    def ratatosk_status_received(self, connector: Connector, update: StatusUpdate) -> None:
        self.updates.append(update)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make(recorder: Recorder) -> Iterator[Callable[..., Connector]]:
    manager = pluggy.PluginManager("ratatosk")
    manager.add_hookspecs(ratatosk.hookspecs)
    manager.register(recorder)

    def build(cls: type[Connector] = TwilioSmsConnector, **settings: Any) -> Connector:
        values: dict[str, Any] = {"AccountSid": ACCOUNT, "AuthToken": TOKEN}
        values.update(settings)
        values = {k: v for k, v in values.items() if v is not None}
        return cls(settings=values, plugin_manager=manager)

    yield build


# -- requests ---------------------------------------------------------------------------------


def inbound(**fields: str) -> Pairs:
    base = {
        "ToCountry": "US", "SmsMessageSid": SID, "NumMedia": "0", "SmsSid": SID,
        "SmsStatus": "received", "Body": "Hello there", "To": "+15005550006",
        "NumSegments": "1", "MessageSid": SID, "AccountSid": ACCOUNT, "From": "+14155550100",
        "ApiVersion": "2010-04-01", "FromCity": "SAN FRANCISCO",
    }
    base.update(fields)
    return [(k, v) for k, v in base.items() if v is not None]


def status(value: str = "delivered", **fields: str) -> Pairs:
    base = {
        "SmsSid": SID, "SmsStatus": value, "MessageStatus": value, "To": "+14155550100",
        "MessageSid": SID, "AccountSid": ACCOUNT, "From": "+15005550006",
        "ApiVersion": "2010-04-01",
    }
    base.update(fields)
    return [(k, v) for k, v in base.items() if v is not None]


def signed(
    params: Sequence[tuple[str, str]],
    *,
    url: str = PUBLIC,
    token: str = TOKEN,
    request_url: str | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> MessageSource:
    """A form POST signed the way Twilio signs it for ``url``, arriving at ``request_url``."""
    all_headers = {"X-Twilio-Signature": compute_signature(token, url, list(params))}
    all_headers.update(headers or {})
    raw = body if body is not None else urlencode(list(params)).encode()
    return MessageSource.url_post(raw, url=request_url or url, headers=all_headers)


async def receive(connector: Connector, source: MessageSource) -> Result[ReceiveResult]:
    return await connector.receive_messages(source)


def error_code(result: Result[Any]) -> str | None:
    return result.error.code if result.error is not None else None


# -- the signature ------------------------------------------------------------------------------

VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+14158675309"), ("Digits", "1234"),
          ("From", "+14158675309"), ("To", "+18005551212")]
VECTOR_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


@pytest.mark.parametrize("configured", [True, False])
async def test_published_vector_passes_the_signature_check(
    make: Callable[..., Connector], configured: bool
) -> None:
    connector = make(AuthToken="12345", WebhookUrl=VECTOR_URL if configured else None)
    source = MessageSource.url_post(urlencode(VECTOR), url=VECTOR_URL,
                                    headers={"X-Twilio-Signature": VECTOR_SIGNATURE})
    result = await receive(connector, source)
    # the signature is good; the vector is a voice request, so it has no MessageSid
    assert error_code(result) == DATA
    assert result.error is not None
    assert [i.field for i in result.error.issues] == ["MessageSid"]

    tampered = MessageSource.url_post(urlencode([*VECTOR[:2], ("Digits", "1235"), *VECTOR[3:]]),
                                      url=VECTOR_URL,
                                      headers={"X-Twilio-Signature": VECTOR_SIGNATURE})
    assert error_code(await receive(connector, tampered)) == SIGNATURE
    wrong_token = make(AuthToken="54321", WebhookUrl=VECTOR_URL)
    assert error_code(await receive(wrong_token, source)) == SIGNATURE


@pytest.mark.parametrize("cls", [TwilioSmsConnector, TwilioWhatsAppConnector])
async def test_both_connectors_receive_signed_webhooks(
    make: Callable[..., Connector], cls: type[Connector]
) -> None:
    connector = make(cls)
    result = await receive(connector, signed(inbound(From="whatsapp:+14155550100")))
    assert result.is_success, result.error
    assert result.data is not None and len(result.data.messages) == 1
    update = await connector.receive_message_status(signed(status("read")))
    assert update.data is not None and update.data.status is MessageStatus.READ
    forged = await receive(connector, signed(inbound(MessageSid="SM2"), token="forged"))
    assert error_code(forged) == SIGNATURE


async def test_missing_signature_is_rejected(make: Callable[..., Connector]) -> None:
    source = MessageSource.url_post(urlencode(inbound()), url=PUBLIC)
    result = await receive(make(), source)
    assert error_code(result) == SIGNATURE
    assert result.error is not None and result.error.details["reason"] == "missing"
    empty = MessageSource.url_post(urlencode(inbound()), url=PUBLIC,
                                   headers={"X-Twilio-Signature": "  "})
    assert error_code(await receive(make(), empty)) == SIGNATURE


async def test_unknown_url_is_rejected_by_default(make: Callable[..., Connector]) -> None:
    source = signed(inbound())
    without_url = MessageSource.url_post(source.body, headers=source.headers)
    result = await receive(make(), without_url)
    assert error_code(result) == SIGNATURE
    assert result.error is not None and result.error.details["reason"] == "no_url"
    # the configured URL makes the same request acceptable
    assert (await receive(make(WebhookUrl=PUBLIC), without_url)).is_success


async def test_validation_can_be_switched_off_explicitly(make: Callable[..., Connector]) -> None:
    bare = MessageSource.url_post(urlencode(inbound()))
    assert (await receive(make(ValidateSignatures="false"), bare)).is_success
    api_key = make(ValidateSignatures="false", AuthToken=None, **API_KEY)
    assert (await receive(api_key, bare)).is_success
    forged = MessageSource.url_post(urlencode(inbound()), url=PUBLIC,
                                    headers={"X-Twilio-Signature": "Zm9yZ2Vk"})
    assert (await receive(make(ValidateSignatures=False), forged)).is_success


async def test_without_an_auth_token_validation_is_a_configuration_error(
    make: Callable[..., Connector],
) -> None:
    # an API key authenticates the REST calls, but Twilio signs webhooks with the auth token
    result = await receive(make(AuthToken=None, **API_KEY), signed(inbound()))
    assert error_code(result) == MessagingErrorCodes.INVALID_CONFIGURATION
    assert result.error is not None and "AuthToken" in result.error.message


async def test_tokens_during_a_rotation(make: Callable[..., Connector]) -> None:
    old = signed(inbound(), token=OLD_TOKEN)
    assert error_code(await receive(make(), old)) == SIGNATURE
    rotating = make(SecondaryAuthTokens=f" other-token , {OLD_TOKEN} ")
    assert (await receive(rotating, old)).is_success
    assert (await receive(rotating, signed(inbound(MessageSid="SM2")))).is_success
    assert error_code(await receive(rotating, signed(inbound(MessageSid="SM3"),
                                                     token="someone-else"))) == SIGNATURE


async def test_secrets_never_appear_in_errors(make: Callable[..., Connector]) -> None:
    connector = make(SecondaryAuthTokens=OLD_TOKEN)
    result = await receive(connector, signed(inbound(), token="attacker"))
    assert result.error is not None
    text = repr(result) + str(result.error)
    assert TOKEN not in text and OLD_TOKEN not in text


async def test_the_signature_is_checked_before_the_fields(make: Callable[..., Connector]) -> None:
    broken = inbound(MessageSid=None, From=None)  # type: ignore[arg-type]
    assert error_code(await receive(make(), signed(broken, token="wrong"))) == SIGNATURE
    assert error_code(await receive(make(), signed(broken))) == DATA


async def test_configured_url_wins_over_the_request_url(make: Callable[..., Connector]) -> None:
    internal = "http://10.0.0.5:8000/twilio/sms"
    source = signed(inbound(), url=PUBLIC, request_url=internal)
    assert error_code(await receive(make(), source)) == SIGNATURE
    assert (await receive(make(WebhookUrl=PUBLIC), source)).is_success
    # a request that was really signed for the internal URL does not pass the configured one
    spoofed = signed(inbound(MessageSid="SM9"), url=internal)
    assert error_code(await receive(make(WebhookUrl=PUBLIC), spoofed)) == SIGNATURE


async def test_the_request_query_joins_a_configured_url_without_one(
    make: Callable[..., Connector],
) -> None:
    twilio_called = PUBLIC + "?tenant=7&x=a%20b"
    source = signed(inbound(), url=twilio_called,
                    request_url="http://10.0.0.5:8000/twilio/sms?tenant=7&x=a%20b")
    assert (await receive(make(WebhookUrl=PUBLIC), source)).is_success
    # a configured URL with a query is used exactly as configured
    configured = PUBLIC + "?tenant=7"
    other = signed(inbound(MessageSid="SM5"), url=configured,
                   request_url="http://10.0.0.5:8000/twilio/sms?tenant=8")
    assert (await receive(make(WebhookUrl=configured), other)).is_success


async def test_the_default_port_may_or_may_not_be_signed(make: Callable[..., Connector]) -> None:
    with_port = "https://hooks.example.com:443/twilio/sms"
    assert (await receive(make(WebhookUrl=PUBLIC), signed(inbound(), url=with_port))).is_success
    assert (await receive(make(WebhookUrl=with_port),
                          signed(inbound(MessageSid="SM2"), url=PUBLIC))).is_success


async def test_a_fragment_in_the_configured_url_is_not_required(
    make: Callable[..., Connector],
) -> None:
    connector = make(WebhookUrl=PUBLIC + "#rc=2&rp=all")
    assert (await receive(connector, signed(inbound(), url=PUBLIC))).is_success
    assert (await receive(connector, signed(inbound(MessageSid="SM2"),
                                            url=PUBLIC + "#rc=2&rp=all"))).is_success


async def test_status_callbacks_validate_against_status_callback_then_webhook_url(
    make: Callable[..., Connector],
) -> None:
    callback = "https://hooks.example.com/twilio/status"
    request = signed(status(), url=callback, request_url="http://internal/status")
    assert (await make(StatusCallback=callback, WebhookUrl=PUBLIC)
            .receive_message_status(request)).is_success
    assert error_code(await make(WebhookUrl=PUBLIC).receive_message_status(request)) == SIGNATURE
    to_webhook = signed(status(), url=PUBLIC, request_url="http://internal/status")
    assert (await make(WebhookUrl=PUBLIC).receive_message_status(to_webhook)).is_success


@pytest.mark.parametrize("trusted", [False, True])
async def test_forwarded_headers_only_when_trusted(
    make: Callable[..., Connector], trusted: bool
) -> None:
    source = signed(
        inbound(), url=PUBLIC, request_url="http://10.0.0.5:8000/twilio/sms",
        headers={"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "hooks.example.com"},
    )
    result = await receive(make(TrustForwardedHeaders=trusted), source)
    assert result.is_success is trusted
    if not trusted:
        assert error_code(result) == SIGNATURE


@pytest.mark.parametrize(
    ("url", "headers", "trust", "expected"),
    [
        ("http://127.0.0.1:8000/t?a=1", {"X-Forwarded-Proto": "https"}, True,
         "https://127.0.0.1:8000/t?a=1"),
        ("http://127.0.0.1:8000/t", {"X-Forwarded-Proto": "https"}, False,
         "http://127.0.0.1:8000/t"),
        ("http://10.0.0.5:8000/t", {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "a.example",
                                    "X-Forwarded-Port": "443"}, True, "https://a.example/t"),
        ("http://10.0.0.5:8000/t", {"X-Forwarded-Proto": "https,http",
                                    "X-Forwarded-Host": "a.example, b.example",
                                    "X-Forwarded-Port": "8443, 80"}, True,
         "https://a.example:8443/t"),
        ("http://10.0.0.5:8000/t", {"X-Forwarded-Host": "a.example:9000"}, True,
         "http://a.example:9000/t"),
        # nonsense in the headers is ignored, not trusted
        ("http://10.0.0.5:8000/t", {"X-Forwarded-Proto": "gopher",
                                    "X-Forwarded-Host": "evil.example/path?",
                                    "X-Forwarded-Port": "99999"}, True, "http://10.0.0.5:8000/t"),
    ],
)
def test_resolve_public_url_from_forwarded_headers(
    url: str, headers: dict[str, str], trust: bool, expected: str
) -> None:
    source = MessageSource.url_post(b"", url=url, headers=headers)
    assert resolve_public_url(source, trust_forwarded=trust) == expected


def test_resolve_public_url_configured_and_query_rule() -> None:
    source = MessageSource.url_post(b"", url="http://internal:8000/x?q=1&r=%20",
                                    headers={"X-Forwarded-Proto": "https"})
    assert resolve_public_url(source, configured_url="https://pub.example/x",
                              trust_forwarded=True) == "https://pub.example/x?q=1&r=%20"
    assert resolve_public_url(source, configured_url="https://pub.example/x?fixed=1") == (
        "https://pub.example/x?fixed=1")
    assert resolve_public_url(MessageSource.url_post(b"")) is None
    assert resolve_public_url(MessageSource.url_post(b""), configured_url="https://p/x") == (
        "https://p/x")


async def test_json_bodies_are_checked_through_body_sha256(make: Callable[..., Connector]) -> None:
    body = b'{"MessageSid": "SM1"}'
    url = f"{PUBLIC}?bodySHA256={body_sha256(body)}"
    good = MessageSource.json(body, url=url,
                              headers={"X-Twilio-Signature": compute_signature(TOKEN, url)})
    # signed correctly, but messaging webhooks are forms
    result = await receive(make(), good)
    assert error_code(result) == DATA and result.error is not None
    assert "form-encoded" in result.error.message
    tampered = MessageSource.json(b'{"MessageSid": "SM2"}', url=url, headers=good.headers)
    assert error_code(await receive(make(), tampered)) == SIGNATURE


async def test_get_webhooks_carry_their_fields_in_the_signed_url(
    make: Callable[..., Connector],
) -> None:
    url = f"{PUBLIC}?{urlencode(inbound())}"
    source = MessageSource(b"", content_type="", method="GET", url=url,
                           headers={"X-Twilio-Signature": compute_signature(TOKEN, url)})
    result = await receive(make(), source)
    assert result.is_success, result.error
    assert result.data is not None and result.data.messages[0].text == "Hello there"


# -- inbound messages ---------------------------------------------------------------------------


async def test_text_message(make: Callable[..., Connector]) -> None:
    before = datetime.now(timezone.utc)
    result = await receive(make(), signed(inbound(Body="Hi+there & more")))
    assert result.data is not None
    (message,) = result.data.messages
    assert message.id == SID
    assert message.sender == Endpoint(EndpointType.PHONE_NUMBER, "+14155550100")
    assert message.receiver == Endpoint(EndpointType.PHONE_NUMBER, "+15005550006")
    assert message.content == TextContent("Hi+there & more")
    props = message.properties
    for consumed in ("Body", "From", "To", "MessageSid"):
        assert consumed not in props
    assert props["SmsSid"] == SID and props["AccountSid"] == ACCOUNT
    assert props["NumSegments"] == "1" and props["FromCity"] == "SAN FRANCISCO"
    assert props["Channel"] == "sms"
    received = datetime.fromisoformat(props["ReceivedAt"])
    assert before <= received <= datetime.now(timezone.utc)
    assert result.data.additional_data["received_at"] == props["ReceivedAt"]


async def test_plus_in_the_raw_body_is_a_space(make: Callable[..., Connector]) -> None:
    raw = urlencode(inbound(Body="two words")).encode()
    assert b"two+words" in raw
    result = await receive(make(), signed(inbound(Body="two words"), body=raw))
    assert result.data is not None and result.data.messages[0].text == "two words"


async def test_mms_media_only(make: Callable[..., Connector]) -> None:
    base = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/{SID}/Media"
    params = inbound(Body="", NumMedia="2", MediaUrl0=f"{base}/ME1",
                     MediaContentType0="image/jpeg", MediaUrl1=f"{base}/ME2",
                     MediaContentType1="video/mp4")
    result = await receive(make(), signed(params))
    assert result.data is not None
    (message,) = result.data.messages
    assert message.content == MultipartContent((
        MediaContent(MediaType.IMAGE, "ME1", f"{base}/ME1", content_type="image/jpeg"),
        MediaContent(MediaType.VIDEO, "ME2", f"{base}/ME2", content_type="video/mp4"),
    ))
    assert message.text is None
    assert message.properties["Channel"] == "mms"
    assert message.properties["NumMedia"] == "2"
    assert not any(k.startswith("MediaUrl") for k in message.properties)


async def test_text_and_media_together(make: Callable[..., Connector]) -> None:
    params = inbound(Body="see attached", NumMedia="1",
                     MediaUrl0="https://media.example/ME1", MediaContentType0="application/pdf")
    result = await receive(make(), signed(params))
    assert result.data is not None
    message = result.data.messages[0]
    assert isinstance(message.content, MultipartContent)
    assert message.text == "see attached"
    assert message.media == (MediaContent(MediaType.DOCUMENT, "ME1", "https://media.example/ME1",
                                          content_type="application/pdf"),)


@pytest.mark.parametrize(
    ("content_type", "media_type"),
    [("image/png", MediaType.IMAGE), ("audio/ogg", MediaType.AUDIO),
     ("video/3gpp", MediaType.VIDEO), ("application/pdf", MediaType.DOCUMENT),
     ("text/vcard", MediaType.FILE), ("application/octet-stream", MediaType.FILE)],
)
async def test_single_media_type_from_content_type(
    make: Callable[..., Connector], content_type: str, media_type: MediaType
) -> None:
    params = inbound(Body="", NumMedia="1", MediaUrl0="https://m.example/ME1",
                     MediaContentType0=content_type)
    result = await receive(make(), signed(params))
    assert result.data is not None
    content = result.data.messages[0].content
    assert isinstance(content, MediaContent)
    assert content.media_type is media_type and content.content_type == content_type


async def test_whatsapp_message(make: Callable[..., Connector]) -> None:
    params = inbound(
        From="whatsapp:+14155550100", To="whatsapp:+15005550006", ProfileName="Ada",
        WaId="14155550100", MessageType="text", OriginalRepliedMessageSid="SM" + "b" * 32,
        ReferralSourceUrl="https://fb.example/ad", ReferralSourceType="ad",
        ReferralHeadline="Spring sale", ReferralCtwaClid="ARAk",
    )
    result = await receive(make(TwilioWhatsAppConnector), signed(params))
    assert result.data is not None
    message = result.data.messages[0]
    assert message.sender == Endpoint(EndpointType.PHONE_NUMBER, "whatsapp:+14155550100")
    assert message.receiver == Endpoint(EndpointType.PHONE_NUMBER, "whatsapp:+15005550006")
    props = message.properties
    assert props["Channel"] == "whatsapp"
    assert props["ProfileName"] == "Ada" and props["WaId"] == "14155550100"
    assert props["OriginalRepliedMessageSid"] == "SM" + "b" * 32
    assert props["ReferralSourceUrl"] == "https://fb.example/ad"
    assert props["ReferralHeadline"] == "Spring sale" and props["ReferralCtwaClid"] == "ARAk"


async def test_whatsapp_location(make: Callable[..., Connector]) -> None:
    params = inbound(From="whatsapp:+14155550100", Body="", MessageType="location",
                     Latitude="37.7749", Longitude="-122.4194", Address="1 Market St",
                     Label="Office")
    result = await receive(make(), signed(params))
    assert result.data is not None
    message = result.data.messages[0]
    assert message.content == LocationContent(37.7749, -122.4194, label="Office",
                                              address="1 Market St")
    assert "Latitude" not in message.properties and message.properties["MessageType"] == "location"


async def test_whatsapp_button_reply(make: Callable[..., Connector]) -> None:
    params = inbound(From="whatsapp:+14155550100", Body="Yes", MessageType="button",
                     ButtonText="Yes", ButtonPayload="confirm-123")
    result = await receive(make(), signed(params))
    assert result.data is not None
    message = result.data.messages[0]
    assert message.content == MultipartContent((TextContent("Yes"),
                                                ButtonContent("Yes", "confirm-123")))
    assert "ButtonPayload" not in message.properties


@pytest.mark.parametrize(
    ("address", "endpoint_type"),
    [("+14155550100", EndpointType.PHONE_NUMBER), ("12345", EndpointType.PHONE_NUMBER),
     ("whatsapp:+14155550100", EndpointType.PHONE_NUMBER), ("ACME Corp", EndpointType.LABEL),
     ("messenger:1234567890", EndpointType.ID), ("client:alice", EndpointType.ID)],
)
async def test_endpoint_types(
    make: Callable[..., Connector], address: str, endpoint_type: EndpointType
) -> None:
    result = await receive(make(), signed(inbound(From=address)))
    assert result.data is not None
    assert result.data.messages[0].sender == Endpoint(endpoint_type, address)


async def test_unknown_fields_are_kept(make: Callable[..., Connector]) -> None:
    params = [*inbound(), ("BrandNewField", "x"), ("Tag", "a"), ("Tag", "b")]
    result = await receive(make(), signed(params))
    assert result.data is not None
    props = result.data.messages[0].properties
    assert props["BrandNewField"] == "x" and props["Tag"] == ["a", "b"]


def test_classify_webhook() -> None:
    assert classify_webhook(inbound()) == "message"
    assert classify_webhook(status()) == "status"
    assert classify_webhook(status("received")) == "status"
    assert classify_webhook([("MessageSid", SID)]) == "message"


@pytest.mark.parametrize("cls", [TwilioSmsConnector, TwilioWhatsAppConnector])
def test_the_connectors_classify_webhooks_for_the_web_endpoints(
    make: Callable[..., Connector], cls: type[Connector]
) -> None:
    connector = make(cls)
    form = "application/x-www-form-urlencoded"
    assert connector.classify_webhook(MessageSource(urlencode(inbound()), form)) \
        is WebhookKind.MESSAGE
    assert connector.classify_webhook(MessageSource(urlencode(status()), form)) \
        is WebhookKind.STATUS
    # a GET webhook's fields are its query string
    get = MessageSource(b"", "", method="GET", url=PUBLIC + "?" + urlencode(status("sent")))
    assert connector.classify_webhook(get) is WebhookKind.STATUS
    # not a readable form: a message, so that receive_messages answers with the right error
    assert connector.classify_webhook(MessageSource(b"\xff=\xfe", form)) is WebhookKind.MESSAGE


def test_the_connectors_answer_twiml(make: Callable[..., Connector]) -> None:
    connector = make()
    empty = connector.webhook_reply(WebhookKind.STATUS)
    assert empty == WebhookReply(200, TwiML.EMPTY.encode(), "text/xml")
    assert connector.webhook_reply(WebhookKind.MESSAGE, None) == empty
    reply = connector.webhook_reply(WebhookKind.MESSAGE, TwiML.message("Hi & bye"))
    assert reply.content_type == "text/xml" and b"<Message>Hi &amp; bye</Message>" in reply.body
    assert connector.webhook_reply(WebhookKind.MESSAGE, "<Response/>").body == b"<Response/>"
    assert connector.webhook_reply(WebhookKind.MESSAGE, b"<Response/>").body == b"<Response/>"
    mine = WebhookReply(204, b"", "text/plain")
    assert connector.webhook_reply(WebhookKind.MESSAGE, mine) is mine
    with pytest.raises(TypeError, match="TwiML"):
        connector.webhook_reply(WebhookKind.MESSAGE, 42)


async def test_a_refused_signature_says_which_url_was_checked(
    make: Callable[..., Connector]
) -> None:
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.example.com",
               "X-Forwarded-Port": "not-a-port"}
    source = signed(inbound(), token="wrong-token", request_url="http://internal:8000/twilio/sms",
                    headers=headers)
    result = await receive(make(TrustForwardedHeaders="true"), source)
    assert result.error is not None and result.error.code == SIGNATURE
    details = result.error.details
    assert details["url"] == "https://hooks.example.com/twilio/sms"
    assert details["url_from"] == "request"
    assert details["forwarded_headers"] == ["X-Forwarded-Proto", "X-Forwarded-Host"]
    assert details["forwarded_headers_ignored"] == ["X-Forwarded-Port"]
    unsigned = await make(StatusCallback=PUBLIC).receive_message_status(
        MessageSource.url_post(urlencode(status()), url="http://x/y?n=1",
                               headers={"X-Forwarded-Host": "a.example"}))
    assert unsigned.error is not None
    assert unsigned.error.details == {
        "reason": "missing", "url": PUBLIC + "?n=1", "url_from": "StatusCallback",
        "forwarded_headers": [], "forwarded_headers_ignored": ["X-Forwarded-Host"],
        "trust_forwarded_headers": False}
    # the URL a kind of webhook is checked against, for the enum as for its string value
    plain = MessageSource.url_post(b"", url="http://x/y")
    connector = make(StatusCallback=PUBLIC)
    assert (await connector.initialize()).is_success
    for kind in (WebhookKind.STATUS, "status"):
        assert connector.webhook_url(plain, kind) == PUBLIC
    assert connector.webhook_url(plain, WebhookKind.MESSAGE) == "http://x/y"


# -- status callbacks ---------------------------------------------------------------------------


@pytest.mark.parametrize("twilio_status", TWILIO_STATUSES)
async def test_every_twilio_status_is_mapped(
    make: Callable[..., Connector], twilio_status: str
) -> None:
    result = await make().receive_message_status(signed(status(twilio_status)))
    assert result.data is not None
    assert result.data.remote_message_id == SID
    assert result.data.status is map_twilio_status(twilio_status)
    assert result.data.status is not MessageStatus.UNKNOWN
    assert result.data.provider_status == twilio_status
    assert result.data.error is None


async def test_read_is_read_not_delivered(make: Callable[..., Connector]) -> None:
    result = await make().receive_message_status(signed(status("read")))
    assert result.data is not None and result.data.status is MessageStatus.READ


async def test_sms_status_alone_is_enough(make: Callable[..., Connector]) -> None:
    params = status("sent", MessageStatus=None)  # type: ignore[arg-type]
    result = await make().receive_message_status(signed(params))
    assert result.data is not None and result.data.status is MessageStatus.SENT


async def test_an_unknown_future_status_is_unknown_not_an_error(
    make: Callable[..., Connector],
) -> None:
    result = await make().receive_message_status(signed(status("teleported")))
    assert result.data is not None
    assert result.data.status is MessageStatus.UNKNOWN
    assert result.data.provider_status == "teleported"


@pytest.mark.parametrize(
    ("code", "state", "framework_code", "description"),
    [
        ("30003", "undelivered", MessagingErrorCodes.INVALID_RECIPIENT,
         "Unreachable destination handset"),
        ("30007", "undelivered", MessagingErrorCodes.MESSAGE_ROUTING_FAILED, "Message filtered"),
        ("21610", "failed", MessagingErrorCodes.RECIPIENT_OPTED_OUT,
         "Attempt to send to unsubscribed recipient"),
        ("30001", "failed", MessagingErrorCodes.RATE_LIMITED, "Queue overflow"),
    ],
)
async def test_error_code_maps_to_a_framework_error_with_twilios_description(
    make: Callable[..., Connector], code: str, state: str, framework_code: str, description: str
) -> None:
    result = await make().receive_message_status(signed(status(state, ErrorCode=code)))
    assert result.data is not None
    error = result.data.error
    assert error is not None
    assert error.code == framework_code and error.provider_code == code
    assert description in error.message
    assert error.details["twilio_message"] == description
    assert error.details["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert result.data.status in (MessageStatus.DELIVERY_FAILED, MessageStatus.ROUTE_FAILED)


async def test_an_error_code_missing_from_the_catalogue_still_maps(
    make: Callable[..., Connector],
) -> None:
    result = await make().receive_message_status(signed(status("failed", ErrorCode="99999")))
    assert result.data is not None and result.data.error is not None
    assert result.data.error.provider_code == "99999"
    assert "99999" in result.data.error.message


async def test_price_segments_and_dlr_date(make: Callable[..., Connector]) -> None:
    params = status("delivered", Price="-0.00750", PriceUnit="USD", NumSegments="2",
                    RawDlrDoneDate="2401151230")
    result = await make().receive_message_status(signed(params))
    assert result.data is not None
    update = result.data
    assert update.price == Decimal("-0.00750") and update.price_unit == "USD"
    assert update.segments == 2
    assert update.date_updated == datetime(2024, 1, 15, 12, 30, tzinfo=timezone.utc)
    assert update.additional_data["RawDlrDoneDate"] == "2401151230"
    assert abs(update.timestamp - datetime.now(timezone.utc)) < timedelta(minutes=1)


@pytest.mark.parametrize("raw", ["2413151230", "24011512", "not-a-date", ""])
async def test_a_carriers_malformed_dlr_date_is_kept_but_not_parsed(
    make: Callable[..., Connector], raw: str
) -> None:
    result = await make().receive_message_status(signed(status(RawDlrDoneDate=raw)))
    assert result.data is not None
    assert result.data.date_updated is None
    assert result.data.additional_data["RawDlrDoneDate"] == raw


async def test_whatsapp_status_callback(make: Callable[..., Connector]) -> None:
    params = status("read", From="whatsapp:+15005550006", To="whatsapp:+14155550100",
                    EventType="READ", ChannelPrefix="whatsapp", SomethingNew="kept")
    result = await make(TwilioWhatsAppConnector).receive_message_status(signed(params))
    assert result.data is not None
    data = result.data.additional_data
    assert data["EventType"] == "READ" and data["channel"] == "whatsapp"
    assert data["SomethingNew"] == "kept" and "duplicate" not in data
    assert result.data.is_duplicate is False
    assert result.data.status is MessageStatus.READ


# -- hooks and retries --------------------------------------------------------------------------


async def test_hooks_fire_for_received_messages_and_statuses(
    make: Callable[..., Connector], recorder: Recorder
) -> None:
    connector = make()
    result = await receive(connector, signed(inbound()))
    assert result.data is not None
    assert recorder.messages == list(result.data.messages)
    update = await connector.receive_message_status(signed(status()))
    assert recorder.updates == [update.data]


async def test_a_retried_message_is_reported_once(
    make: Callable[..., Connector], recorder: Recorder
) -> None:
    connector = make()
    source = signed(inbound(), headers={"I-Twilio-Idempotency-Token": "tok-1"})
    first = await receive(connector, source)
    again = await receive(connector, source)
    assert first.data is not None and again.data is not None
    assert not first.data.is_duplicate and len(first.data.messages) == 1
    assert again.data.is_duplicate and again.data.messages == ()
    assert len(recorder.messages) == 1
    # the blocking twin shares the connector's store
    assert connector.blocking().receive_messages(source).data.is_duplicate  # type: ignore[union-attr]


async def test_a_replay_with_another_or_no_token_is_the_same_webhook(
    make: Callable[..., Connector], recorder: Recorder
) -> None:
    """The idempotency token is not signed: an attacker replaying a signed webhook can change it
    or drop it. The key comes from signed fields only, so the replay is a duplicate."""
    connector = make()
    first = signed(inbound(), headers={"I-Twilio-Idempotency-Token": "tok-1"})
    replays = [signed(inbound(), headers={"I-Twilio-Idempotency-Token": "tok-2"}),
               signed(inbound())]
    assert not (await receive(connector, first)).data.is_duplicate  # type: ignore[union-attr]
    for replay in replays:
        again = await receive(connector, replay)
        assert again.data is not None and again.data.is_duplicate and again.data.messages == ()
    assert len(recorder.messages) == 1
    status_replays = [signed(status("delivered"), headers={"I-Twilio-Idempotency-Token": t})
                      for t in ("a", "b", "")]
    flags = [(await connector.receive_message_status(s)).data.is_duplicate  # type: ignore[union-attr]
             for s in status_replays]
    assert flags == [False, True, True]
    assert len(recorder.updates) == 1


async def test_without_a_token_message_sid_and_status_identify_it(
    make: Callable[..., Connector],
) -> None:
    connector = make()
    sent = await connector.receive_message_status(signed(status("sent")))
    delivered = await connector.receive_message_status(signed(status("delivered")))
    retry = await connector.receive_message_status(signed(status("delivered")))
    other = await connector.receive_message_status(signed(status("delivered", MessageSid="SM2")))
    flags = [r.data.is_duplicate for r in (sent, delivered, retry, other)
             if r.data is not None]
    assert flags == [False, False, True, False]
    assert retry.data is not None and retry.data.status is MessageStatus.DELIVERED


async def test_a_retried_status_callback_does_not_fire_the_hook_again(
    make: Callable[..., Connector], recorder: Recorder
) -> None:
    connector = make()
    for _ in range(3):
        await connector.receive_message_status(signed(status("delivered")))
    await connector.receive_message_status(signed(status("delivered", MessageSid="SM2")))
    assert [u.remote_message_id for u in recorder.updates] == [SID, "SM2"]
    assert all(u.is_duplicate is False for u in recorder.updates)


async def test_rejected_requests_do_not_poison_the_store(make: Callable[..., Connector]) -> None:
    connector = make()
    headers = {"I-Twilio-Idempotency-Token": "tok-9"}
    forged = signed(inbound(), token="wrong", headers=headers)
    broken = signed(inbound(From=""), headers=headers)
    assert error_code(await receive(connector, forged)) == SIGNATURE
    assert error_code(await receive(connector, broken)) == DATA
    good = await receive(connector, signed(inbound(), headers=headers))
    assert good.data is not None and not good.data.is_duplicate


async def test_a_store_of_your_own(make: Callable[..., Connector]) -> None:
    class SetStore:
        def __init__(self) -> None:
            self.keys: list[str] = []

        def seen(self, key: str) -> bool:
            known = key in self.keys
            self.keys.append(key)
            return known

    connector = make()
    store = SetStore()
    connector.dedup_store = store
    await receive(connector, signed(inbound(), headers={"I-Twilio-Idempotency-Token": "t"}))
    await connector.receive_message_status(signed(status("sent")))
    assert store.keys == [f"twilio:message:{ACCOUNT}:{SID}:", f"twilio:status:{ACCOUNT}:{SID}:sent"]


async def test_each_connector_has_its_own_default_store(make: Callable[..., Connector]) -> None:
    one, two = make(), make()
    assert not (await receive(one, signed(inbound()))).data.is_duplicate  # type: ignore[union-attr]
    assert not (await receive(two, signed(inbound()))).data.is_duplicate  # type: ignore[union-attr]
    assert isinstance(one.dedup_store, InMemoryDeduplicationStore)
    assert one.dedup_store is not two.dedup_store


async def test_a_failing_store_is_reported_not_raised(
    make: Callable[..., Connector], recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    class DownStore:
        def seen(self, key: str) -> bool:
            raise ConnectionError("store unreachable")

    connector = make()
    connector.dedup_store = DownStore()
    with caplog.at_level(logging.ERROR):
        message = await receive(connector, signed(inbound()))
        update = await connector.receive_message_status(signed(status()))
    assert message.error is not None and update.error is not None
    assert (message.error.domain, message.error.code) == ("connector", "RECEIVE_MESSAGES_ERROR")
    assert (update.error.domain, update.error.code) == ("connector", "RECEIVE_STATUS_ERROR")
    assert recorder.messages == [] and recorder.updates == []
    assert "ConnectionError" in caplog.text
