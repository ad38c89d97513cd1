"""Receiving through the real Vonage connectors: the schemas declare it, the settings drive the
checks, and what the official SDK signs is accepted (and what we sign, the SDK accepts)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt as pyjwt
import pytest
import yaml
from vonage_http_client.auth import Auth
from vonage_jwt.verify_jwt import verify_signature

from ratatosk import (
    ButtonContent,
    ChannelCapability,
    Connector,
    EndpointType,
    JsonContent,
    LocationContent,
    MediaContent,
    MediaType,
    MessageSource,
    MessageStatus,
    MessagingErrorCodes,
    TextContent,
)
from ratatosk_vonage import (
    VonageChannelSchemas,
    VonageMessagesConnector,
    VonageSmsConnector,
    signature,
)
from ratatosk_vonage import _schemas as schemas

SECRET = "receive-signature-secret-000000001"
NEXT = "receive-signature-secret-000000002"
OTHER = "receive-signature-secret-000000003"
URL = "https://hooks.example.com/vonage"
CONNECTORS = [VonageMessagesConnector, VonageSmsConnector]


def make(cls: type[Connector] = VonageMessagesConnector, **settings: Any) -> Connector:
    values = {"ApiKey": "abcd1234", "ApiSecret": "s3cr3t-Vonage-42", "SignatureSecret": SECRET,
              **settings}
    return cls(settings={k: v for k, v in values.items() if v is not None})


def pyjwt_source(body: dict[str, Any], secret: str = SECRET, **claims: Any) -> MessageSource:
    """Signed with PyJWT, the library the SDK's vonage-jwt uses."""
    raw = json.dumps(body).encode()
    token = pyjwt.encode({"iat": int(time.time()), "jti": str(uuid.uuid4()), "iss": "Vonage",
                          "payload_hash": signature.payload_hash(raw), **claims},
                         secret, algorithm="HS256")
    return MessageSource.json(raw, url=URL, headers={"Authorization": f"Bearer {token}"})


def sdk_signed_get(fields: dict[str, str], method: str, secret: str = SECRET) -> MessageSource:
    """An SMS API GET webhook whose sig the SDK computed (it adds the timestamp)."""
    auth = Auth(api_key="abcd1234", signature_secret=secret, signature_method=method)
    params: dict[str, Any] = dict(fields)
    params["sig"] = auth.sign_params(params)  # adds timestamp to params
    return MessageSource(b"", method="GET", url=f"{URL}?{urlencode(params)}")


def inbound(message_type: str, **fields: Any) -> dict[str, Any]:
    return {"channel": "whatsapp", "message_uuid": str(uuid.uuid4()), "to": "447700900000",
            "from": "447700900001", "timestamp": "2026-12-04T12:00:00Z",
            "message_type": message_type, "profile": {"name": "Jane"}, **fields}


def test_schemas_declare_receiving_and_the_presets_restrict_it() -> None:
    both = ChannelCapability.RECEIVE_MESSAGES | ChannelCapability.HANDLE_MESSAGE_STATE
    for schema in (VonageChannelSchemas.VONAGE_MESSAGES, VonageChannelSchemas.VONAGE_SMS,
                   VonageChannelSchemas.TEXT_MESSAGES):
        assert schema.capabilities & both == both
        (endpoint,) = schema.endpoints
        assert endpoint.type == EndpointType.PHONE_NUMBER and endpoint.can_receive
        assert schema.parameter("SignatureSecret") is not None
        for name in ("SignatureSecret", "SecondarySignatureSecrets"):
            assert name in schema.sensitive_parameters
    simple = VonageChannelSchemas.SIMPLE_SMS
    assert not simple.capabilities & both and not simple.endpoints[0].can_receive
    templates = VonageChannelSchemas.WHATSAPP_TEMPLATES
    assert templates.has_capability(ChannelCapability.HANDLE_MESSAGE_STATE)
    assert not templates.has_capability(ChannelCapability.RECEIVE_MESSAGES)
    # neither connector claims what Vonage documents no endpoint for
    for cls in CONNECTORS:
        assert not cls.default_schema.has_capability(ChannelCapability.MESSAGE_STATUS_QUERY)
        assert not cls.default_schema.has_capability(ChannelCapability.HEALTH_CHECK)
        assert cls.implemented_capabilities() & both == both


def test_schema_constants_match_the_signature_module() -> None:
    assert schemas.SIGNATURE_METHODS == signature.SIGNATURE_METHODS
    assert schemas.DEFAULT_MAX_AGE == signature.DEFAULT_MAX_AGE
    parameter = VonageChannelSchemas.VONAGE_SMS.parameter("SignatureMethod")
    assert parameter is not None and parameter.default == "md5"  # the SDK's default


