"""The shipped Twilio messaging error catalogue."""

from __future__ import annotations

import json
from importlib.resources import files

import attrs
import pytest
from reference_data import reference_file

from ratatosk_twilio._error_catalog import (
    TwilioErrorInfo,
    describe_twilio_error,
    twilio_error_codes,
)


def test_known_codes() -> None:
    info = describe_twilio_error(21211)
    assert info == TwilioErrorInfo(
        code=21211,
        message="Invalid 'To' Phone Number",
        more_info="https://www.twilio.com/docs/errors/21211",
        log_level="ERROR",
    )
    assert describe_twilio_error("30007") == describe_twilio_error(30007)
    assert describe_twilio_error(" 21610\n") == describe_twilio_error(21610)
    info_21617 = describe_twilio_error(21617)
    assert info_21617 is not None
    assert info_21617.message == "The concatenated message body exceeds the 1600 character limit"
    assert describe_twilio_error(20003) is not None  # authentication, README's 401


@pytest.mark.parametrize(
    "code",
    [
        None,
        "",
        "abc",
        "21211x",
        "-21211",
        "2121.1",
        "\uff12\uff11\uff12\uff11\uff11",
        0,
        -1,
        99999999,
        True,
        1.5,
        b"21211",
    ],
)
def test_unknown_or_invalid_codes(code: object) -> None:
    assert describe_twilio_error(code) is None  # type: ignore[arg-type]


def test_messages_are_trimmed_and_levels_known() -> None:
    codes = twilio_error_codes()
    assert len(codes) == 389
    for code, info in codes.items():
        assert info.code == code
        assert info.message == " ".join(info.message.split()) != ""
        assert info.log_level in {"ERROR", "WARNING"}
        assert info.more_info == f"https://www.twilio.com/docs/errors/{code}"
    assert codes[21249].message == "Maximum Origination URIs reached"  # source has trailing spaces


def test_catalogue_is_cached_and_read_only() -> None:
    assert twilio_error_codes() is twilio_error_codes()
    with pytest.raises(TypeError):
        twilio_error_codes()[1] = None  # type: ignore[index]
    info = describe_twilio_error(21211)
    assert info is not None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        info.code = 1  # type: ignore[misc]


def test_data_file_ships_inside_the_package() -> None:
    resource = files("ratatosk_twilio") / "data" / "error_codes.json"
    data = json.loads(resource.read_text("utf-8"))
    assert set(data["errors"][0]) == {"code", "message", "log_level", "more_info"}
    assert [entry["code"] for entry in data["errors"]] == sorted(twilio_error_codes())


def test_matches_reference_data() -> None:
    path = reference_file("twilio_error_codes_messaging.json")
    reference = json.loads(path.read_text(encoding="utf-8"))["errors"]
    assert {entry["code"] for entry in reference} == set(twilio_error_codes())
    for entry in reference:
        info = describe_twilio_error(entry["code"])
        assert info is not None
        assert info.message == " ".join(entry["message"].split())
        assert info.log_level == entry["log_level"]


def test_attrs_fields() -> None:
    assert [field.name for field in attrs.fields(TwilioErrorInfo)] == [
        "code",
        "message",
        "more_info",
        "log_level",
    ]
