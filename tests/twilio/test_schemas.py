"""The Twilio schemas: presets derived from their base, what each declares, and the agreement of
parameter and property constraints with Twilio's OpenAPI description."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from reference_data import reference_file

from ratatosk import (
    COMMON_PARAMETERS,
    AuthenticationFieldRole,
    AuthenticationScheme,
    ChannelCapability,
    ChannelSchema,
    ConnectionSettings,
    EndpointType,
    MessageContentType,
    ParameterType,
)
from ratatosk_twilio import TwilioChannelSchemas, TwilioSmsConnector, TwilioWhatsAppConnector

SPEC = json.loads(reference_file("twilio_messages_openapi.json").read_text())
CREATE = SPEC["paths"]["/2010-04-01/Accounts/{AccountSid}/Messages.json"]["post"][
    "requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["properties"]

S = TwilioChannelSchemas
C = ChannelCapability
ACCOUNT = "AC" + "0123456789abcdef" * 2

PRESETS = {
    "SimpleSms": (S.SIMPLE_SMS, S.TWILIO_SMS),
    "NotificationSms": (S.NOTIFICATION_SMS, S.TWILIO_SMS),
    "BulkSms": (S.BULK_SMS, S.TWILIO_SMS),
    "SimpleWhatsApp": (S.SIMPLE_WHATSAPP, S.TWILIO_WHATSAPP),
    "WhatsAppTemplates": (S.WHATSAPP_TEMPLATES, S.TWILIO_WHATSAPP),
}


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        return SPEC["components"]["schemas"][ref.rsplit("/", 1)[1]]  # type: ignore[no-any-return]
    return schema


@pytest.mark.parametrize("name", PRESETS)
def test_preset_is_a_restriction_of_its_base(name: str) -> None:
    preset, base = PRESETS[name]
    assert preset.name == name
    assert preset.restriction_problems(base) == []
    assert preset.is_restriction_of(base)
    assert preset != base
    assert not base.is_restriction_of(preset)


def test_connector_classes_carry_their_schemas_and_presets() -> None:
    assert TwilioSmsConnector.default_schema is S.TWILIO_SMS
    assert TwilioWhatsAppConnector.default_schema is S.TWILIO_WHATSAPP
    assert dict(TwilioSmsConnector.presets) == {
        "SimpleSms": S.SIMPLE_SMS, "NotificationSms": S.NOTIFICATION_SMS, "BulkSms": S.BULK_SMS}
    assert dict(TwilioWhatsAppConnector.presets) == {
        "SimpleWhatsApp": S.SIMPLE_WHATSAPP, "WhatsAppTemplates": S.WHATSAPP_TEMPLATES}
    assert set(S.all()) == {"TwilioSms", "TwilioWhatsApp", *PRESETS}


def test_identities() -> None:
    assert S.TWILIO_SMS.identity == "twilio/sms/1.0.0"
    assert S.TWILIO_WHATSAPP.identity == "twilio/whatsapp/1.0.0"
    assert all(p.connector_id == b.connector_id for p, b in PRESETS.values())


@pytest.mark.parametrize(("schema", "capabilities", "contents"), [
    (S.TWILIO_SMS,
     C.SEND_MESSAGES | C.MESSAGE_STATUS_QUERY | C.RECEIVE_MESSAGES | C.HANDLE_MESSAGE_STATE
     | C.MEDIA_ATTACHMENTS | C.BULK_MESSAGING | C.HEALTH_CHECK,
     {"plain_text", "media", "multipart"}),
    (S.SIMPLE_SMS, C.SEND_MESSAGES | C.MESSAGE_STATUS_QUERY, {"plain_text"}),
    (S.NOTIFICATION_SMS, C.SEND_MESSAGES, {"plain_text"}),
    (S.BULK_SMS,
     C.SEND_MESSAGES | C.MESSAGE_STATUS_QUERY | C.HANDLE_MESSAGE_STATE | C.MEDIA_ATTACHMENTS
     | C.BULK_MESSAGING | C.HEALTH_CHECK,
     {"plain_text", "media", "multipart"}),
    (S.TWILIO_WHATSAPP,
     C.SEND_MESSAGES | C.MESSAGE_STATUS_QUERY | C.RECEIVE_MESSAGES | C.HANDLE_MESSAGE_STATE
     | C.MEDIA_ATTACHMENTS | C.TEMPLATES | C.BULK_MESSAGING | C.HEALTH_CHECK,
     {"plain_text", "media", "multipart", "template"}),
    (S.SIMPLE_WHATSAPP, C.SEND_MESSAGES | C.MESSAGE_STATUS_QUERY, {"plain_text"}),
    (S.WHATSAPP_TEMPLATES,
     C.SEND_MESSAGES | C.MESSAGE_STATUS_QUERY | C.HANDLE_MESSAGE_STATE | C.TEMPLATES
     | C.BULK_MESSAGING | C.HEALTH_CHECK,
     {"template"}),
])
def test_capabilities_and_content_types(
    schema: ChannelSchema, capabilities: ChannelCapability, contents: set[str]
) -> None:
    assert schema.capabilities == capabilities
    assert {t.value for t in schema.content_types} == contents
    assert schema.strict
    phone = schema.endpoint(EndpointType.PHONE_NUMBER)
    assert phone is not None and phone.can_send
    assert phone.can_receive == schema.has_capability(C.RECEIVE_MESSAGES)


def test_seed_properties_and_settings_are_declared() -> None:
    sms = S.TWILIO_SMS
    for name in ("ValidityPeriod", "MaxPrice", "ProvideCallback", "SmartEncoded"):
        assert sms.message_property(name) is not None, name
    for name in ("AccountSid", "AuthToken", "MessagingServiceSid", "WebhookUrl",
                 "StatusCallback", "ValidityPeriod", "MaxPrice", "SmartEncoded", "ApiKeySid",
                 "ApiKeySecret", "Region", "Edge", "BaseUrl", "SecondaryAuthTokens",
                 "ValidateSignatures", "TrustForwardedHeaders",
                 *(p.name for p in COMMON_PARAMETERS)):
        assert sms.parameter(name) is not None, name
    simple = S.SIMPLE_SMS
    assert {p.name for p in simple.message_properties} == {"ValidityPeriod", "MaxPrice",
                                                           "SmartEncoded"}
    assert {p.name for p in S.NOTIFICATION_SMS.message_properties} == {
        "ValidityPeriod", "MaxPrice", "SmartEncoded", "ProvideCallback", "StatusCallback"}


def test_parameter_types_defaults_and_secrets() -> None:
    sms = S.TWILIO_SMS

    def p(name: str) -> Any:
        parameter = sms.parameter(name)
        assert parameter is not None
        return parameter

    assert p("AccountSid").required and p("AccountSid").pattern == r"^AC[0-9a-fA-F]{32}$"
    assert p("ApiKeySid").pattern == r"^SK[0-9a-fA-F]{32}$"
    assert p("MessagingServiceSid").pattern == r"^MG[0-9a-fA-F]{32}$"
    assert not p("MessagingServiceSid").required
    assert sorted(sms.sensitive_parameters) == ["ApiKeySecret", "AuthToken",
                                                "SecondaryAuthTokens"]
    assert p("BaseUrl").default == "https://api.twilio.com"
    assert p("BaseUrl").data_type is ParameterType.URL
    assert (p("ValidityPeriod").min_value, p("ValidityPeriod").max_value) == (1, 36000)
    assert p("ValidityPeriod").default is None  # sent only when set
    assert p("ValidateSignatures").default is True
    assert p("TrustForwardedHeaders").default is False
    bulk = S.BULK_SMS.parameter("MessagingServiceSid")
    assert bulk is not None and bulk.required


def test_two_ways_to_authenticate() -> None:
    for schema in (S.TWILIO_SMS, S.TWILIO_WHATSAPP, *(p for p, _ in PRESETS.values())):
        basic, api_key = schema.authentication
        assert basic.scheme is AuthenticationScheme.BASIC
        assert basic.field_for(AuthenticationFieldRole.PRINCIPAL) == "AccountSid"
        assert basic.field_for(AuthenticationFieldRole.CREDENTIAL) == "AuthToken"
        assert api_key.scheme is AuthenticationScheme.API_KEY
        assert api_key.field_for(AuthenticationFieldRole.PRINCIPAL) == "ApiKeySid"
        assert api_key.field_for(AuthenticationFieldRole.CREDENTIAL) == "ApiKeySecret"


_TYPES = {ParameterType.INTEGER: "integer", ParameterType.NUMBER: "number",
          ParameterType.BOOLEAN: "boolean", ParameterType.URL: "string",
          ParameterType.STRING: "string", ParameterType.DATETIME: "string",
          ParameterType.JSON: "array"}


@pytest.mark.parametrize("schema", [S.TWILIO_SMS, S.TWILIO_WHATSAPP], ids=["sms", "whatsapp"])
def test_message_properties_agree_with_the_openapi_spec(schema: ChannelSchema) -> None:
    for prop in schema.message_properties:
        if prop.name == "ProvideCallback":  # the seed's: it drives StatusCallback
            continue
        spec = _resolve(CREATE[prop.name])
        assert spec["type"] == _TYPES[prop.data_type], prop.name
        if "enum" in spec:
            assert list(prop.constraints.allowed_values) == spec["enum"], prop.name
        if spec.get("format") == "date-time":
            assert prop.data_type is ParameterType.DATETIME
        if spec.get("format") == "uri":
            assert prop.data_type is ParameterType.URL
    validity = schema.message_property("ValidityPeriod")
    assert validity is not None
    assert (validity.constraints.min_value, validity.constraints.max_value) == (1, 36000)


def test_sid_patterns_agree_with_the_openapi_spec() -> None:
    assert S.TWILIO_SMS.parameter("MessagingServiceSid").pattern == (  # type: ignore[union-attr]
        CREATE["MessagingServiceSid"]["pattern"])
    account = SPEC["paths"]["/2010-04-01/Accounts/{AccountSid}/Messages.json"]["post"][
        "parameters"][0]["schema"]["pattern"]
    assert S.TWILIO_SMS.parameter("AccountSid").pattern == account  # type: ignore[union-attr]


@pytest.mark.parametrize("schema", list(S.all().values()), ids=list(S.all()))
def test_json_export_round_trips(schema: ChannelSchema) -> None:
    text = schema.to_json()
    assert ChannelSchema.from_json(text) == schema
    assert json.loads(text)["name"] == schema.name


def test_settings_validation_reports_every_problem_without_secrets() -> None:
    settings = ConnectionSettings({"AccountSid": "SK123", "AuthToken": "s3cret-token-value",
                                   "ValidityPeriod": "99999", "Region": "Ireland!",
                                   "Unknown": "x"})
    issues = S.TWILIO_SMS.validate_settings(settings)
    assert {i.field for i in issues} == {"AccountSid", "ValidityPeriod", "Region", "Unknown"}
    assert all("s3cret-token-value" not in str(i) for i in issues)
    bulk = S.BULK_SMS.validate_settings({"AccountSid": ACCOUNT, "AuthToken": "tok-1234"})
    assert [i.field for i in bulk] == ["MessagingServiceSid"]
    simple = S.SIMPLE_SMS.validate_settings({"AccountSid": ACCOUNT, "AuthToken": "tok-1234",
                                             "WebhookUrl": "https://example.com/hook"})
    assert [i.field for i in simple] == ["WebhookUrl"]


def test_content_type_enums() -> None:
    assert MessageContentType.TEMPLATE in S.TWILIO_WHATSAPP.content_types
    assert MessageContentType.TEMPLATE not in S.TWILIO_SMS.content_types


# -- the documentation matches the code -------------------------------------------------------

DOC = Path(__file__).resolve().parents[2] / "docs" / "twilio.md"


def test_docs_name_every_setting_property_preset_code_and_status() -> None:
    from ratatosk_twilio import TwilioErrorCodes
    from ratatosk_twilio._status import TWILIO_STATUSES

    text = DOC.read_text(encoding="utf-8")
    names = {p.name for s in (S.TWILIO_SMS, S.TWILIO_WHATSAPP) for p in s.parameters}
    names |= {p.name for s in (S.TWILIO_SMS, S.TWILIO_WHATSAPP) for p in s.message_properties}
    names |= set(S.all())
    names |= set(TwilioErrorCodes.all_codes())
    missing = sorted(n for n in names if f"`{n}`" not in text and f"| {n} |" not in text)
    assert not missing, f"docs/twilio.md does not mention {missing}"
    missing_statuses = [s for s in TWILIO_STATUSES if f"`{s}`" not in text]
    assert not missing_statuses


def test_docs_python_examples_compile() -> None:
    import ast
    import re

    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) >= 5
    for block in blocks:
        compile(block, "docs/twilio.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