@pytest.mark.parametrize("cls", CONNECTORS)
def test_typed_webhook_settings(cls: type[Connector]) -> None:
    connector = make(cls, SecondarySignatureSecrets=f"{NEXT}, {OTHER}", SignatureMethod="sha512",
                     ValidateSignatures="false", MaxWebhookAge="600")
    assert connector.blocking().initialize().is_success
    config: Any = connector.config
    assert [s.reveal() for s in config.secondary_signature_secrets] == [NEXT, OTHER]
    assert config.signature_method == "sha512"
    assert config.validate_signatures is False and config.max_webhook_age == 600
    assert NEXT not in repr(connector.parameters) and NEXT not in repr(config)


@pytest.mark.parametrize("cls", CONNECTORS)
@pytest.mark.parametrize("bad", [{"SignatureMethod": "md5hash"}, {"MaxWebhookAge": "0"},
                                 {"ValidateSignatures": "perhaps"},
                                 {"MaxWebhookBodySize": "12"}])
def test_bad_webhook_settings_fail_initialization(cls: type[Connector],
                                                  bad: dict[str, str]) -> None:
    result = make(cls, **bad).blocking().initialize()
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.INVALID_CONFIGURATION
    assert [issue.field for issue in result.error.issues] == list(bad)


@pytest.mark.parametrize("cls", CONNECTORS)
def test_we_accept_what_pyjwt_signs_and_the_sdk_accepts_what_we_sign(
        cls: type[Connector]) -> None:
    connector = make(cls).blocking()
    body = inbound("text", text="hello")
    result = connector.receive_messages(pyjwt_source(body))
    assert result.data is not None, result.error
    raw = json.dumps(body).encode()
    ours = signature.sign_jwt(SECRET, {"iat": int(time.time()), "jti": "j",
                                       "payload_hash": signature.payload_hash(raw)})
    assert verify_signature(ours, SECRET) is True


@pytest.mark.parametrize("method", signature.SIGNATURE_METHODS)
@pytest.mark.parametrize("cls", CONNECTORS)
def test_we_accept_what_the_sdk_signs_for_each_method(cls: type[Connector], method: str) -> None:
    connector = make(cls, SignatureMethod=method).blocking()
    fields = {"msisdn": "447700900001", "to": "447700900000", "messageId": f"0A{method}",
              "text": "a=b & c", "type": "text", "nonce": str(uuid.uuid4())}
    result = connector.receive_messages(sdk_signed_get(fields, method))
    assert result.data is not None, result.error
    assert result.data.messages[0].content == TextContent("a=b & c")
    receipt = {"msisdn": "447700900001", "to": "Acme", "messageId": f"0A{method}",
               "status": "delivered", "err-code": "0"}
    update = connector.receive_message_status(sdk_signed_get(receipt, method))
    assert update.data is not None and update.data.status == MessageStatus.DELIVERED
    # another method's signature is refused
    other = "sha1" if method != "sha1" else "md5"
    refused = connector.receive_messages(sdk_signed_get({**fields, "messageId": "x"}, other))
    assert refused.error is not None
    assert refused.error.code == MessagingErrorCodes.INVALID_WEBHOOK_SIGNATURE


@pytest.mark.parametrize("cls", CONNECTORS)
def test_rotation_accepts_every_listed_secret(cls: type[Connector]) -> None:
    connector = make(cls, SecondarySignatureSecrets=f"{NEXT},{OTHER}").blocking()
    for secret in (SECRET, NEXT, OTHER):
        got = connector.receive_messages(pyjwt_source(inbound("text", text="x"), secret))
        assert got.error is None, secret
        fields = {"msisdn": "447700900001", "to": "447700900000", "text": "x",
                  "messageId": f"0A{secret[-1]}"}
        assert connector.receive_messages(sdk_signed_get(fields, "md5", secret)).error is None
    stranger = connector.receive_messages(pyjwt_source(inbound("text", text="x"), "nope" * 8))
    assert stranger.error is not None
    assert stranger.error.code == MessagingErrorCodes.INVALID_WEBHOOK_SIGNATURE


def test_an_old_jwt_is_refused_by_max_webhook_age() -> None:
    old = int(time.time()) - 400
    default = make().blocking()
    result = default.receive_messages(pyjwt_source(inbound("text", text="x"), iat=old))
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.INVALID_WEBHOOK_SIGNATURE
    assert result.error.details["reason"] == "stale"
    patient = make(MaxWebhookAge=900).blocking()
    assert patient.receive_messages(pyjwt_source(inbound("text", text="x"), iat=old)).error is None


