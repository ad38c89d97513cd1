"""Every kind of request the Twilio connectors send, checked against Twilio's OpenAPI description.

Each request is captured through httpx.MockTransport and checked: the path exists in the spec with
that method, the path parameters match their schemas, every form field is a parameter of the
operation's request body (no unknown names, no repeats of single values), each value has the
declared type, pattern and enum (validated with jsonschema), the ``x-twilio`` conditional groups
are satisfied, and ``uri``/``date-time``/``phone-number`` formats hold. The mock answers with the
spec's own response examples, so the parsing of real Twilio answers is checked as well.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jsonschema  # type: ignore[import-untyped]
import pytest
from reference_data import reference_file

from ratatosk import (
    ConnectionSettings,
    Connector,
    Message,
    MessageBuilder,
    MessageStatus,
    ParameterType,
)
from ratatosk_twilio import TwilioChannelSchemas, TwilioSmsConnector, TwilioWhatsAppConnector

MESSAGES_SPEC: dict[str, Any] = json.loads(
    reference_file("twilio_messages_openapi.json").read_text(encoding="utf-8"))

ACCOUNT = "AC" + "0123456789abcdef" * 2
MG = "MG" + "a1" * 16
CONTENT = "HX" + "e5" * 16
SID = "SM" + "b2" * 16
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


@cache
def full_spec() -> dict[str, Any]:
    """The account fetch from the 2010-04-01 spec (not in the Messages extract)."""
    return json.loads(  # type: ignore[no-any-return]
        reference_file("twilio_accounts_openapi.json").read_text(encoding="utf-8"))


# -- the checker ------------------------------------------------------------------------------


def _inline(node: Any, components: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            return _inline(components[ref.rsplit("/", 1)[1]], components)
        return {k: _inline(v, components) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, components) for v in node]
    return node


def _path_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    pattern = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)"
                      for i, part in enumerate(parts))
    return re.compile(f"^{pattern}$")


def find_operation(spec: dict[str, Any], method: str, path: str) -> tuple[dict[str, Any],
                                                                         dict[str, str]]:
    for template, item in spec["paths"].items():
        match = _path_regex(template).match(path)
        if match:
            assert method.lower() in item, f"{method} {template} is not in the spec"
            return item[method.lower()], match.groupdict()
    raise AssertionError(f"no path of the spec matches {path}")


def _coerce(name: str, value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        assert re.fullmatch(r"-?[0-9]+", value), f"{name}={value!r} is not an integer"
        return int(value)
    if kind == "number":
        assert re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value), f"{name}={value!r} is not a number"
        return float(value)
    if kind == "boolean":
        assert value in ("true", "false"), f"{name}={value!r} is not true/false"
        return value == "true"
    fmt = schema.get("format")
    if fmt == "uri" and not schema.get("x-twilio", {}).get("ignoreFormat"):
        parts = urlsplit(value)
        assert parts.scheme in ("http", "https") and parts.hostname, f"{name}: {value!r} not a URI"
    if fmt == "date-time":
        assert value.endswith("Z"), f"{name}: {value!r} is not UTC ISO 8601"
        assert datetime.fromisoformat(value[:-1] + "+00:00").tzinfo is not None
    if fmt == "phone-number":
        number = value.removeprefix("whatsapp:")
        assert _E164.fullmatch(number) or re.fullmatch(r"[0-9]{3,8}", number) or re.fullmatch(
            r"(?=.*[A-Za-z])[A-Za-z0-9 +\-_.&]{1,11}", number), f"{name}: {value!r}"
    return value


def _pascal(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def check_request(request: httpx.Request, spec: dict[str, Any] = MESSAGES_SPEC) -> dict[str, Any]:
    """Assert the request conforms to the spec; returns the typed form data."""
    operation, path_values = find_operation(spec, request.method, request.url.path)
    components = spec["components"]["schemas"]
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            jsonschema.validate(path_values[parameter["name"]], parameter["schema"])
        if parameter["in"] == "query" and parameter.get("required"):
            assert parameter["name"] in request.url.params
    assert not request.url.query, "the connectors send no query strings"
    body = operation.get("requestBody")
    if body is None:
        assert request.content == b"", f"{request.method} {request.url.path} takes no body"
        return {}
    content = body["content"]
    assert request.headers["content-type"] in content
    schema = _inline(content[request.headers["content-type"]]["schema"], components)
    properties = schema["properties"]
    data: dict[str, Any] = {}
    for name, value in parse_qsl(request.content.decode("ascii"), keep_blank_values=True,
                                 strict_parsing=True):
        assert name in properties, f"{name} is not a parameter of {operation['operationId']}"
        prop = properties[name]
        if prop.get("type") == "array":
            data.setdefault(name, []).append(_coerce(name, value, prop["items"]))
        else:
            assert name not in data, f"{name} is sent twice"
            data[name] = _coerce(name, value, prop)
    jsonschema.validate(data, {**schema, "additionalProperties": False})
    for group in operation.get("x-twilio", {}).get("conditional", []):
        names = [_pascal(n) for n in group]
        assert any(n in data for n in names), f"one of {names} is required"
    return data


def test_the_checker_catches_bad_requests() -> None:
    def post(body: str) -> httpx.Request:
        return httpx.Request(
            "POST", f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
            content=body.encode(), headers={"content-type": "application/x-www-form-urlencoded"})

    check_request(post("To=%2B15550002222&From=%2B15550001111&Body=hi"))
    for bad in ("To=%2B15550002222&Body=hi",  # neither From nor MessagingServiceSid
                "To=%2B15550002222&From=%2B15550001111",  # no Body/MediaUrl/ContentSid
                "To=%2B15550002222&From=%2B15550001111&Body=hi&Colour=red",
                "To=%2B15550002222&From=%2B15550001111&Body=hi&ValidityPeriod=soon",
                "To=%2B15550002222&From=%2B15550001111&Body=hi&RiskCheck=maybe",
                "To=%2B15550002222&From=%2B15550001111&Body=hi&SmartEncoded=yes",
                "To=%2B15550002222&From=%2B15550001111&Body=hi&Body=again",
                "To=%2B15550002222&MessagingServiceSid=MG12&Body=hi"):
        with pytest.raises((AssertionError, jsonschema.ValidationError)):
            check_request(post(bad))
    with pytest.raises(AssertionError):
        check_request(httpx.Request("GET", "https://api.twilio.com/2010-04-01/Calls.json"))
    with pytest.raises(jsonschema.ValidationError):
        check_request(httpx.Request(
            "GET", f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/XY12.json"))


# -- a mock Twilio answering with the spec's own examples -------------------------------------


def _example(spec: dict[str, Any], template: str, method: str, status: str, name: str) -> Any:
    content = spec["paths"][template][method]["responses"][status]["content"]
    return content["application/json"]["examples"][name]["value"]


class SpecTwilio:
    """Checks every request against the spec and answers with the spec's examples."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.forms: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        messages = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
        message = "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json"
        if request.url.path == f"/2010-04-01/Accounts/{ACCOUNT}.json":
            self.forms.append(check_request(request, full_spec()))
            return httpx.Response(200, json=_example(
                full_spec(), "/2010-04-01/Accounts/{Sid}.json", "get", "200", "fetch"))
        self.forms.append(check_request(request))
        if request.url.path.endswith("/Messages.json"):
            return httpx.Response(201, json=_example(MESSAGES_SPEC, messages, "post", "201",
                                                     "create"))
        if request.method == "GET":
            return httpx.Response(200, json=_example(MESSAGES_SPEC, message, "get", "200",
                                                     "fetch"))
        return httpx.Response(200, json=_example(MESSAGES_SPEC, message, "post", "200",
                                                 "cancelMessage"))


