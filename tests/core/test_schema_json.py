"""ChannelSchema's JSON export (format ``ratatosk.schema/1``): shape, stability, round trips."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ratatosk import EndpointType, MessageContentType, MessagingError, MessagingErrorCodes
from ratatosk._schema import (
    COMMON_PARAMETERS,
    SCHEMA_FORMAT,
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
)
from ratatosk._serialization import structure, unstructure

JSON_SCHEMA = jsonschema.Draft202012Validator(ChannelSchema.json_schema())

SCHEMA = ChannelSchema(
    provider="acme",
    type="sms",
    version="2.1.0",
    display_name="Acme SMS",
    description="Text messages through Acme",
    name="Simple",
    capabilities=ChannelCapability.SEND_MESSAGES | ChannelCapability.HEALTH_CHECK
    | ChannelCapability.BULK_MESSAGING,
    content_types=[MessageContentType.PLAIN_TEXT, MessageContentType.MEDIA],
    endpoints=[ChannelEndpoint(EndpointType.PHONE_NUMBER, can_receive=True, required=True)],
    parameters=[
        ChannelParameter("AccountSid", required=True, pattern="^AC", description="The account"),
        ChannelParameter("AuthToken", required=True, sensitive=True),
        ChannelParameter("MaxPrice", ParameterType.NUMBER, default=Decimal("0.05"),
                         allowed_values=[Decimal("0.05"), Decimal("0.10")]),
        ChannelParameter("StartAt", ParameterType.DATETIME,
                         default=datetime(2024, 5, 1, 12, tzinfo=timezone.utc)),
        ChannelParameter("Mode", allowed_values=["a", "b"], default="a"),
        *COMMON_PARAMETERS,
    ],
    message_properties=[
        MessagePropertySchema("ValidityPeriod", ParameterType.INTEGER, description="seconds",
                              constraints=MessagePropertyConstraint(min_value=1, max_value=36000)),
        MessagePropertySchema("Tag", required=True, constraints=MessagePropertyConstraint(
            min_length=1, max_length=8, pattern="^[a-z]+$", allowed_values=["x", "yy"])),
    ],
    authentication=[
        AuthenticationConfiguration(
            AuthenticationScheme.BASIC,
            [AuthenticationField("AccountSid", AuthenticationFieldRole.PRINCIPAL),
             AuthenticationField("AuthToken", AuthenticationFieldRole.CREDENTIAL)],
            description="HTTP basic",
        )
    ],
    strict=False,
)


def test_round_trip_is_exact() -> None:
    assert ChannelSchema.from_dict(SCHEMA.to_dict()) == SCHEMA
    assert ChannelSchema.from_json(SCHEMA.to_json()) == SCHEMA
    assert ChannelSchema.from_json(SCHEMA.to_json(indent=None).encode()) == SCHEMA


def test_export_is_plain_json_with_the_documented_shape() -> None:
    data = json.loads(SCHEMA.to_json())
    assert list(data) == [
        "format", "provider", "type", "version", "display_name", "description", "name",
        "capabilities", "content_types", "endpoints", "parameters", "message_properties",
        "authentication", "strict", "authentication_required",
    ]
    assert data["format"] == SCHEMA_FORMAT == "ratatosk.schema/1"
    assert data["capabilities"] == ["BULK_MESSAGING", "HEALTH_CHECK", "SEND_MESSAGES"]
    assert data["content_types"] == ["plain_text", "media"]
    assert data["endpoints"] == [
        {"type": "phone_number", "can_send": True, "can_receive": True, "required": True}
    ]
    token = data["parameters"][1]
    assert token == {
        "name": "AuthToken", "data_type": "string", "required": True, "sensitive": True,
        "default": None, "allowed_values": [], "description": "", "min_value": None,
        "max_value": None, "pattern": None,
    }
    price = data["parameters"][2]
    assert price["default"] == {"$decimal": "0.05"}
    assert price["allowed_values"] == [{"$decimal": "0.05"}, {"$decimal": "0.10"}]
    assert data["parameters"][3]["default"] == {"$datetime": "2024-05-01T12:00:00+00:00"}
    assert data["message_properties"][0]["constraints"] == {
        "min_value": 1, "max_value": 36000, "min_length": None, "max_length": None,
        "pattern": None, "allowed_values": [],
    }
    assert data["authentication"][0] == {
        "scheme": "basic",
        "fields": [{"parameter": "AccountSid", "role": "principal"},
                   {"parameter": "AuthToken", "role": "credential"}],
        "description": "HTTP basic",
    }
    assert data["strict"] is False


def test_export_is_stable() -> None:
    assert SCHEMA.to_json() == SCHEMA.to_json()
    rebuilt = ChannelSchema.from_json(SCHEMA.to_json())
    assert rebuilt.to_json() == SCHEMA.to_json()
    assert SCHEMA.to_json(indent=None) == json.dumps(SCHEMA.to_dict(), ensure_ascii=False)


def test_a_minimal_schema() -> None:
    schema = ChannelSchema("p", "t", "1")
    data = schema.to_dict()
    assert data["capabilities"] == [] and data["strict"] is True and data["name"] is None
    assert ChannelSchema.from_dict(data) == schema
    # the format key may be left out of hand-written input
    del data["format"]
    assert ChannelSchema.from_dict(data) == schema


def test_the_serialization_module_reads_schemas_too() -> None:
    assert unstructure(SCHEMA) == SCHEMA.to_dict()
    assert structure(SCHEMA.to_dict(), ChannelSchema) == SCHEMA


def edit(**changes: Any) -> dict[str, Any]:
    data = SCHEMA.to_dict()
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ("not a dict", "object"),
        (edit(format="ratatosk.schema/99"), "ratatosk.schema/99"),
        (edit(capabilities=["SEND_MESSAGES", "TELEPATHY"]), "TELEPATHY"),
        (edit(capabilities="SEND_MESSAGES"), "capabilities"),
        (edit(content_types=["plain_text", "smoke_signal"]), "content_types"),
        (edit(version=3), "version"),
        (edit(strict="yes"), "strict"),
        (edit(colour="blue"), "colour"),
        ({"type": "sms", "version": "1"}, "provider"),
        (edit(parameters=[{"name": "X", "data_type": "decimal"}]), "parameters[0].data_type"),
        (edit(parameters=[{"name": "X", "secret": True}]), "secret"),
        (edit(parameters=[{"name": "X", "pattern": "("}]), "@ $.parameters[0]"),
        (edit(parameters=[{"name": "X"}, {"name": "X"}]), "parameter X twice"),
        (edit(endpoints=[{"type": "pigeon"}]), "endpoints[0].type"),
        (edit(authentication=[{"scheme": "basic", "fields": [{"parameter": "A",
                                                              "role": "owner"}]}]), "role"),
        (edit(parameters=[{"name": "X", "default": {"$decimal": "abc"}}]), "default"),
    ],
)
def test_bad_input_raises_value_error_naming_the_problem(data: Any, needle: str) -> None:
    with pytest.raises(ValueError, match="ChannelSchema") as info:
        ChannelSchema.from_dict(data)
    assert needle in str(info.value)


def test_every_problem_is_named() -> None:
    with pytest.raises(ValueError) as info:
        ChannelSchema.from_dict(edit(version=1, strict="no", capabilities=["NOPE"]))
    text = str(info.value)
    assert "$.version" in text and "$.strict" in text and "NOPE" in text


def test_bad_json_text() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        ChannelSchema.from_json("{")


def test_structure_of_a_bad_schema_raises_messaging_error() -> None:
    with pytest.raises(MessagingError) as info:
        structure({"provider": 1}, ChannelSchema)
    assert info.value.code == MessagingErrorCodes.MESSAGE_DESERIALIZATION_FAILED


names = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), names,
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
)
parameters = st.builds(
    ChannelParameter,
    name=names,
    data_type=st.sampled_from(ParameterType),
    required=st.booleans(),
    sensitive=st.booleans(),
    default=scalars,
    allowed_values=st.lists(scalars, max_size=3),
    description=names,
    min_value=st.none() | st.integers(-100, 100),
    max_value=st.none() | st.integers(-100, 100),
    pattern=st.sampled_from([None, "^a", "[0-9]+"]),
)
properties = st.builds(
    MessagePropertySchema,
    name=names,
    data_type=st.sampled_from(ParameterType),
    required=st.booleans(),
    constraints=st.builds(
        MessagePropertyConstraint,
        min_value=st.none() | st.integers(0, 9),
        max_length=st.none() | st.integers(0, 9),
        allowed_values=st.lists(scalars, max_size=3),
    ),
)
schemas = st.builds(
    ChannelSchema,
    provider=names,
    type=names,
    version=names,
    name=st.none() | names,
    capabilities=st.lists(st.sampled_from([c for c in ChannelCapability if c.value])).map(
        lambda cs: ChannelCapability.from_names(c.name or "" for c in cs)),
    content_types=st.lists(st.sampled_from(MessageContentType), unique=True),
    endpoints=st.lists(st.builds(ChannelEndpoint, type=st.sampled_from(EndpointType),
                                 can_send=st.booleans(), can_receive=st.booleans()),
                       unique_by=lambda e: e.type),
    parameters=st.lists(parameters, max_size=4, unique_by=lambda p: p.name),
    message_properties=st.lists(properties, max_size=3, unique_by=lambda p: p.name),
    strict=st.booleans(),
)


@given(schemas)
def test_any_schema_round_trips_through_json(schema: ChannelSchema) -> None:
    text = schema.to_json()
    assert ChannelSchema.from_json(text) == schema
    assert ChannelSchema.from_json(text).to_json() == text
    JSON_SCHEMA.validate(json.loads(text))