def test_without_a_secret_receiving_is_a_configuration_error_unless_validation_is_off() -> None:
    none = make(SignatureSecret=None).blocking()
    result = none.receive_messages(pyjwt_source(inbound("text", text="x")))
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.INVALID_CONFIGURATION
    off = make(SignatureSecret=None, ValidateSignatures=False).blocking()
    unsigned = MessageSource.json(inbound("text", text="x"), url=URL)
    assert off.receive_messages(unsigned).error is None


@pytest.mark.parametrize("message_type,fields,expected", [
    ("text", {"text": "hi"}, TextContent("hi")),
    ("image", {"image": {"url": "https://x.example/i"}},
     MediaContent(MediaType.IMAGE, file_url="https://x.example/i")),
    ("audio", {"audio": {"url": "https://x.example/a"}},
     MediaContent(MediaType.AUDIO, file_url="https://x.example/a")),
    ("video", {"video": {"url": "https://x.example/v"}},
     MediaContent(MediaType.VIDEO, file_url="https://x.example/v")),
    ("file", {"file": {"url": "https://x.example/f", "name": "f.pdf"}},
     MediaContent(MediaType.FILE, file_name="f.pdf", file_url="https://x.example/f")),
    ("location", {"location": {"lat": 1.5, "long": 2.5}}, LocationContent(1.5, 2.5)),
    ("reply", {"reply": {"id": "r1", "title": "Yes"}}, ButtonContent("Yes", "r1")),
    ("button", {"button": {"text": "Stop", "payload": "STOP"}}, ButtonContent("Stop", "STOP")),
    ("sticker", {"sticker": {"url": "https://x.example/s"}},
     JsonContent({"url": "https://x.example/s"})),
])
def test_every_inbound_type_through_the_messages_connector(
        message_type: str, fields: dict[str, Any], expected: Any) -> None:
    body = inbound(message_type, context={"message_uuid": "m-0", "message_from": "447700900000"},
                   **fields)
    result = make().blocking().receive_messages(pyjwt_source(body))
    assert result.data is not None, result.error
    (message,) = result.data.messages
    assert message.content == expected
    assert message.properties["ProfileName"] == "Jane"
    assert message.properties["context"]["message_uuid"] == "m-0"
    assert message.properties["Channel"] == "whatsapp"


def test_long_inbound_sms_parts_each_arrive_with_their_part_numbers() -> None:
    connector = make(VonageSmsConnector).blocking()
    texts = []
    for part in ("1", "2"):
        fields = {"msisdn": "447700900001", "to": "447700900000", "messageId": f"0AP{part}",
                  "text": f"part {part}", "type": "text", "concat": "true", "concat-ref": "9",
                  "concat-total": "2", "concat-part": part}
        result = connector.receive_messages(sdk_signed_get(fields, "md5"))
        assert result.data is not None, result.error
        assert result.data.additional_data["concat"]["concat-part"] == part
        (message,) = result.data.messages
        assert message.properties["concat-ref"] == "9"
        texts.append(message.text)
    assert texts == ["part 1", "part 2"]


def _openapi_examples(schema_name: str) -> dict[str, str]:
    """Every property's ``example`` of a schema in the SMS API's OpenAPI description (the copy in
    tests/data/vonage/, see tests/data/README.md)."""
    path = Path(__file__).resolve().parents[1] / "data" / "vonage" / "vonage_sms_openapi.yml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    properties = spec["components"]["schemas"][schema_name]["properties"]
    return {name: str(prop["example"]) for name, prop in properties.items()
            if "example" in prop and name not in ("sig", "timestamp")}


@pytest.mark.parametrize("cls", CONNECTORS)
def test_the_openapi_examples_parse(cls: type[Connector]) -> None:
    connector = make(cls).blocking()
    inbound_fields = _openapi_examples("InboundMessage")
    result = connector.receive_messages(sdk_signed_get(inbound_fields, "md5"))
    assert result.data is not None, result.error
    (message,) = result.data.messages
    assert message.id == inbound_fields["messageId"]
    assert message.text == inbound_fields["text"]
    assert message.sender is not None
    assert message.sender.address == "+" + inbound_fields["msisdn"]
    receipt_fields = _openapi_examples("DeliveryReceipt")
    update = connector.receive_message_status(sdk_signed_get(receipt_fields, "md5"))
    assert update.data is not None, update.error
    assert update.data.remote_message_id == receipt_fields["messageId"]
    assert update.data.status == MessageStatus.DELIVERED
    assert str(update.data.price) == receipt_fields["price"]
    assert update.data.additional_data["api-key"] == receipt_fields["api-key"]