def make(cls: type[Connector], fake: SpecTwilio, **extra: Any) -> Any:
    settings = ConnectionSettings({"AccountSid": ACCOUNT, "AuthToken": "tok-1234", **extra})
    return cls(None, settings, http_transport=httpx.MockTransport(fake)).blocking()


def _builder(whatsapp: bool = False) -> MessageBuilder:
    prefix = "whatsapp:" if whatsapp else ""
    return MessageBuilder().from_phone(prefix + "+15550001111").to_phone("+15550002222")


# -- every kind of request --------------------------------------------------------------------

SEND_AT = datetime.now(timezone.utc) + timedelta(days=2)

CONTENT_CASES: dict[str, tuple[type[Connector], Callable[[], Message], dict[str, str]]] = {
    "sms-text": (TwilioSmsConnector, lambda: _builder().with_text("Hello 👋").build(), {}),
    "sms-service": (TwilioSmsConnector, lambda: MessageBuilder().to_phone("+15550002222")
                    .with_text("Hi").build(), {"MessagingServiceSid": MG}),
    "sms-alphanumeric": (TwilioSmsConnector, lambda: MessageBuilder().from_phone("MyShop")
                         .to_phone("+15550002222").with_text("Hi").build(), {}),
    "mms-media": (TwilioSmsConnector, lambda: _builder().with_media(
        "https://example.com/photo.jpg").build(), {}),
    "mms-text-and-ten-media": (TwilioSmsConnector, lambda: _builder().with_text("Album")
                               .with_content(_media(10)).build(), {}),
    "sms-defaults": (TwilioSmsConnector, lambda: _builder().with_text("x").build(), {
        "ValidityPeriod": "600", "MaxPrice": "0.75", "SmartEncoded": "true",
        "StatusCallback": "https://example.com/status"}),
    "sms-scheduled": (TwilioSmsConnector, lambda: MessageBuilder().to_phone("+15550002222")
                      .with_text("Later").with_send_at(SEND_AT).build(),
                      {"MessagingServiceSid": MG}),
    "whatsapp-text": (TwilioWhatsAppConnector, lambda: _builder(True).with_text("Hola").build(),
                      {}),
    "whatsapp-media": (TwilioWhatsAppConnector, lambda: _builder(True).with_text("Menu")
                       .with_media("https://example.com/menu.pdf", "document").build(), {}),
    "whatsapp-template": (TwilioWhatsAppConnector, lambda: _builder(True).with_template(
        CONTENT, {"1": "Ada", "2": "12/1"}).build(), {}),
    "whatsapp-template-no-variables": (TwilioWhatsAppConnector,
                                       lambda: _builder(True).with_template(CONTENT).build(), {}),
}


