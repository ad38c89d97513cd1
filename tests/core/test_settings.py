"""ConnectionSettings and Dsn: code, K=V text, DSNs, the environment; secrets always masked."""

from __future__ import annotations

import contextlib
import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ratatosk import ConnectionSettings, Dsn, SettingsParseError
from ratatosk._settings import MASK, looks_sensitive

TOKEN = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"


# -- from code --------------------------------------------------------------------------------


def test_seed_example_set_and_get() -> None:
    settings = (
        ConnectionSettings()
        .set_parameter("AccountSid", "AC...")
        .set_parameter("AuthToken", "...")
    )
    assert settings.get_parameter("AccountSid") == "AC..."
    assert settings.get_parameter("AuthToken") == "..."
    assert settings.get_parameter("Missing") is None
    assert settings.get_parameter("Missing", 42) == 42
    assert settings.has_parameter("AccountSid") and "AccountSid" in settings
    assert list(settings) == ["AccountSid", "AuthToken"] and len(settings) == 2


def test_set_parameter_is_chainable_and_returns_the_same_object() -> None:
    settings = ConnectionSettings()
    assert settings.set_parameter("A", 1) is settings
    assert settings.remove_parameter("A") is settings
    assert "A" not in settings
    assert settings.remove_parameter("never-set") is settings


def test_parameter_names_must_be_non_empty_text() -> None:
    with pytest.raises(TypeError):
        ConnectionSettings().set_parameter("", "x")
    with pytest.raises(TypeError):
        ConnectionSettings().set_parameter(5, "x")  # type: ignore[arg-type]


def test_constructor_mapping_and_copy_semantics() -> None:
    settings = ConnectionSettings({"A": "1", "AuthToken": TOKEN})
    params = settings.parameters
    params["A"] = "changed"
    assert settings.get_parameter("A") == "1"
    clone = settings.copy()
    clone.set_parameter("A", "2")
    assert settings.get_parameter("A") == "1"
    assert clone.is_sensitive("AuthToken")
    assert settings == ConnectionSettings({"A": "1", "AuthToken": TOKEN})
    assert settings != clone


def test_merged_overrides_and_keeps_sensitivity() -> None:
    base = ConnectionSettings({"A": "1", "B": "2"})
    other = ConnectionSettings().set_parameter("B", "3").set_parameter("Key", "k", sensitive=True)
    merged = base.merged(other)
    assert merged.parameters == {"A": "1", "B": "3", "Key": "k"}
    assert merged.is_sensitive("Key")
    assert base.parameters == {"A": "1", "B": "2"}
    assert base.merged({"A": "x"}).get_parameter("A") == "x"


@pytest.mark.parametrize(
    ("name", "sensitive"),
    [("AuthToken", True), ("ApiSecret", True), ("password", True), ("DbPasswd", True),
     ("ClientCredential", True), ("PrivateKey", True), ("AccountSid", False), ("Region", False)],
)
def test_sensitive_names(name: str, sensitive: bool) -> None:
    assert looks_sensitive(name) is sensitive
    assert ConnectionSettings().set_parameter(name, "v").is_sensitive(name) is sensitive


def test_explicit_sensitivity() -> None:
    settings = ConnectionSettings().set_parameter("ApiKey", "k1", sensitive=True)
    settings.set_parameter("Region", "us1").mark_sensitive("Region")
    assert settings.sensitive_names == frozenset({"ApiKey", "Region"})
    # a name that looks secret stays secret even when asked otherwise
    settings.set_parameter("AuthToken", TOKEN, sensitive=False)
    assert settings.is_sensitive("AuthToken")
    settings.set_parameter("Region", "eu1", sensitive=False)
    assert not settings.is_sensitive("Region")
    # names ending in "Key" look secret (ApiKey, PrivateKey); "ApiKeySid" does not
    assert settings.is_sensitive("ApiKey")
    assert not ConnectionSettings().set_parameter("ApiKeySid", "SK1").is_sensitive("ApiKeySid")


