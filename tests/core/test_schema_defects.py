"""Schema defects fixed in issue 9: whole-value patterns, required credentials, integer limits
exported as integers, and a published JSON Schema for the schema format."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]
import pytest

from ratatosk import (
    COMMON_PARAMETERS,
    AuthenticationConfiguration,
    AuthenticationField,
    ChannelCapability,
    ChannelParameter,
    ChannelSchema,
    ConnectionSettings,
    EndpointType,
    MessageContentType,
    MessagePropertyConstraint,
    MessagePropertySchema,
    MessagingErrorCodes,
    ParameterType,
)
from ratatosk._schema import SchemaDefinitionError
from ratatosk_twilio import TwilioChannelSchemas, TwilioSmsConnector, TwilioWhatsAppConnector

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "ratatosk-acme" / "src"))
import ratatosk_acme

ACCOUNT = "AC" + "0123456789abcdef" * 2


# -- patterns match the whole value ---------------------------------------------------------


@pytest.mark.parametrize("value", [ACCOUNT + "\n", ACCOUNT + "\r\n", "x" + ACCOUNT, ACCOUNT + "0"])
def test_an_anchored_pattern_rejects_a_trailing_newline_and_extra_text(value: str) -> None:
    issues = TwilioChannelSchemas.TWILIO_SMS.validate_settings(
        {"AccountSid": value, "AuthToken": "tok"})
    assert [(i.field, i.code) for i in issues] == [("AccountSid", "pattern")]


def test_a_pattern_matches_the_whole_value_anchored_or_not() -> None:
    schema = ChannelSchema("p", "t", "1", strict=False, parameters=[
        ChannelParameter("Digits", pattern="[0-9]+"),
        ChannelParameter("Code", pattern="^[A-Z]{3}$"),
    ], message_properties=[
        MessagePropertySchema("Tag", constraints=MessagePropertyConstraint(pattern="^[a-z]+$")),
    ])
    assert schema.validate_settings({"Digits": "123", "Code": "ABC"}) == []
    bad = schema.validate_settings({"Digits": "a1", "Code": "ABC\n"})
    assert [(i.field, i.code) for i in bad] == [("Digits", "pattern"), ("Code", "pattern")]
    from ratatosk import MessageBuilder

    message = (MessageBuilder().to_phone("+15550001111").with_text("hi")
               .with_property("Tag", "abc\n").build())
    assert [(i.field, i.code) for i in schema.validate_message(message)
            if i.field.startswith("properties")] == [("properties.Tag", "pattern")]


# -- required credentials -------------------------------------------------------------------


def _auth_schema(**kwargs: Any) -> ChannelSchema:
    return ChannelSchema(
        "p", "t", "1",
        parameters=[ChannelParameter("User", required=True), ChannelParameter("Token"),
                    ChannelParameter("KeyId"), ChannelParameter("KeySecret")],
        authentication=[
            AuthenticationConfiguration("basic", [AuthenticationField("User", "principal"),
                                                  AuthenticationField("Token", "credential")]),
            AuthenticationConfiguration("api-key", [AuthenticationField("KeyId", "principal"),
                                                    AuthenticationField("KeySecret",
                                                                        "credential")]),
        ],
        **kwargs,
    )


def test_without_the_requirement_missing_credentials_pass_as_before() -> None:
    assert _auth_schema().validate_settings({"User": "u"}) == []


@pytest.mark.parametrize(("given", "missing"), [
    ({"User": "u"}, ["Token"]),                   # nothing chosen: the first configuration
    ({"User": "u", "KeySecret": "s"}, ["KeyId"]),  # half an API key: that configuration
    ({"User": "u", "KeyId": "k"}, ["KeySecret"]),
    ({"User": "u", "Token": " "}, ["Token"]),      # blank counts as not given
])
def test_a_required_authentication_reports_the_missing_credential(
    given: dict[str, str], missing: list[str],
) -> None:
    schema = _auth_schema(authentication_required=True)
    issues = schema.validate_settings(given)
    assert [(i.field, i.code) for i in issues] == [(m, "credentials") for m in missing]
    assert "give Token, or KeyId and KeySecret" in issues[0].message
    result = schema.resolve_settings(given)
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.MISSING_CREDENTIALS
    assert [i.field for i in result.error.issues] == missing
    assert "s" not in result.error.message.split()  # no value in the text


@pytest.mark.parametrize("given", [
    {"User": "u", "Token": "t"}, {"User": "u", "KeyId": "k", "KeySecret": "s"},
    {"User": "u", "Token": "t", "KeyId": "k"},
])
def test_one_complete_configuration_is_enough(given: dict[str, str]) -> None:
    schema = _auth_schema(authentication_required=True)
    assert schema.validate_settings(given) == []
    assert schema.resolve_settings(given).is_success


def test_other_problems_come_with_the_missing_credential() -> None:
    schema = _auth_schema(authentication_required=True)
    result = schema.resolve_settings({})
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.INVALID_CONFIGURATION
    assert [(i.field, i.code) for i in result.error.issues] == [
        ("User", "required"), ("Token", "credentials")]


def test_a_default_completes_a_configuration() -> None:
    schema = ChannelSchema("p", "t", "1", parameters=[ChannelParameter("Key", default="anon")],
                           authentication=[AuthenticationConfiguration(
                               "api-key", [AuthenticationField("Key", "credential")])],
                           authentication_required=True)
    assert schema.validate_settings({}) == []


def test_requiring_authentication_needs_a_configuration() -> None:
    with pytest.raises(SchemaDefinitionError, match="no authentication configuration"):
        ChannelSchema("p", "t", "1", authentication_required=True)
    with pytest.raises(SchemaDefinitionError):
        ChannelSchema("p", "t", "1").require_authentication()


def test_the_requirement_is_part_of_restriction_and_json() -> None:
    base = _auth_schema()
    required = base.require_authentication()
    assert required.authentication_required and required.is_restriction_of(base)
    assert not base.is_restriction_of(required)
    assert "authentication is optional but required in the base schema" in (
        base.restriction_problems(required))
    assert required.to_dict()["authentication_required"] is True
    assert ChannelSchema.from_json(required.to_json()) == required
    # dropping one way to authenticate keeps the requirement
    assert required.remove_parameters("KeyId").authentication_required


@pytest.mark.parametrize("schema", list(TwilioChannelSchemas.all().values()),
                         ids=lambda s: s.name)
def test_every_twilio_schema_requires_credentials(schema: ChannelSchema) -> None:
    assert schema.authentication_required
    settings = {"AccountSid": ACCOUNT}
    if schema.parameter("MessagingServiceSid") and schema.parameter(
            "MessagingServiceSid").required:  # type: ignore[union-attr]
        settings["MessagingServiceSid"] = "MG" + "0" * 32
    issues = schema.validate_settings(settings)
    assert [(i.field, i.code) for i in issues] == [("AuthToken", "credentials")]
    assert schema.validate_settings({**settings, "AuthToken": "tok"}) == []
    assert schema.validate_settings(
        {**settings, "ApiKeySid": "SK" + "1" * 32, "ApiKeySecret": "sec"}) == []


@pytest.mark.parametrize("cls", [TwilioSmsConnector, TwilioWhatsAppConnector])
def test_twilio_without_a_token_fails_up_front_with_missing_credentials(cls: Any) -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(500)

    settings = ConnectionSettings().set_parameter("AccountSid", ACCOUNT)
    connector = cls(None, settings, http_transport=httpx.MockTransport(handler))
    result = connector.blocking().initialize()
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.MISSING_CREDENTIALS
    assert [i.field for i in result.error.issues] == ["AuthToken"]
    assert requests == []


# -- integer limits -------------------------------------------------------------------------


def _limits(data: dict[str, Any]) -> list[tuple[str, str, Any]]:
    found = []
    for p in data["parameters"]:
        found += [(p["name"], p["data_type"], p[k]) for k in ("min_value", "max_value")]
    for p in data["message_properties"]:
        c = p["constraints"]
        found += [(p["name"], p["data_type"], c[k]) for k in ("min_value", "max_value")]
    return [f for f in found if f[2] is not None]


def _builtin_schemas() -> list[ChannelSchema]:
    schemas = list(TwilioChannelSchemas.all().values())
    acme = ratatosk_acme.AcmeSmsConnector
    schemas += [acme.default_schema, *acme.presets.values()]
    return schemas


@pytest.mark.parametrize("schema", _builtin_schemas(), ids=lambda s: s.name or s.identity)
def test_integer_limits_export_as_json_integers(schema: ChannelSchema) -> None:
    text = schema.to_json()
    limits = _limits(json.loads(text))
    integers = [(n, v) for n, t, v in limits if t == "integer"]
    assert integers, "every built-in schema has integer limits (MaxRetries at least)"
    assert all(type(v) is int for _, v in integers), integers
    assert '"max_value": 10,' in text or '"max_value": 10\n' in text  # MaxRetries, not 10.0
    assert ChannelSchema.from_json(text).to_json() == text


def test_the_integer_limits_of_the_common_parameters() -> None:
    data = ChannelSchema("p", "t", "1", parameters=COMMON_PARAMETERS).to_dict()
    retries = next(p for p in data["parameters"] if p["name"] == "MaxRetries")
    assert (retries["min_value"], retries["max_value"]) == (0, 10)
    assert type(retries["min_value"]) is int
    timeout = next(p for p in data["parameters"] if p["name"] == "Timeout")
    assert timeout["min_value"] == 0.1


def test_an_integer_with_a_fractional_limit_is_a_definition_error() -> None:
    with pytest.raises(SchemaDefinitionError, match="not a whole number"):
        ChannelParameter("N", ParameterType.INTEGER, min_value=0.5)
    with pytest.raises(SchemaDefinitionError, match="not a whole number"):
        MessagePropertySchema("N", ParameterType.INTEGER,
                              constraints=MessagePropertyConstraint(max_value=2.5))
    ChannelParameter("N", ParameterType.NUMBER, min_value=0.5)  # fine for a number


# -- the schema format's own JSON Schema ----------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    document = ChannelSchema.json_schema()
    jsonschema.Draft202012Validator.check_schema(document)
    return jsonschema.Draft202012Validator(document)


def test_the_json_schema_is_shipped_as_package_data() -> None:
    import importlib.resources

    shipped = importlib.resources.files("ratatosk") / "data" / "channel-schema.schema.json"
    assert json.loads(shipped.read_text(encoding="utf-8")) == ChannelSchema.json_schema()
    assert ChannelSchema.json_schema()["properties"]["format"] == {"const": "ratatosk.schema/1"}


@pytest.mark.parametrize("schema", _builtin_schemas(), ids=lambda s: s.name or s.identity)
def test_every_builtin_schema_export_validates(
    schema: ChannelSchema, validator: jsonschema.Draft202012Validator,
) -> None:
    validator.validate(json.loads(schema.to_json()))


def test_the_json_schemas_enums_follow_the_code() -> None:
    defs = ChannelSchema.json_schema()["$defs"]
    assert defs["capability"]["enum"] == [c.name for c in ChannelCapability if c.value]
    assert defs["content_type"]["enum"] == [t.value for t in MessageContentType]
    assert defs["endpoint_type"]["enum"] == [t.value for t in EndpointType]
    assert defs["data_type"]["enum"] == [t.value for t in ParameterType]
    from ratatosk import AuthenticationFieldRole, AuthenticationScheme

    assert defs["authentication"]["properties"]["scheme"]["enum"] == [
        s.value for s in AuthenticationScheme]
    assert defs["authentication_field"]["properties"]["role"]["enum"] == [
        r.value for r in AuthenticationFieldRole]
    # every field the export writes is described
    data = TwilioChannelSchemas.TWILIO_SMS.to_dict()
    top = ChannelSchema.json_schema()["properties"]
    assert set(data) == set(top)
    assert set(data["parameters"][0]) == set(defs["parameter"]["properties"])
    assert set(data["message_properties"][0]) == set(defs["message_property"]["properties"])
    assert set(data["message_properties"][0]["constraints"]) == set(
        defs["constraints"]["properties"])


@pytest.mark.parametrize(("path", "value"), [
    (("parameters", 0, "requird"), True),                      # a typo'd key
    (("message_properties", 0, "constraints", "min_value"), 1.5),  # ValidityPeriod: integer
    (("capabilities",), ["TELEPATHY"]),
    (("format",), "ratatosk.schema/2"),
    (("parameters", 0, "data_type"), "str"),
])
def test_the_json_schema_rejects_broken_exports(
    path: tuple[Any, ...], value: Any, validator: jsonschema.Draft202012Validator,
) -> None:
    data = TwilioChannelSchemas.SIMPLE_SMS.to_dict()
    assert data["message_properties"][0]["name"] == "ValidityPeriod"
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert not validator.is_valid(data)