def _media(count: int) -> Any:
    builder = MessageBuilder()
    for i in range(count):
        builder.with_media(f"https://example.com/{i}.png")
    return builder.build().content


@pytest.mark.parametrize("case", list(CONTENT_CASES))
def test_each_kind_of_send_conforms(case: str) -> None:
    cls, build, extra = CONTENT_CASES[case]
    fake = SpecTwilio()
    result = make(cls, fake, **extra).send_message(build())
    assert result.is_success, result.error
    assert result.data.remote_message_id == "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    assert result.data.status is MessageStatus.QUEUED
    assert len(fake.forms) == 1 and fake.forms[0]


# sample values for every message property either connector declares
PROPERTY_SAMPLES: dict[str, list[Any]] = {
    "ValidityPeriod": [1, 14400, 36000],
    "MaxPrice": [Decimal("0.01"), 2],
    "ProvideCallback": [True, False],
    "SmartEncoded": [True, False],
    "StatusCallback": ["https://example.com/status?x=1"],
    "Attempt": [1, 3],
    "PersistentAction": ["geo:37.787890,-122.391664|375 Beale St",
                         ["mailto:a@example.com", "tel:+15550001111"]],
    "ShortenUrls": [True, False],
    "SendAt": [SEND_AT, SEND_AT.isoformat()],
    "ScheduleType": ["fixed"],
    "ContentRetention": ["retain", "discard"],
    "AddressRetention": ["retain", "obfuscate"],
    "RiskCheck": ["enable", "disable"],
    "SendAsMms": [True, False],
}
NEEDS = {"ShortenUrls": {"MessagingServiceSid": MG}, "SendAt": {"MessagingServiceSid": MG},
         "ScheduleType": {"MessagingServiceSid": MG},
         "ProvideCallback": {"StatusCallback": "https://example.com/cb"}}
COMPANIONS: dict[str, dict[str, Any]] = {"ScheduleType": {"SendAt": SEND_AT}}


