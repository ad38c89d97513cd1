"""The one value parser, typed settings objects (``Connector.config``), ``Secret`` and masking."""

from __future__ import annotations

import copy
import pickle
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import quote, quote_plus

import attrs
import httpx
import pytest
from attrs import frozen
from example_connector import KESTREL_SMS, KestrelSettings, KestrelSmsConnector

from ratatosk import (
    ChannelParameter,
    ConnectionSettings,
    InvalidValue,
    MessageBuilder,
    MessagingErrorCodes,
    Parameters,
    ParameterType,
    SafeUrl,
    Secret,
    parse_bool,
    parse_datetime,
    parse_decimal,
    parse_duration,
    parse_flag,
    parse_float,
    parse_int,
    parse_url,
)
from ratatosk.schema import convert_value

KEY = "k3y/with+odd&chars= x"


# -- the value parser ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["true", "TRUE", " yes ", "on", "1", 1, True])
def test_parse_bool_true(text: Any) -> None:
    assert parse_bool(text) is True
    assert convert_value(text, ParameterType.BOOLEAN) is True  # the schema uses the same parser


@pytest.mark.parametrize("text", ["false", "No", "off", "0", 0, False])
def test_parse_bool_false(text: Any) -> None:
    assert parse_bool(text) is False
    assert convert_value(text, ParameterType.BOOLEAN) is False


@pytest.mark.parametrize("text", ["", "maybe", "2", 2, None, 1.0, "truee"])
def test_parse_bool_refuses(text: Any) -> None:
    with pytest.raises(InvalidValue, match=r"^must be true or false"):
        parse_bool(text)
    with pytest.raises(ValueError, match=r"^must be true or false"):
        convert_value(text, ParameterType.BOOLEAN)


def test_the_twilio_webhook_settings_read_booleans_with_the_same_parser() -> None:
    from ratatosk_twilio._webhooks import _as_bool

    for text in ("on", "yes", "1", "true"):
        assert _as_bool(text, False) is True
    for text in ("off", "no", "0", "false"):
        assert _as_bool(text, True) is False
    assert _as_bool("maybe", True) is True  # unrecognised: the secure default


@pytest.mark.parametrize(("text", "expected"), [
    (None, False), ("", False), ("  ", False), ("0", False), ("off", False), ("No", False),
    ("1", True), ("yes", True), ("anything", True),
])
def test_parse_flag(text: str | None, expected: bool) -> None:
    assert parse_flag(text) is expected


def test_parse_numbers() -> None:
    assert parse_int(" 42 ") == 42 and parse_int(7.0) == 7 and parse_int(Decimal("3")) == 3
    for bad in (True, "4.5", 4.5, "x", None):
        with pytest.raises(InvalidValue, match="must be a whole number"):
            parse_int(bad)
    assert parse_float("1e3") == 1000.0 and parse_float(2) == 2.0
    with pytest.raises(InvalidValue, match="finite"):
        parse_float(float("inf"))
    assert parse_decimal("0.10") == Decimal("0.10") and str(parse_decimal("0.10")) == "0.10"
    assert parse_decimal(0.5) == Decimal("0.5") and parse_decimal(3) == Decimal(3)
    for bad in ("NaN", "Infinity", "cheap", False, Decimal("inf")):
        with pytest.raises(InvalidValue):
            parse_decimal(bad)


@pytest.mark.parametrize(("value", "seconds"), [
    ("30", 30), (30, 30), ("2.5s", 2.5), ("500ms", 0.5), ("5m", 300), ("1h", 3600),
    ("1D", 86400), (timedelta(seconds=3), 3),
])
def test_parse_duration(value: Any, seconds: float) -> None:
    assert parse_duration(value) == timedelta(seconds=seconds)


@pytest.mark.parametrize("value", ["-1", "5 weeks", "", True, None, float("nan")])
def test_parse_duration_refuses(value: Any) -> None:
    with pytest.raises(InvalidValue):
        parse_duration(value)


def test_parse_url_and_datetime() -> None:
    assert parse_url("https://api.example/v1") == "https://api.example/v1"
    for bad in ("ftp://x", "https://", "http://[::1", "https://a b", 5):
        with pytest.raises(InvalidValue, match="http"):
            parse_url(bad)
    assert parse_datetime("2024-05-01T12:00:00Z") == datetime(2024, 5, 1, 12,
                                                              tzinfo=timezone.utc)
    with pytest.raises(InvalidValue):
        parse_datetime("yesterday")


# -- Secret and SafeUrl ------------------------------------------------------------------------


