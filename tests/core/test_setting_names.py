"""Setting names in any spelling: schema validation and resolution find ``auth_token`` as
``AuthToken`` and report problems by the schema's name."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from ratatosk import (
    ChannelParameter,
    ChannelSchema,
    ConnectionSettings,
    ParameterType,
    normalize_parameter_name,
)

SID = "AC" + "0" * 32
TOKEN = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"

SCHEMA = ChannelSchema(
    provider="acme",
    type="sms",
    version="1.0.0",
    parameters=(
        ChannelParameter("AccountSid", required=True, pattern=r"^AC[0-9a-f]{32}$"),
        ChannelParameter("AuthToken", required=True, sensitive=True, pattern=r"^[0-9a-f]{32}$"),
        ChannelParameter("MessagingServiceSid"),
        ChannelParameter("SmartEncoded", ParameterType.BOOLEAN, default=False),
        ChannelParameter("MaxRetries", ParameterType.INTEGER, max_value=10),
        ChannelParameter("Signature", sensitive=True),
    ),
)
FLEXIBLE = SCHEMA.derive(strict=False)


def test_snake_case_settings_resolve_under_the_schema_names() -> None:
    for settings in (
        {"account_sid": SID, "auth_token": TOKEN, "smart_encoded": "yes", "max_retries": "2"},
        ConnectionSettings.parse(f"account_sid={SID};AUTH_TOKEN={TOKEN};smartEncoded=yes;"
                                 "max-retries=2"),
    ):
        assert SCHEMA.validate_settings(settings) == []
        resolved = SCHEMA.resolve_settings(settings)
        assert resolved.data == {"AccountSid": SID, "AuthToken": TOKEN,
                                 "MessagingServiceSid": None, "SmartEncoded": True,
                                 "MaxRetries": 2, "Signature": None}


def test_problems_name_the_parameter_as_the_schema_does() -> None:
    issues = SCHEMA.validate_settings({"account_sid": "nope", "auth_token": "x" * 40,
                                       "max_retries": "20"})
    assert [(i.field, i.code) for i in issues] == [
        ("AccountSid", "pattern"), ("AuthToken", "pattern"), ("MaxRetries", "max_value")]
    assert issues[0].message.startswith("The AccountSid parameter")
    assert "x" * 40 not in " ".join(i.message for i in issues)  # sensitive by the schema


def test_required_parameters_given_in_another_spelling_are_not_missing() -> None:
    issues = SCHEMA.validate_settings({"accountSid": SID})
    assert [(i.field, i.code) for i in issues] == [("AuthToken", "required")]


def test_unknown_names_are_reported_as_given_with_the_closest_schema_name() -> None:
    issues = SCHEMA.validate_settings({"account_sid": SID, "auth_token": TOKEN,
                                       "auth_tokn": "x", "Colour": "blue"})
    assert [(i.field, i.code) for i in issues] == [("auth_tokn", "unknown"),
                                                   ("Colour", "unknown")]
    assert issues[0].message == ("auth_tokn is not a parameter of the acme/sms connector; "
                                 "check its spelling (did you mean AuthToken?).")
    assert issues[1].message.endswith("check its spelling.")


def test_one_parameter_given_twice_in_a_mapping_is_a_problem() -> None:
    issues = SCHEMA.validate_settings({"AccountSid": SID, "AuthToken": TOKEN,
                                       "auth_token": "other"})
    assert [(i.field, i.code) for i in issues] == [("AuthToken", "duplicate")]
    assert "AuthToken and auth_token" in issues[0].message
    assert TOKEN not in issues[0].message and "other" not in issues[0].message


def test_flexible_schemas_pass_undeclared_names_as_given() -> None:
    resolved = FLEXIBLE.resolve_settings({"account_sid": SID, "auth_token": TOKEN,
                                          "region_hint": "eu"})
    assert resolved.data is not None
    assert resolved.data["AccountSid"] == SID and resolved.data["region_hint"] == "eu"
    assert "account_sid" not in resolved.data


def test_resolve_marks_schema_secrets_on_settings_in_any_spelling() -> None:
    settings = ConnectionSettings({"account_sid": SID, "auth_token": TOKEN,
                                   "signature": "sig-value-1"})
    assert not settings.is_sensitive("Signature")
    SCHEMA.resolve_settings(settings)
    assert settings.is_sensitive("signature") and "sig-value-1" not in repr(settings)


words = st.lists(st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6), min_size=1,
                 max_size=4)


@given(words, st.integers())
def test_pascal_snake_camel_and_kebab_spellings_are_one_name(parts: list[str], value: int) -> None:
    pascal = "".join(p.capitalize() for p in parts)
    snake = "_".join(parts)
    camel = parts[0] + "".join(p.capitalize() for p in parts[1:])
    kebab = "-".join(p.upper() for p in parts)
    assert len({normalize_parameter_name(n) for n in (pascal, snake, camel, kebab)}) == 1
    settings = ConnectionSettings({pascal: value})
    for name in (snake, camel, kebab):
        assert settings[name] == value and name in settings
    settings[snake] = value + 1
    assert len(settings) == 1 and settings.get_parameter(pascal) == value + 1
    assert list(settings) == [snake]
    assert re.fullmatch(r"[a-z]+", normalize_parameter_name(kebab))