def _property_cases() -> Iterator[Any]:
    for cls in (TwilioSmsConnector, TwilioWhatsAppConnector):
        for prop in cls.default_schema.message_properties:
            values = PROPERTY_SAMPLES[prop.name]
            if prop.constraints.allowed_values:
                assert set(values) == set(prop.constraints.allowed_values), prop.name
            for index, value in enumerate(values):
                yield pytest.param(cls, prop.name, value,
                                   id=f"{cls.connector_type}-{prop.name}-{index}")


def test_samples_cover_every_declared_property() -> None:
    declared = {p.name for cls in (TwilioSmsConnector, TwilioWhatsAppConnector)
                for p in cls.default_schema.message_properties}
    assert declared == set(PROPERTY_SAMPLES)
    types = {p.data_type for cls in (TwilioSmsConnector, TwilioWhatsAppConnector)
             for p in cls.default_schema.message_properties}
    assert ParameterType.DATETIME in types and ParameterType.JSON in types


@pytest.mark.parametrize(("cls", "name", "value"), list(_property_cases()))
def test_each_message_property_conforms(cls: type[Connector], name: str, value: Any) -> None:
    fake = SpecTwilio()
    builder = _builder(cls is TwilioWhatsAppConnector).with_text("Hi").with_property(name, value)
    for companion, companion_value in COMPANIONS.get(name, {}).items():
        builder.with_property(companion, companion_value)
    result = make(cls, fake, **NEEDS.get(name, {})).send_message(builder.build())
    assert result.is_success, result.error
    sent = fake.forms[0]
    if name == "ProvideCallback":
        assert ("StatusCallback" in sent) is value
    elif name in ("ScheduleType", "SendAt"):
        assert sent["ScheduleType"] == "fixed"
        assert sent["SendAt"] == SEND_AT.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif name == "PersistentAction":
        assert sent[name] == (value if isinstance(value, list) else [value])
    else:
        assert name in sent


def test_status_fetch_conforms_and_parses_the_spec_example() -> None:
    fake = SpecTwilio()
    for cls in (TwilioSmsConnector, TwilioWhatsAppConnector):
        result = make(cls, fake).get_message_status(SID)
        assert result.is_success and result.data is not None
        update = result.data
        assert update.status is MessageStatus.SENT
        assert update.price == Decimal("-0.00750") and update.price_unit == "USD"
        assert update.segments == 1
        assert update.date_sent == datetime(2019, 5, 24, 17, 18, 28, tzinfo=timezone.utc)
        assert update.error is not None and update.error.provider_code == "30007"
    assert [r.method for r in fake.requests] == ["GET", "GET"]


def test_cancel_conforms_and_parses_the_spec_example() -> None:
    fake = SpecTwilio()
    result = make(TwilioSmsConnector, fake).cancel_message(SID)
    assert result.is_success and result.data is not None
    assert result.data.status is MessageStatus.CANCELED
    assert fake.forms == [{"Status": "canceled"}]


def test_account_fetch_conforms_and_keeps_the_auth_token_out() -> None:
    fake = SpecTwilio()
    for cls in (TwilioSmsConnector, TwilioWhatsAppConnector):
        result = make(cls, fake).test_connection()
        assert result.is_success and result.data is not None
        assert result.data.is_healthy
        assert "auth_token" not in repr(result.data)
    assert fake.forms == [{}, {}]


def test_presets_send_conforming_requests() -> None:
    cases = [
        (TwilioChannelSchemas.SIMPLE_SMS, TwilioSmsConnector, {}),
        (TwilioChannelSchemas.NOTIFICATION_SMS, TwilioSmsConnector, {}),
        (TwilioChannelSchemas.BULK_SMS, TwilioSmsConnector, {"MessagingServiceSid": MG}),
        (TwilioChannelSchemas.SIMPLE_WHATSAPP, TwilioWhatsAppConnector, {}),
    ]
    for schema, cls, extra in cases:
        fake = SpecTwilio()
        settings = ConnectionSettings({"AccountSid": ACCOUNT, "AuthToken": "tok-1234", **extra})
        connector = cls(schema, settings, http_transport=httpx.MockTransport(fake)).blocking()
        result = connector.send_message(_builder(cls is TwilioWhatsAppConnector)
                                        .with_text("Hi").build())
        assert result.is_success, (schema.name, result.error)
        assert len(fake.forms) == 1