def test_a_secret_never_shows_its_value() -> None:
    secret = Secret("s3cr3t-value")
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{secret:>20}",
             repr([secret]), repr({"token": secret})]
    assert all("s3cr3t" not in text for text in shown)
    assert secret.reveal() == "s3cr3t-value"
    assert secret == Secret("s3cr3t-value") and secret != Secret("other")
    assert secret != "s3cr3t-value"  # compare secrets with secrets, never with text
    assert hash(secret) == hash(Secret("s3cr3t-value"))
    assert pickle.loads(pickle.dumps(secret)).reveal() == "s3cr3t-value"
    assert copy.deepcopy(secret).reveal() == "s3cr3t-value"
    assert Secret(secret).reveal() == "s3cr3t-value" and bool(Secret("")) is False
    with pytest.raises(TypeError):
        Secret(5)  # type: ignore[arg-type]


def test_a_safe_url_masks_its_password_in_repr_only() -> None:
    url = SafeUrl("https://user:t0ken-x@api.example/v1")
    assert "t0ken-x" not in repr(url) and "user:********@api.example" in repr(url)
    assert str(url) == "https://user:t0ken-x@api.example/v1" and url + "/x" == str(url) + "/x"


# -- connector.parameters: still a dict, never shows a secret ---------------------------------


def _kestrel(**settings: Any) -> KestrelSmsConnector:
    return KestrelSmsConnector(settings={"ApiKey": KEY, **settings},
                               http_transport=httpx.MockTransport(lambda r: httpx.Response(500)))


async def test_the_parameters_repr_masks_secrets_and_url_passwords() -> None:
    connector = _kestrel(BaseUrl="https://user:hunter22@api.kestrel.example")
    assert repr(connector.parameters) == "{}"
    assert (await connector.initialize()).is_success
    parameters = connector.parameters
    assert isinstance(parameters, dict) and isinstance(parameters, Parameters)
    assert parameters["ApiKey"] == KEY  # the values themselves are unchanged
    for text in (repr(parameters), str(parameters), f"{parameters}", repr(connector.settings),
                 str(connector.settings)):
        assert KEY not in text and "hunter22" not in text, text
        assert "********" in text
    assert "user:********@api.kestrel.example" in repr(parameters)
    copied = copy.copy(parameters)
    assert copied == parameters and KEY not in repr(copied)
    assert KEY not in repr(parameters.copy()) and KEY not in repr(pickle.loads(pickle.dumps(
        parameters)))
    parameters["Extra"] = 1  # still a mutable dict (settings applied in place keep working)
    assert parameters["Extra"] == 1


async def test_twilio_parameters_repr_hides_the_auth_token() -> None:
    from ratatosk_twilio import TwilioSmsConnector

    token = "f" * 32
    connector = TwilioSmsConnector(settings={"AccountSid": "AC" + "0" * 32, "AuthToken": token,
                                             "SecondaryAuthTokens": "old-token-1"})
    assert (await connector.initialize()).is_success
    assert token not in repr(connector.parameters)
    assert "old-token-1" not in repr(connector.parameters)
    assert token not in repr(connector.config) and "old-token-1" not in repr(connector.config)


# -- connector.config: typed and converted ------------------------------------------------------


async def test_the_config_is_the_typed_settings_object() -> None:
    connector = _kestrel(base_url="http://127.0.0.1:9")
    with pytest.raises(RuntimeError, match="initialized"):
        _ = connector.config
    assert (await connector.initialize()).is_success
    config = connector.config
    assert isinstance(config, KestrelSettings)
    assert isinstance(config.api_key, Secret) and config.api_key.reveal() == KEY
    assert config.base_url == "http://127.0.0.1:9" and isinstance(config.base_url, SafeUrl)
    assert KEY not in repr(config)


async def test_twilio_config_values_are_converted_once() -> None:
    from ratatosk_twilio import TwilioSettings, TwilioSmsConnector

    connector = TwilioSmsConnector(settings={
        "account_sid": "AC" + "0" * 32, "auth_token": "t" * 32, "ValidityPeriod": "600",
        "MaxPrice": "0.10", "SmartEncoded": "yes", "ValidateSignatures": "off",
        "SecondaryAuthTokens": "a-one, b-two", "MaxWebhookBodySize": "2048",
        "BaseUrl": "https://user:pw-in-url@sandbox.example"})
    assert (await connector.initialize()).is_success
    config = connector.config
    assert isinstance(config, TwilioSettings)
    assert config.validity_period == 600 and config.max_price == Decimal("0.10")
    assert config.smart_encoded is True and config.validate_signatures is False
    assert config.max_webhook_body_size == 2048
    assert [t.reveal() for t in config.secondary_auth_tokens] == ["a-one", "b-two"]
    assert "pw-in-url" not in repr(config) and "pw-in-url" not in repr(connector.parameters)
    # the webhook settings agree with the typed object
    assert connector._webhook_config().validate is False


@frozen
class _Strict:
    api_key: Secret
    retries: int
    window: timedelta = timedelta(seconds=1)
    label: str | None = None
    base_url: SafeUrl = SafeUrl("https://api.kestrel.example")  # noqa: RUF009 - immutable


class _StrictConnector(KestrelSmsConnector):
    settings_type = _Strict