# -- masking ----------------------------------------------------------------------------------


def test_secrets_are_masked_in_repr_str_and_to_string() -> None:
    settings = ConnectionSettings().set_parameter("AccountSid", "AC1").set_parameter(
        "AuthToken", TOKEN)
    for text in (repr(settings), str(settings), settings.to_string(), f"{settings}"):
        assert TOKEN not in text
        assert MASK in text
        assert "AC1" in text
    assert settings.masked() == {"AccountSid": "AC1", "AuthToken": MASK}
    assert settings.to_string(reveal_secrets=True) == f"AccountSid=AC1;AuthToken={TOKEN}"


@given(secret=st.text(min_size=1), other=st.text(min_size=1),
       name=st.sampled_from(["AuthToken", "ApiSecret", "Password", "ApiKey"]))
def test_random_secrets_never_appear_in_repr_or_str(secret: str, other: str, name: str) -> None:
    # the output does not depend on the secret at all
    def build(value: str) -> ConnectionSettings:
        return (ConnectionSettings().set_parameter("AccountSid", "AC1")
                .set_parameter(name, value, sensitive=True))

    with_secret, with_other = build(secret), build(other)
    assert repr(with_secret) == repr(with_other)
    assert str(with_secret) == str(with_other)
    assert with_secret.to_string() == with_other.to_string()
    assume(len(secret) >= 4 and secret not in repr(build("x")) and secret not in str(build("x")))
    assert secret not in repr(with_secret) and secret not in str(with_secret)


# -- K=V text ---------------------------------------------------------------------------------


def test_parse_seed_form() -> None:
    settings = ConnectionSettings.parse(f"AccountSid=AC123;AuthToken={TOKEN}")
    assert settings.parameters == {"AccountSid": "AC123", "AuthToken": TOKEN}
    assert settings.is_sensitive("AuthToken")


def test_parse_trims_quotes_and_ignores_blank_segments() -> None:
    text = ' ; A = plain value ;; B="x;y=z" ; C="say ""hi""";D=;  E = "  padded  " ;'
    settings = ConnectionSettings.parse(text)
    assert settings.parameters == {
        "A": "plain value", "B": "x;y=z", "C": 'say "hi"', "D": "", "E": "  padded  "}


def test_parse_keeps_equals_signs_in_values_and_the_last_duplicate() -> None:
    settings = ConnectionSettings.parse("Url=https://x/?a=b;A=1;A=2")
    assert settings.parameters == {"Url": "https://x/?a=b", "A": "2"}


def test_parse_empty_text() -> None:
    assert len(ConnectionSettings.parse("")) == 0
    assert len(ConnectionSettings.parse(" ; ;")) == 0


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("A=1;NoEquals", "segment 2"),
        ("=value", "segment 1"),
        ('A=1;B="open', "'B'"),
        ('A="closed"tail', "'A'"),
        ("A=1;;  ;B", "segment 2"),
    ],
)
def test_parse_errors_name_the_bad_segment(text: str, needle: str) -> None:
    with pytest.raises(SettingsParseError) as info:
        ConnectionSettings.parse(text)
    assert needle in str(info.value)


def test_parse_errors_never_show_a_value() -> None:
    # a token pasted without its name must not end up in the error message
    for text in (f"AccountSid=AC1;{TOKEN}", f'AuthToken="{TOKEN}', f'AuthToken="{TOKEN}"x'):
        with pytest.raises(SettingsParseError) as info:
            ConnectionSettings.parse(text)
        assert TOKEN not in str(info.value)


def test_parse_rejects_non_text() -> None:
    with pytest.raises(TypeError):
        ConnectionSettings.parse(b"A=1")  # type: ignore[arg-type]


keys = st.text(string.ascii_letters + string.digits + "_.-", min_size=1, max_size=12)


@given(st.dictionaries(keys, st.text(), max_size=5))
def test_to_string_and_parse_round_trip(values: dict[str, str]) -> None:
    settings = ConnectionSettings(values)
    assert ConnectionSettings.parse(settings.to_string(reveal_secrets=True)) == settings


