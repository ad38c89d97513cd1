"""ChannelSchema: settings and message validation, derivation and the restriction check."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from ratatosk import (
    ButtonContent,
    ConnectionSettings,
    Endpoint,
    EndpointType,
    MediaContent,
    MediaType,
    Message,
    MessageBuilder,
    MessageContentType,
    MessagingErrorCodes,
    MultipartContent,
    TemplateContent,
    TextContent,
)
from ratatosk.schema._model import (
    COMMON_PARAMETERS,
    AuthenticationConfiguration,
    AuthenticationField,
    AuthenticationFieldRole,
    AuthenticationScheme,
    ChannelCapability,
    ChannelEndpoint,
    ChannelParameter,
    ChannelSchema,
    MessagePropertyConstraint,
    MessagePropertySchema,
    ParameterType,
    convert_value,
)

Cap = ChannelCapability
SID = "AC" + "0123456789abcdef" * 2

BASE = ChannelSchema(
    provider="acme",
    type="sms",
    version="1.0.0",
    display_name="Acme SMS",
    capabilities=Cap.SEND_MESSAGES | Cap.MESSAGE_STATUS_QUERY | Cap.MEDIA_ATTACHMENTS,
    content_types=[MessageContentType.PLAIN_TEXT, MessageContentType.MEDIA],
    endpoints=[ChannelEndpoint(EndpointType.PHONE_NUMBER, can_send=True, can_receive=True)],
    parameters=[
        ChannelParameter("AccountSid", required=True, pattern=r"^AC[0-9a-f]{32}$"),
        ChannelParameter("AuthToken", required=True, sensitive=True, pattern=r"^[0-9a-f]{32}$"),
        ChannelParameter("ApiKey", sensitive=True, allowed_values=["alpha", "beta"]),
        ChannelParameter("Region", allowed_values=["us1", "ie1", "au1"]),
        ChannelParameter("MessagingServiceSid"),
        ChannelParameter("WebhookUrl", ParameterType.URL),
        ChannelParameter("SmartEncoded", ParameterType.BOOLEAN, default=False),
        ChannelParameter("MaxPrice", ParameterType.NUMBER, min_value=0),
        ChannelParameter("StartAt", ParameterType.DATETIME),
        ChannelParameter("Extra", ParameterType.JSON),
        *COMMON_PARAMETERS,
    ],
    message_properties=[
        MessagePropertySchema(
            "ValidityPeriod",
            ParameterType.INTEGER,
            constraints=MessagePropertyConstraint(min_value=1, max_value=36000),
        ),
        MessagePropertySchema("MaxPrice", ParameterType.NUMBER,
                              constraints=MessagePropertyConstraint(min_value=0)),
        MessagePropertySchema("SmartEncoded", ParameterType.BOOLEAN),
        MessagePropertySchema(
            "Tag",
            constraints=MessagePropertyConstraint(min_length=2, max_length=5, pattern=r"^[a-z]+$"),
        ),
        MessagePropertySchema(
            "Priority", constraints=MessagePropertyConstraint(allowed_values=["low", "high"])
        ),
        MessagePropertySchema("StatusCallback", ParameterType.URL),
        MessagePropertySchema("SendAt", ParameterType.DATETIME),
    ],
    authentication=[
        AuthenticationConfiguration(
            AuthenticationScheme.BASIC,
            [
                AuthenticationField("AccountSid", AuthenticationFieldRole.PRINCIPAL),
                AuthenticationField("AuthToken", AuthenticationFieldRole.CREDENTIAL),
            ],
        )
    ],
)

GOOD = {"AccountSid": SID, "AuthToken": "f" * 32}


def sms(**properties: Any) -> Message:
    builder = MessageBuilder().from_phone("+15550001111").to_phone("+15550002222").with_text("Hi")
    for name, value in properties.items():
        builder.with_property(name, value)
    return builder.build()


def fields(issues: list[Any]) -> list[str]:
    return [issue.field for issue in issues]


# -- COMMON_PARAMETERS ------------------------------------------------------------------------


def test_common_parameters_declare_the_connector_base_settings() -> None:
    by_name = {p.name: p for p in COMMON_PARAMETERS}
    assert set(by_name) == {"Timeout", "MaxRetries", "RetryBaseDelay", "RetryMaxDelay",
                            "MessagesPerSecond"}
    assert by_name["Timeout"].data_type is ParameterType.NUMBER
    assert (by_name["Timeout"].default, by_name["Timeout"].min_value) == (30, 0.1)
    assert by_name["MaxRetries"].data_type is ParameterType.INTEGER
    assert (by_name["MaxRetries"].default, by_name["MaxRetries"].min_value,
            by_name["MaxRetries"].max_value) == (3, 0, 10)
    assert by_name["RetryBaseDelay"].default == 0.5
    assert by_name["RetryMaxDelay"].default == 30
    assert by_name["MessagesPerSecond"].default == 0
    for param in COMMON_PARAMETERS:
        assert param.description
        assert not param.required
        assert param.min_value == pytest.approx(0.1 if param.name == "Timeout" else 0)


def test_common_defaults_resolve_to_their_types() -> None:
    params = BASE.resolve_settings(GOOD).unwrap()
    assert params["Timeout"] == 30.0 and isinstance(params["Timeout"], float)
    assert params["MaxRetries"] == 3 and isinstance(params["MaxRetries"], int)
    assert params["MessagesPerSecond"] == 0.0


# -- settings validation ----------------------------------------------------------------------


def test_valid_settings_have_no_issues() -> None:
    assert BASE.validate_settings(GOOD) == []
    assert BASE.validate_settings(ConnectionSettings(GOOD)) == []


def test_every_missing_required_parameter_is_reported() -> None:
    issues = BASE.validate_settings({})
    assert fields(issues) == ["AccountSid", "AuthToken"]
    assert all(i.code == "required" for i in issues)
    assert "AccountSid" in issues[0].message and issues[0].message.endswith(".")


def test_empty_values_count_as_not_given() -> None:
    issues = BASE.validate_settings(ConnectionSettings.parse("AccountSid=;AuthToken=  "))
    assert fields(issues) == ["AccountSid", "AuthToken"]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("MaxRetries", "7", 7),
        ("MaxRetries", " 10 ", 10),
        ("Timeout", "2.5", 2.5),
        ("Timeout", "30", 30.0),
        ("SmartEncoded", "true", True),
        ("SmartEncoded", "FALSE", False),
        ("SmartEncoded", "yes", True),
        ("SmartEncoded", "no", False),
        ("SmartEncoded", "1", True),
        ("SmartEncoded", "0", False),
        ("WebhookUrl", "https://example.com/hook?x=1", "https://example.com/hook?x=1"),
        ("WebhookUrl", "http://127.0.0.1:8080/", "http://127.0.0.1:8080/"),
        ("StartAt", "2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=timezone.utc)),
        ("Extra", '{"a": [1, 2]}', {"a": [1, 2]}),
    ],
)
def test_text_values_convert_to_the_declared_type(name: str, text: str, expected: Any) -> None:
    settings = ConnectionSettings(GOOD).set_parameter(name, text)
    assert BASE.validate_settings(settings) == []
    value = BASE.resolve_settings(settings).unwrap()[name]
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("MaxRetries", "seven"),
        ("MaxRetries", "2.5"),
        ("MaxRetries", "1e3"),
        ("Timeout", "fast"),
        ("Timeout", "nan"),
        ("Timeout", "inf"),
        ("SmartEncoded", "maybe"),
        ("SmartEncoded", "2"),
        ("WebhookUrl", "/relative/path"),
        ("WebhookUrl", "ftp://example.com/file"),
        ("WebhookUrl", "https://"),
        ("WebhookUrl", "https://exa mple.com"),
        ("StartAt", "yesterday"),
        ("StartAt", "2024-13-45T00:00:00"),
    ],
)
def test_wrong_types_are_reported(name: str, text: str) -> None:
    issues = BASE.validate_settings(ConnectionSettings(GOOD).set_parameter(name, text))
    assert [(i.field, i.code) for i in issues] == [(name, "type")]
    assert name in issues[0].message


def test_python_values_of_the_wrong_type_are_reported() -> None:
    issues = BASE.validate_settings({**GOOD, "MaxRetries": True, "Timeout": [1],
                                     "AccountSid": 42, "StartAt": 3.5})
    assert sorted(fields(issues)) == ["AccountSid", "MaxRetries", "StartAt", "Timeout"]
    assert {i.code for i in issues} == {"type"}


def test_decimal_number_stays_decimal_and_ints_become_floats() -> None:
    params = BASE.resolve_settings({**GOOD, "MaxPrice": Decimal("0.01"), "Timeout": 5}).unwrap()
    assert params["MaxPrice"] == Decimal("0.01") and isinstance(params["MaxPrice"], Decimal)
    assert params["Timeout"] == 5.0 and isinstance(params["Timeout"], float)


def test_ranges_allowed_values_and_patterns() -> None:
    settings = {
        "AccountSid": "AC123",
        "AuthToken": "f" * 32,
        "MaxRetries": "11",
        "Timeout": "0.01",
        "Region": "eu9",
        "MaxPrice": "-1",
    }
    issues = BASE.validate_settings(settings)
    got = {(i.field, i.code) for i in issues}
    assert got == {
        ("AccountSid", "pattern"),
        ("MaxRetries", "max_value"),
        ("Timeout", "min_value"),
        ("Region", "allowed_values"),
        ("MaxPrice", "min_value"),
    }
    region = next(i for i in issues if i.field == "Region")
    assert "us1, ie1, au1" in region.message and "'eu9'" in region.message
    retries = next(i for i in issues if i.field == "MaxRetries")
    assert "at most 10" in retries.message


def test_boundaries_are_inclusive() -> None:
    assert BASE.validate_settings({**GOOD, "MaxRetries": "10", "Timeout": "0.1"}) == []
    assert BASE.validate_settings({**GOOD, "MaxRetries": 0}) == []


def test_sensitive_values_never_appear_in_issues() -> None:
    secret_token = "not-hex-SECRET-VALUE-1234"
    secret_choice = "gamma-SECRET"
    settings = ConnectionSettings(GOOD).set_parameter("AuthToken", secret_token)
    settings.set_parameter("ApiKey", secret_choice)
    issues = BASE.validate_settings(settings)
    assert {(i.field, i.code) for i in issues} == {("AuthToken", "pattern"),
                                                     ("ApiKey", "allowed_values")}
    text = " ".join(str(i) for i in issues)
    assert secret_token not in text and secret_choice not in text
    error = BASE.resolve_settings(settings).error
    assert error is not None
    assert secret_token not in str(error) and secret_token not in repr(error)


def test_settings_marked_sensitive_by_the_caller_are_hidden_too() -> None:
    settings = ConnectionSettings(GOOD).set_parameter("Region", "hidden-eu", sensitive=True)
    [issue] = BASE.validate_settings(settings)
    assert issue.field == "Region" and "hidden-eu" not in issue.message


def test_strict_schema_reports_unknown_parameters_but_flexible_keeps_them() -> None:
    settings = {**GOOD, "AccountSld": "typo", "Colour": "blue"}
    issues = BASE.validate_settings(settings)
    assert sorted(fields(issues)) == ["AccountSld", "Colour"]
    assert all(i.code == "unknown" for i in issues)
    assert all("typo" not in i.message and "blue" not in i.message for i in issues)
    flexible = BASE.derive(strict=False)
    assert flexible.validate_settings(settings) == []
    assert flexible.resolve_settings(settings).unwrap()["Colour"] == "blue"


def test_all_problems_are_reported_together() -> None:
    issues = BASE.validate_settings({"MaxRetries": "x", "Region": "mars", "Bogus": "1"})
    assert sorted(fields(issues)) == ["AccountSid", "AuthToken", "Bogus", "MaxRetries", "Region"]


def test_resolve_settings_failure_carries_every_issue() -> None:
    result = BASE.resolve_settings({"MaxRetries": "x"})
    assert result.is_failure and result.error is not None
    assert result.error.code == MessagingErrorCodes.INVALID_CONFIGURATION
    assert result.error.domain == "messaging"
    assert [i.field for i in result.error.issues] == ["AccountSid", "AuthToken", "MaxRetries"]
    assert "acme/sms/1.0.0" in result.error.message and "3 problems" in result.error.message


def test_resolve_settings_applies_defaults_and_lists_every_declared_parameter() -> None:
    params = BASE.resolve_settings(GOOD).unwrap()
    assert params["SmartEncoded"] is False
    assert params["MessagingServiceSid"] is None
    assert set(params) == {p.name for p in BASE.parameters}


def test_resolve_settings_marks_schema_sensitive_parameters() -> None:
    schema = BASE.derive()
    schema = type(schema)(**{**{f: getattr(schema, f) for f in ("provider", "type", "version")},
                             "parameters": [*schema.parameters,
                                            ChannelParameter("Signing", sensitive=True)],
                             "strict": False})
    settings = ConnectionSettings(GOOD).set_parameter("Signing", "alpha-signing")
    assert not settings.is_sensitive("Signing")
    assert schema.resolve_settings(settings).is_success
    assert settings.is_sensitive("Signing")
    assert "alpha-signing" not in repr(settings)


def test_validate_settings_rejects_non_mappings() -> None:
    with pytest.raises(TypeError):
        BASE.validate_settings("AccountSid=AC")  # type: ignore[arg-type]


def test_convert_value_errors_are_sentences() -> None:
    with pytest.raises(ValueError, match="whole number"):
        convert_value("x", ParameterType.INTEGER)
    assert convert_value("[1]", ParameterType.JSON) == [1]
    assert convert_value("plain words", ParameterType.JSON) == "plain words"
    with pytest.raises(ValueError, match="JSON"):
        convert_value(object(), ParameterType.JSON)
    with pytest.raises(ValueError, match="text"):
        convert_value(5, ParameterType.STRING)


# -- message validation -----------------------------------------------------------------------


def test_a_valid_message_has_no_issues() -> None:
    message = sms(ValidityPeriod=300, MaxPrice=Decimal("0.01"), SmartEncoded="true",
                  Tag="abc", Priority="high", StatusCallback="https://example.com/cb",
                  SendAt=datetime(2030, 1, 1, tzinfo=timezone.utc))
    assert BASE.validate_message(message) == []


def test_seed_mms_example_is_valid() -> None:
    message = (
        MessageBuilder()
        .with_id("mms-1")
        .from_phone("+15550001111")
        .to_phone("+15550002222")
        .with_content(MediaContent(MediaType.IMAGE, "photo.jpg", "https://example.com/photo.jpg"))
        .build()
    )
    assert BASE.validate_message(message) == []


def test_missing_content_and_receiver() -> None:
    issues = BASE.validate_message(Message())
    assert [(i.field, i.code) for i in issues] == [("content", "required"),
                                                   ("receiver", "required")]


def test_content_type_not_declared() -> None:
    message = sms()
    html_only = BASE.remove_content_types(MessageContentType.PLAIN_TEXT)
    [issue] = html_only.validate_message(message)
    assert (issue.field, issue.code) == ("content", "unsupported_content")
    assert "plain text" in issue.message


def test_media_needs_the_media_capability() -> None:
    no_media_cap = BASE.remove_capabilities(Cap.MEDIA_ATTACHMENTS)
    message = Message(
        sender=Endpoint.phone("+15550001111"), receiver=Endpoint.phone("+15550002222"),
        content=MediaContent(MediaType.IMAGE, "a.png", "https://example.com/a.png"),
    )
    [issue] = no_media_cap.validate_message(message)
    assert (issue.field, issue.code) == ("content", "capability")
    assert "MEDIA_ATTACHMENTS" in issue.message


def test_media_without_url_or_data() -> None:
    message = Message(receiver=Endpoint.phone("+15550002222"),
                      content=MediaContent(MediaType.IMAGE, "a"))
    [issue] = BASE.validate_message(message)
    assert (issue.field, issue.code) == ("content", "required")


def test_empty_text_is_an_issue() -> None:
    message = Message(receiver=Endpoint.phone("+15550002222"), content=TextContent("   "))
    assert [(i.field, i.code) for i in BASE.validate_message(message)] == [("content", "empty")]


def test_text_with_media_is_accepted_without_declaring_multipart() -> None:
    message = (MessageBuilder().to_phone("+15550002222").with_text("Look")
               .with_media("https://example.com/a.jpg").with_media("https://example.com/b.jpg")
               .build())
    assert isinstance(message.content, MultipartContent)
    assert MessageContentType.MULTIPART not in BASE.content_types
    assert BASE.validate_message(message) == []


def test_multipart_needs_each_part_kind_declared() -> None:
    text_only = BASE.remove_content_types(MessageContentType.MEDIA)
    message = (MessageBuilder().to_phone("+15550002222").with_text("Look")
               .with_media("https://example.com/a.jpg").build())
    [issue] = text_only.validate_message(message)
    assert (issue.field, issue.code) == ("content.parts[1]", "unsupported_content")


def test_multipart_other_than_text_and_media_needs_multipart() -> None:
    schema = ChannelSchema(
        "acme", "chat", "1", capabilities=Cap.SEND_MESSAGES | Cap.TEMPLATES,
        content_types=[MessageContentType.PLAIN_TEXT, MessageContentType.TEMPLATE],
        endpoints=[ChannelEndpoint(EndpointType.USER_ID)],
    )
    content = MultipartContent([TextContent("a"), TemplateContent("T1")])
    message = Message(receiver=Endpoint(EndpointType.USER_ID, "u1"), content=content)
    [issue] = schema.validate_message(message)
    assert (issue.field, issue.code) == ("content", "unsupported_content")
    with_multipart = ChannelSchema(
        "acme", "chat", "1", capabilities=schema.capabilities,
        content_types=[*schema.content_types, MessageContentType.MULTIPART],
        endpoints=schema.endpoints,
    )
    assert with_multipart.validate_message(message) == []


def test_nested_multipart_parts_are_checked() -> None:
    inner = MultipartContent([TextContent("b"), ButtonContent("Yes")])
    message = Message(receiver=Endpoint.phone("+15550002222"),
                      content=MultipartContent([TextContent("a"), inner]))
    got = {(i.field, i.code) for i in BASE.validate_message(message)}
    assert ("content.parts[2]", "unsupported_content") in got
    assert ("content", "capability") in got  # interactive content not declared


def test_empty_multipart() -> None:
    message = Message(receiver=Endpoint.phone("+15550002222"), content=MultipartContent([]))
    assert ("content", "empty") in {(i.field, i.code) for i in BASE.validate_message(message)}


def test_template_needs_the_templates_capability() -> None:
    schema = ChannelSchema(
        "acme", "wa", "1", capabilities=Cap.SEND_MESSAGES,
        content_types=[MessageContentType.TEMPLATE],
        endpoints=[ChannelEndpoint(EndpointType.PHONE_NUMBER)],
    )
    message = MessageBuilder().to_phone("+15550002222").with_template("HX1", {"1": "x"}).build()
    [issue] = schema.validate_message(message)
    assert (issue.field, issue.code) == ("content", "capability")
    assert "TEMPLATES" in issue.message


def test_receiver_endpoint_type_and_direction() -> None:
    message = Message(receiver=Endpoint(EndpointType.EMAIL_ADDRESS, "a@example.com"),
                      content=TextContent("x"))
    [issue] = BASE.validate_message(message)
    assert (issue.field, issue.code) == ("receiver", "unsupported")
    receive_only = BASE.restrict_endpoint(EndpointType.PHONE_NUMBER, can_send=False)
    [issue] = receive_only.validate_message(sms())
    assert (issue.field, issue.code) == ("receiver", "direction")


def test_sender_endpoint_type_must_be_declared() -> None:
    message = Message(sender=Endpoint(EndpointType.LABEL, "Acme"),
                      receiver=Endpoint.phone("+15550002222"), content=TextContent("x"))
    [issue] = BASE.validate_message(message)
    assert (issue.field, issue.code) == ("sender", "unsupported")


def test_any_endpoint_accepts_every_type() -> None:
    schema = ChannelSchema("acme", "any", "1", content_types=[MessageContentType.PLAIN_TEXT],
                           endpoints=[ChannelEndpoint(EndpointType.ANY)])
    message = Message(sender=Endpoint(EndpointType.LABEL, "Acme"),
                      receiver=Endpoint(EndpointType.TOPIC, "news"), content=TextContent("x"))
    assert schema.validate_message(message) == []


def test_required_endpoint_type_must_be_used() -> None:
    schema = ChannelSchema(
        "acme", "mix", "1", content_types=[MessageContentType.PLAIN_TEXT],
        endpoints=[ChannelEndpoint(EndpointType.PHONE_NUMBER, required=True),
                   ChannelEndpoint(EndpointType.USER_ID)],
    )
    message = Message(receiver=Endpoint(EndpointType.USER_ID, "u"), content=TextContent("x"))
    [issue] = schema.validate_message(message)
    assert (issue.field, issue.code) == ("receiver", "required")
    assert schema.validate_message(sms()) == []


def test_empty_addresses() -> None:
    message = Message(sender=Endpoint.phone(" "), receiver=Endpoint.phone(""),
                      content=TextContent("x"))
    got = {(i.field, i.code) for i in BASE.validate_message(message)}
    assert got == {("sender", "empty"), ("receiver", "empty")}


def test_property_types_accept_text_forms() -> None:
    message = sms(ValidityPeriod="300", MaxPrice="0.25", SmartEncoded="no",
                  SendAt="2030-01-01T00:00:00+02:00")
    assert BASE.validate_message(message) == []


def test_property_constraints_are_all_reported() -> None:
    message = sms(ValidityPeriod=0, MaxPrice="cheap", SmartEncoded="perhaps", Tag="ABCDEFG",
                  Priority="urgent", StatusCallback="not a url", SendAt="soon")
    got = sorted((i.field, i.code) for i in BASE.validate_message(message))
    assert got == [
        ("properties.MaxPrice", "type"),
        ("properties.Priority", "allowed_values"),
        ("properties.SendAt", "type"),
        ("properties.SmartEncoded", "type"),
        ("properties.StatusCallback", "type"),
        ("properties.Tag", "max_length"),
        ("properties.Tag", "pattern"),
        ("properties.ValidityPeriod", "min_value"),
    ]
    validity = next(i for i in BASE.validate_message(message)
                    if i.field == "properties.ValidityPeriod")
    assert "at least 1" in validity.message


def test_min_length() -> None:
    [issue] = BASE.validate_message(sms(Tag="a"))
    assert (issue.field, issue.code) == ("properties.Tag", "min_length")


def test_required_property() -> None:
    schema = BASE.restrict_message_property("ValidityPeriod", required=True)
    [issue] = schema.validate_message(sms())
    assert (issue.field, issue.code) == ("properties.ValidityPeriod", "required")
    assert schema.validate_message(sms(ValidityPeriod=60)) == []


def test_unknown_properties_rejected_only_in_strict_mode() -> None:
    message = sms(Colour="blue")
    [issue] = BASE.validate_message(message)
    assert (issue.field, issue.code) == ("properties.Colour", "unknown")
    assert BASE.derive(strict=False).validate_message(message) == []


def test_every_message_problem_is_reported_at_once() -> None:
    message = Message(sender=Endpoint(EndpointType.URL, "https://x"), properties={"Nope": 1,
                      "ValidityPeriod": -5})
    assert sorted(fields(BASE.validate_message(message))) == [
        "content", "properties.Nope", "properties.ValidityPeriod", "receiver", "sender"
    ]


# -- derivation -------------------------------------------------------------------------------


def test_derive_returns_a_new_schema_and_leaves_the_base_alone() -> None:
    derived = BASE.derive(name="Simple", display_name="Simple SMS", description="d",
                          version="1.1.0")
    assert (derived.name, derived.display_name, derived.description, derived.version) == (
        "Simple", "Simple SMS", "d", "1.1.0")
    assert derived.parameters == BASE.parameters
    assert BASE.name is None and BASE.display_name == "Acme SMS"
    assert BASE.derive() == BASE


def test_remove_parts() -> None:
    derived = (
        BASE.remove_capabilities(Cap.MEDIA_ATTACHMENTS, Cap.MESSAGE_STATUS_QUERY)
        .remove_content_types(MessageContentType.MEDIA)
        .remove_parameters("Region", "Extra")
        .remove_message_properties("Tag")
    )
    assert derived.capabilities == Cap.SEND_MESSAGES
    assert derived.content_types == (MessageContentType.PLAIN_TEXT,)
    assert derived.parameter("Region") is None and derived.parameter("Extra") is None
    assert derived.message_property("Tag") is None
    assert derived.is_restriction_of(BASE)
    assert BASE.parameter("Region") is not None  # the base is unchanged


def test_removing_a_parameter_drops_authentication_that_uses_it() -> None:
    derived = BASE.remove_parameters("AuthToken")
    assert derived.authentication == ()
    assert BASE.remove_parameters("Region").authentication == BASE.authentication


def test_remove_endpoints() -> None:
    derived = BASE.remove_endpoints(EndpointType.PHONE_NUMBER)
    assert derived.endpoints == ()
    assert derived.is_restriction_of(BASE)


@pytest.mark.parametrize(
    "call",
    [
        lambda: BASE.remove_capabilities(Cap.TEMPLATES),
        lambda: BASE.remove_content_types(MessageContentType.HTML),
        lambda: BASE.remove_endpoints(EndpointType.EMAIL_ADDRESS),
        lambda: BASE.remove_parameters("Nope"),
        lambda: BASE.remove_message_properties("Nope"),
        lambda: BASE.restrict_parameter("Nope", required=True),
        lambda: BASE.restrict_message_property("Nope", required=True),
        lambda: BASE.restrict_endpoint(EndpointType.URL, can_send=False),
    ],
)
def test_removing_or_restricting_what_is_not_there_raises(call: Any) -> None:
    with pytest.raises(ValueError):
        call()


def test_restrict_parameter_narrows() -> None:
    derived = (
        BASE.restrict_parameter("MessagingServiceSid", required=True, pattern=r"^MG")
        .restrict_parameter("Region", allowed_values=["us1"], default="us1")
        .restrict_parameter("MaxRetries", min_value=1, max_value=5)
    )
    assert derived.parameter("MessagingServiceSid") == ChannelParameter(
        "MessagingServiceSid", required=True, pattern=r"^MG")
    region = derived.parameter("Region")
    assert region is not None and region.allowed_values == ("us1",) and region.default == "us1"
    retries = derived.parameter("MaxRetries")
    assert retries is not None and (retries.min_value, retries.max_value) == (1, 5)
    assert derived.is_restriction_of(BASE)
    issues = derived.validate_settings({**GOOD, "MaxRetries": "6", "Region": "ie1"})
    assert {(i.field, i.code) for i in issues} == {
        ("MessagingServiceSid", "required"), ("MaxRetries", "max_value"),
        ("Region", "allowed_values")}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "AccountSid", "required": False},
        {"name": "Region", "allowed_values": ["us1", "mars"]},
        {"name": "Region", "allowed_values": []},
        {"name": "MaxRetries", "min_value": -1},
        {"name": "MaxRetries", "max_value": 11},
        {"name": "MaxRetries", "min_value": 6, "max_value": 5},
        {"name": "AccountSid", "pattern": "^AC"},
        {"name": "Region", "default": "mars"},
        {"name": "MaxRetries", "default": 99},
    ],
)
def test_restrict_parameter_refuses_to_widen(kwargs: dict[str, Any]) -> None:
    name = kwargs.pop("name")
    with pytest.raises(ValueError, match=name):
        BASE.restrict_parameter(name, **kwargs)


def test_restrict_parameter_default_of_a_sensitive_parameter_is_not_echoed() -> None:
    with pytest.raises(ValueError) as info:
        BASE.restrict_parameter("ApiKey", default="hunter2-not-allowed")
    assert "hunter2-not-allowed" not in str(info.value)


def test_restrict_message_property() -> None:
    derived = BASE.restrict_message_property("ValidityPeriod", max_value=600, required=True)
    prop = derived.message_property("ValidityPeriod")
    assert prop is not None and prop.required and prop.constraints.max_value == 600
    assert prop.constraints.min_value == 1
    assert derived.is_restriction_of(BASE)
    [issue] = derived.validate_message(sms(ValidityPeriod=601))
    assert (issue.field, issue.code) == ("properties.ValidityPeriod", "max_value")
    narrowed_tag = BASE.restrict_message_property("Tag", min_length=3, max_length=4)
    assert narrowed_tag.is_restriction_of(BASE)
    narrowed_priority = BASE.restrict_message_property("Priority", allowed_values=["low"])
    assert narrowed_priority.is_restriction_of(BASE)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_value": 40000},
        {"min_value": 0},
        {"name": "Tag", "max_length": 6},
        {"name": "Tag", "min_length": 1},
        {"name": "Tag", "pattern": "^[a-z0-9]+$"},
        {"name": "Tag", "min_length": 5, "max_length": 3},
        {"name": "Priority", "allowed_values": ["urgent"]},
    ],
)
def test_restrict_message_property_refuses_to_widen(kwargs: dict[str, Any]) -> None:
    name = kwargs.pop("name", "ValidityPeriod")
    with pytest.raises(ValueError, match=name):
        BASE.restrict_message_property(name, **kwargs)


def test_restrict_message_property_cannot_make_required_optional() -> None:
    required = BASE.restrict_message_property("Tag", required=True)
    with pytest.raises(ValueError):
        required.restrict_message_property("Tag", required=False)


def test_restrict_endpoint() -> None:
    send_only = BASE.restrict_endpoint(EndpointType.PHONE_NUMBER, can_receive=False,
                                       required=True)
    endpoint = send_only.endpoint(EndpointType.PHONE_NUMBER)
    assert endpoint == ChannelEndpoint(EndpointType.PHONE_NUMBER, True, False, True)
    assert send_only.is_restriction_of(BASE)
    with pytest.raises(ValueError, match="receive"):
        send_only.restrict_endpoint(EndpointType.PHONE_NUMBER, can_receive=True)
    with pytest.raises(ValueError, match="required"):
        send_only.restrict_endpoint(EndpointType.PHONE_NUMBER, required=False)


# -- is_restriction_of ------------------------------------------------------------------------


def test_a_schema_is_a_restriction_of_itself() -> None:
    assert BASE.is_restriction_of(BASE)
    assert BASE.restriction_problems(BASE) == []


def test_flexible_to_strict_is_a_restriction_but_not_the_reverse() -> None:
    flexible = BASE.derive(strict=False)
    assert BASE.is_restriction_of(flexible)
    assert not flexible.is_restriction_of(BASE)
    assert any("flexible" in p for p in flexible.restriction_problems(BASE))


def widen(**changes: Any) -> ChannelSchema:
    import attrs

    return attrs.evolve(BASE, **changes)


def replace_param(name: str, **changes: Any) -> ChannelSchema:
    import attrs

    return widen(parameters=[attrs.evolve(p, **changes) if p.name == name else p
                             for p in BASE.parameters])


def replace_prop(name: str, **constraints: Any) -> ChannelSchema:
    import attrs

    return widen(message_properties=[
        attrs.evolve(p, constraints=attrs.evolve(p.constraints, **constraints))
        if p.name == name else p for p in BASE.message_properties])


@pytest.mark.parametrize(
    ("derived", "needle"),
    [
        (widen(provider="other"), "other/sms"),
        (widen(type="mms"), "acme/mms"),
        (widen(capabilities=BASE.capabilities | Cap.TEMPLATES), "TEMPLATES"),
        (widen(content_types=[*BASE.content_types, MessageContentType.HTML]), "html"),
        (widen(endpoints=[*BASE.endpoints, ChannelEndpoint(EndpointType.URL)]), "url"),
        (widen(parameters=[*BASE.parameters, ChannelParameter("New")]), "New"),
        (widen(message_properties=[*BASE.message_properties, MessagePropertySchema("New")]),
         "New"),
        (replace_param("AccountSid", required=False), "AccountSid"),
        (replace_param("AuthToken", sensitive=False), "sensitive"),
        (replace_param("Region", allowed_values=["us1", "xx"]), "xx"),
        (replace_param("Region", allowed_values=[]), "Region"),
        (replace_param("MaxRetries", max_value=None), "MaxRetries"),
        (replace_param("Timeout", min_value=0), "Timeout"),
        (replace_param("AccountSid", pattern=".*"), "pattern"),
        (replace_param("MaxRetries", data_type=ParameterType.NUMBER), "type"),
        (replace_prop("ValidityPeriod", max_value=50000), "ValidityPeriod"),
        (replace_prop("Tag", pattern=None), "pattern"),
        (replace_prop("Tag", min_length=None), "min length"),
        (replace_prop("Priority", allowed_values=()), "Priority"),
        (widen(authentication=[AuthenticationConfiguration(AuthenticationScheme.BEARER, [
            AuthenticationField("AuthToken", AuthenticationFieldRole.CREDENTIAL)])]), "bearer"),
    ],
)
def test_widening_is_not_a_restriction(derived: ChannelSchema, needle: str) -> None:
    assert not derived.is_restriction_of(BASE)
    problems = derived.restriction_problems(BASE)
    assert problems and any(needle in p for p in problems), problems


def test_endpoint_direction_widening_and_required_loss() -> None:
    base = BASE.restrict_endpoint(EndpointType.PHONE_NUMBER, can_receive=False, required=True)
    problems = BASE.restriction_problems(base)
    assert any("receive" in p for p in problems)
    assert any("required" in p for p in problems)
    assert any("required" in p for p in BASE.remove_endpoints("phone_number")
               .restriction_problems(base))


def test_restriction_problems_lists_everything() -> None:
    derived = widen(provider="zzz", strict=False,
                    capabilities=BASE.capabilities | Cap.TEMPLATES | Cap.BULK_MESSAGING)
    problems = derived.restriction_problems(BASE)
    assert len(problems) == 4


def test_schema_definition_errors_are_caught_early() -> None:
    with pytest.raises(ValueError, match="twice"):
        ChannelSchema("a", "b", "1", parameters=[ChannelParameter("X"), ChannelParameter("X")])
    with pytest.raises(ValueError, match="regular expression"):
        ChannelParameter("X", pattern="(")
    with pytest.raises(ValueError, match="twice"):
        ChannelSchema("a", "b", "1", endpoints=[ChannelEndpoint("url"), ChannelEndpoint("url")])


def test_capability_names_round_trip() -> None:
    caps = Cap.SEND_MESSAGES | Cap.TEMPLATES
    assert caps.names() == ["SEND_MESSAGES", "TEMPLATES"]
    assert Cap.from_names(caps.names()) == caps
    assert Cap.NONE.names() == []
    with pytest.raises(ValueError, match="NOPE"):
        Cap.from_names(["NOPE"])


def test_lookup_helpers() -> None:
    assert BASE.identity == "acme/sms/1.0.0" and BASE.connector_id == "acme/sms"
    assert BASE.has_capability(Cap.SEND_MESSAGES | Cap.MEDIA_ATTACHMENTS)
    assert not BASE.has_capability(Cap.SEND_MESSAGES | Cap.TEMPLATES)
    assert BASE.sensitive_parameters == ("AuthToken", "ApiKey")
    assert BASE.endpoint("phone_number") is BASE.endpoints[0]
    assert BASE.authentication[0].field_for(AuthenticationFieldRole.PRINCIPAL) == "AccountSid"
    assert BASE.authentication[0].parameters == ("AccountSid", "AuthToken")