_STRICT_SCHEMA = attrs.evolve(KESTREL_SMS.derive(name="Strict"), parameters=(
    *KESTREL_SMS.parameters,
    ChannelParameter("Retries"), ChannelParameter("Window"), ChannelParameter("Label")))


async def test_a_value_the_settings_class_cannot_take_is_a_configuration_error() -> None:
    connector = _StrictConnector(_STRICT_SCHEMA, {"ApiKey": KEY, "Retries": "many",
                                                  "Window": "5 weeks"})
    result = await connector.initialize()
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.INVALID_CONFIGURATION
    fields = {issue.field: issue.message for issue in result.error.issues}
    assert set(fields) == {"Retries", "Window"}
    assert "whole number" in fields["Retries"] and "many" not in fields["Retries"]
    assert KEY not in repr(result.error)


async def test_a_missing_required_field_is_named() -> None:
    connector = _StrictConnector(_STRICT_SCHEMA, {"ApiKey": KEY})
    result = await connector.initialize()
    assert result.error is not None
    assert [issue.field for issue in result.error.issues] == ["Retries"]


async def test_settings_convert_by_field_type() -> None:
    connector = _StrictConnector(_STRICT_SCHEMA, {"ApiKey": KEY, "Retries": "3",
                                                  "Window": "250ms"})
    assert (await connector.initialize()).is_success
    config = connector.config
    assert isinstance(config, _Strict)
    assert config.retries == 3 and config.window == timedelta(milliseconds=250)
    assert config.label is None


async def test_without_a_settings_type_the_config_is_the_parameters() -> None:
    class Plain(KestrelSmsConnector):
        settings_type = None

    connector = Plain(settings={"ApiKey": KEY})
    assert connector.config == {} and connector.config is connector.parameters
    result = await connector.initialize()  # setup reads the typed object, which it has not
    assert result.error is not None and "base_url" in result.error.message
    assert connector.config is connector.parameters and connector.config["ApiKey"] == KEY


# -- scrub: raw, percent-encoded and URL passwords ---------------------------------------------


def test_scrub_masks_every_form_of_a_secret() -> None:
    connector = _kestrel(BaseUrl="https://user:hunter22@api.kestrel.example")
    texts = [
        f"raw {KEY}",
        f"GET https://x.example/?key={quote(KEY)}",
        f"GET https://x.example/?key={quote(KEY, safe='')}",
        f"form key={quote_plus(KEY)}",
        "the base URL password hunter22 alone",
        "https://someone:other-pass@elsewhere.example/path",  # any URL's userinfo password
    ]
    for text in texts:
        scrubbed = connector.scrub(text)
        assert "********" in scrubbed, text
        for secret in (KEY, quote(KEY), quote(KEY, safe=""), quote_plus(KEY), "hunter22",
                       "other-pass"):
            assert secret not in scrubbed
    assert connector.scrub("nothing secret here") == "nothing secret here"


async def test_a_transport_error_quoting_an_encoded_secret_is_masked() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach https://api.example/?k={quote_plus(KEY)} "
                                 "via https://proxy-user:proxy-pw1@proxy.example")

    connector = KestrelSmsConnector(settings={"ApiKey": KEY},
                                    http_transport=httpx.MockTransport(refuse))
    connector.configure_timing(sleep=_no_sleep)
    message = MessageBuilder().from_phone("+15550002222").to_phone("+15550001111") \
        .with_text("hi").build()
    result = await connector.send_message(message)
    assert result.error is not None
    text = repr(result.error)
    assert quote_plus(KEY) not in text and KEY not in text and "proxy-pw1" not in text
    assert "********" in text


async def _no_sleep(_seconds: float) -> None:
    return None


def test_connection_settings_mask_a_base_url_password() -> None:
    settings = ConnectionSettings(BaseUrl="https://u:pa55word@h.example", ApiKey="abcdef")
    for text in (repr(settings), str(settings), settings.to_string()):
        assert "pa55word" not in text and "abcdef" not in text
    assert "pa55word" in settings.to_string(reveal_secrets=True)


async def test_a_setting_given_as_a_secret_is_used_and_scrubbed() -> None:
    connector = KestrelSmsConnector(settings={"ApiKey": Secret(KEY)})
    assert connector.scrub(f"x {quote_plus(KEY)} y") == "x ******** y"
    assert (await connector.initialize()).is_success
    assert connector.config.api_key.reveal() == KEY
    assert KEY not in repr(connector.parameters) and KEY not in repr(connector.settings)


def test_a_dsn_masks_a_base_url_password_in_its_options() -> None:
    from ratatosk import Dsn

    dsn = Dsn.parse("acme://acc_1:k3y-secret@default?BaseUrl=https://u:url-pw9@h.example")
    for text in (str(dsn), repr(dsn)):
        assert "url-pw9" not in text and "k3y-secret" not in text
    assert dsn.base_url == "https://u:url-pw9@h.example"  # the value itself is intact