@given(st.text())
def test_parse_either_succeeds_or_raises_settings_parse_error(text: str) -> None:
    with contextlib.suppress(SettingsParseError):
        ConnectionSettings.parse(text)


# -- DSN --------------------------------------------------------------------------------------


def test_dsn_to_settings() -> None:
    settings = ConnectionSettings.from_dsn(
        f"twilio://AC123:{TOKEN}@default?MessagingServiceSid=MG1&Region=ie1",
        principal="AccountSid", credential="AuthToken",
    )
    assert settings.parameters == {"AccountSid": "AC123", "AuthToken": TOKEN,
                                   "MessagingServiceSid": "MG1", "Region": "ie1"}
    assert settings.is_sensitive("AuthToken")
    assert TOKEN not in repr(settings)


@pytest.mark.parametrize(
    ("dsn", "base_url"),
    [
        ("twilio://AC1:t@default", None),
        ("twilio://AC1:t@127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("twilio://AC1:t@localhost:9/api/", "http://localhost:9/api"),
        ("twilio://AC1:t@[::1]:9", "http://[::1]:9"),
        ("twilio://AC1:t@sandbox.example.com", "https://sandbox.example.com"),
        ("twilio://AC1:t@host?BaseUrl=http://elsewhere:1", "http://elsewhere:1"),
    ],
)
def test_dsn_host_becomes_the_base_url(dsn: str, base_url: str | None) -> None:
    parsed = Dsn.parse(dsn)
    assert parsed.base_url == base_url
    settings = ConnectionSettings.from_dsn(parsed, principal="AccountSid", credential="AuthToken")
    assert settings.get_parameter("BaseUrl") == base_url


def test_dsn_parts() -> None:
    dsn = Dsn.parse("Twilio+WhatsApp://AC%3A1:p%40ss@default:443/x?A=1&A=2&B=")
    assert (dsn.scheme, dsn.provider, dsn.connector_type) == ("twilio+whatsapp", "twilio",
                                                               "whatsapp")
    assert (dsn.user, dsn.password, dsn.host, dsn.port, dsn.path) == ("AC:1", "p@ss", "default",
                                                                        443, "/x")
    assert dsn.options == (("A", "1"), ("A", "2"), ("B", ""))
    assert Dsn.parse("twilio://default").connector_type is None


def test_dsn_without_principal_or_credential_names() -> None:
    with pytest.raises(SettingsParseError, match="principal"):
        ConnectionSettings.from_dsn("twilio://AC1@default")
    with pytest.raises(SettingsParseError, match="credential") as info:
        ConnectionSettings.from_dsn(f"twilio://AC1:{TOKEN}@default", principal="AccountSid")
    assert TOKEN not in str(info.value)
    assert ConnectionSettings.from_dsn("twilio://default?A=1").parameters == {"A": "1"}


def test_dsn_is_masked_in_str_and_repr() -> None:
    dsn = Dsn.parse(f"twilio://AC1:{TOKEN}@default?AuthToken={TOKEN}&Region=us1")
    for text in (str(dsn), repr(dsn)):
        assert TOKEN not in text
        assert "AC1" in text and "us1" in text
    assert str(dsn) == f"twilio://AC1:{MASK}@default?AuthToken={MASK}&Region=us1"


@pytest.mark.parametrize(
    ("dsn", "needle"),
    [
        ("AC1:SECRETVALUE@default", "://"),
        ("twi lio://AC1:SECRETVALUE@default", "scheme"),
        ("1twilio://AC1:SECRETVALUE@default", "scheme"),
        ("twilio://AC1:SECRETVALUE@", "host"),
        ("twilio://AC1:SECRETVALUE@default:notaport", "port"),
        ("twilio://AC1:SECRET/VALUE@default", "port"),
        ("twilio://AC1:SECRETVALUE@default:99999", "port"),
        ("twilio://AC1:SECRETVALUE@[::1", "host"),
        ("twilio://AC1:SECRETVALUE@default#frag", "fragment"),
        ("twilio://AC1:SECRETVALUE@default?novalue", "query"),
    ],
)
def test_malformed_dsns_name_the_bad_part_and_never_the_secret(dsn: str, needle: str) -> None:
    with pytest.raises(SettingsParseError) as info:
        Dsn.parse(dsn)
    message = str(info.value)
    assert needle in message
    assert "SECRET" not in message and "VALUE" not in message


@given(secret=st.text(string.ascii_letters + string.digits + "-._~!$&'()*+,;=%", min_size=6))
def test_dsn_secrets_never_appear_in_output(secret: str) -> None:
    assume(secret not in "twilio://AC1:@default?Region=us1" + MASK)
    from urllib.parse import quote

    text = f"twilio://AC1:{quote(secret, safe='')}@default?Region=us1"
    dsn = Dsn.parse(text)
    assert dsn.password == secret
    settings = ConnectionSettings.from_dsn(dsn, principal="AccountSid", credential="AuthToken")
    for shown in (str(dsn), repr(dsn), str(settings), repr(settings), settings.to_string()):
        assert secret not in shown


def test_parse_rejects_non_text_dsn() -> None:
    with pytest.raises(TypeError):
        Dsn.parse(None)  # type: ignore[arg-type]


# -- environment ------------------------------------------------------------------------------


def test_from_env_with_prefix_and_explicit_names() -> None:
    environ = {
        "TWILIO_ACCOUNT_SID": "AC1",
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_MESSAGING_SERVICE_SID": "MG1",
        "TWILIO_": "ignored: nothing after the prefix",
        "OTHER_THING": "ignored",
        "MY_REGION": "ie1",
    }
    settings = ConnectionSettings.from_env("TWILIO_", environ, names={"MY_REGION": "Region"})
    assert settings.parameters == {"AccountSid": "AC1", "AuthToken": TOKEN,
                                   "MessagingServiceSid": "MG1", "Region": "ie1"}
    assert settings.is_sensitive("AuthToken")
    assert TOKEN not in repr(settings)


def test_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATATOSK_TEST_SOME__VALUE", "x")
    settings = ConnectionSettings.from_env("RATATOSK_TEST_")
    assert settings.get_parameter("SomeValue") == "x"


# -- a real mutable mapping, names in any spelling ------------------------------------------


def test_normalize_parameter_name() -> None:
    from ratatosk import normalize_parameter_name

    spellings = ["AuthToken", "auth_token", "authToken", "AUTH-TOKEN", "authtoken", "Auth_Token"]
    assert {normalize_parameter_name(n) for n in spellings} == {"authtoken"}
    assert normalize_parameter_name("AccountSid") != normalize_parameter_name("AuthToken")
    assert normalize_parameter_name("_") == "_"


def test_connection_settings_is_a_mutable_mapping() -> None:
    from collections.abc import MutableMapping

    settings = ConnectionSettings()
    assert isinstance(settings, MutableMapping)
    settings["AccountSid"] = "AC1"
    settings["auth_token"] = TOKEN
    assert settings["account_sid"] == "AC1" and settings["AuthToken"] == TOKEN
    assert len(settings) == 2 and list(settings) == ["AccountSid", "auth_token"]
    assert "authToken" in settings and "Region" not in settings and 5 not in settings  # type: ignore[comparison-overlap]
    assert settings.get("AUTH_TOKEN") == TOKEN and settings.get("Region", "us1") == "us1"
    assert dict(settings.items()) == {"AccountSid": "AC1", "auth_token": TOKEN}
    settings.update({"Region": "ie1"}, messaging_service_sid="MG1")
    assert settings.get_parameter("MessagingServiceSid") == "MG1"
    assert settings.setdefault("region", "us1") == "ie1"
    del settings["REGION"]
    assert "Region" not in settings
    with pytest.raises(KeyError, match="Region"):
        del settings["Region"]
    with pytest.raises(KeyError, match="Nope"):
        settings["Nope"]
    with pytest.raises(TypeError):
        settings[""] = "x"
    assert settings.pop("messaging_service_sid") == "MG1"
    assert settings == {"account_sid": "AC1", "AuthToken": TOKEN}
    assert settings != {"AccountSid": "AC1"} and settings != "AccountSid=AC1"
    settings.clear()
    assert len(settings) == 0 and settings.parameters == {}


def test_a_new_spelling_replaces_the_value_in_place_and_keeps_sensitivity() -> None:
    settings = ConnectionSettings({"AccountSid": "AC1", "AuthToken": "old", "Region": "us1"})
    settings["auth_token"] = TOKEN
    assert settings.parameters == {"AccountSid": "AC1", "auth_token": TOKEN, "Region": "us1"}
    assert settings.is_sensitive("AuthToken") and settings.is_sensitive("auth_token")
    settings.set_parameter("signing", "s3cr3tvalue", sensitive=True)
    assert settings.is_sensitive("Signing") and settings.sensitive_names == {"auth_token",
                                                                             "signing"}
    settings.mark_sensitive("account_sid")
    assert settings.is_sensitive("AccountSid")
    assert settings.masked() == {"AccountSid": MASK, "auth_token": MASK, "Region": "us1",
                                 "signing": MASK}
    for text in (repr(settings), str(settings), settings.to_string()):
        assert TOKEN not in text and "s3cr3tvalue" not in text and "AC1" not in text
    clone = settings.copy()
    clone["REGION"] = "ie1"
    assert settings["region"] == "us1" and clone.is_sensitive("signing")


def test_mapping_writes_keep_set_parameter_chainable() -> None:
    settings = ConnectionSettings().set_parameter("account_sid", "AC1").set_parameter("A", 1)
    assert settings.remove_parameter("a") is settings and "A" not in settings
    assert settings.has_parameter("ACCOUNT_SID")


def test_snake_case_names_in_settings_strings() -> None:
    settings = ConnectionSettings.parse(f"account_sid=AC1;auth_token={TOKEN}")
    assert settings.get_parameter("AccountSid") == "AC1"
    assert settings.get_parameter("AuthToken") == TOKEN
    assert settings.is_sensitive("AuthToken") and TOKEN not in repr(settings)


def test_snake_case_dsn_options_and_base_url() -> None:
    settings = ConnectionSettings.from_dsn(
        f"twilio://AC1:{TOKEN}@default?messaging_service_sid=MG1&base_url=http://127.0.0.1:9",
        principal="AccountSid", credential="AuthToken")
    assert settings.get_parameter("MessagingServiceSid") == "MG1"
    assert settings.get_parameter("BaseUrl") == "http://127.0.0.1:9"
    assert Dsn.parse("twilio://AC1:t@host?base_url=http://x:1").base_url == "http://x:1"
    assert str(Dsn.parse(f"twilio://AC1:t@default?auth_token={TOKEN}")).endswith(
        f"auth_token={MASK}")


def test_environment_names_in_any_spelling() -> None:
    environ = {"TWILIO_ACCOUNTSID": "AC1", "TWILIO_AUTH_TOKEN": TOKEN}
    settings = ConnectionSettings.from_env("TWILIO_", environ, names={"SID2": "account_sid"})
    assert settings.get_parameter("account_sid") == "AC1"
    assert settings["authToken"] == TOKEN and settings.is_sensitive("AuthToken")


def test_keyword_construction() -> None:
    settings = ConnectionSettings({"AccountSid": "AC0"}, account_sid="AC1", auth_token=TOKEN)
    assert settings.parameters == {"account_sid": "AC1", "auth_token": TOKEN}
    assert settings.is_sensitive("AuthToken") and TOKEN not in repr(settings)
    assert ConnectionSettings(region="ie1", sensitive=["Region"]).masked() == {"region": MASK}


def test_docstring_examples_run() -> None:
    import doctest

    import ratatosk._settings

    assert doctest.testmod(ratatosk._settings).failed == 0
