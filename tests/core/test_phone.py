"""The schema's phone-number rule: E.164 checked with phonenumbers, or a documented fallback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from ratatosk import (
    ChannelCapability,
    ChannelEndpoint,
    ChannelSchema,
    Endpoint,
    EndpointType,
    Message,
    MessageContentType,
    TextContent,
    _phone,
)
from ratatosk._phone import phone_number_problem

SCHEMA = ChannelSchema(
    "acme", "sms", "1.0.0",
    capabilities=ChannelCapability.SEND_MESSAGES,
    content_types=[MessageContentType.PLAIN_TEXT],
    endpoints=[ChannelEndpoint(EndpointType.PHONE_NUMBER, can_send=True, can_receive=True)],
)


def _message(to: str, text: str = "Hi", sender: str | None = "+15550001111") -> Message:
    return Message(
        receiver=Endpoint.phone(to),
        sender=None if sender is None else Endpoint.phone(sender),
        content=TextContent(text),
    )


@pytest.fixture
def without_phonenumbers() -> Iterator[None]:
    saved = _phone._phonenumbers
    _phone._phonenumbers = None
    _phone._e164_problem.cache_clear()
    try:
        yield
    finally:
        _phone._phonenumbers = saved
        _phone._e164_problem.cache_clear()


@pytest.mark.parametrize("number", [
    "+1234",               # too short for +1
    "+15550002222333",     # too long for +1
    "+999123456789",       # no such country calling code
    "+0155500",            # leading zero
    "+1 555 000 2222",     # not digits only
    "whatsapp:+1234",      # a channel prefix does not hide the number
])
def test_numbers_that_are_not_possible_are_refused(number: str) -> None:
    assert phone_number_problem(number) is not None
    issues = SCHEMA.validate_message(_message(number))
    assert [(i.field, i.code) for i in issues] == [("receiver", "format")]
    assert repr(number) in issues[0].message


@pytest.mark.parametrize("number", [
    "+15550002222", "+447700900123", "+4915112345678", "+33612345678", "+5511987654321",
    "whatsapp:+15550002222", " +15550002222 ",
])
def test_possible_numbers_pass(number: str) -> None:
    assert phone_number_problem(number) is None
    assert SCHEMA.validate_message(_message(number)) == []


@pytest.mark.parametrize("address", ["12345", "MyBrand", "5550002222", "whatsapp:15550002222"])
def test_addresses_not_written_in_e164_are_left_to_the_provider(address: str) -> None:
    assert phone_number_problem(address) is None
    assert SCHEMA.validate_message(_message("+15550002222", sender=address)) == []


def test_a_sender_written_in_e164_is_checked_too() -> None:
    issues = SCHEMA.validate_message(_message("+15550002222", sender="+1234"))
    assert [(i.field, i.code) for i in issues] == [("sender", "format")]


def test_an_empty_body_does_not_hide_an_invalid_recipient() -> None:
    issues = SCHEMA.validate_message(_message("+1234", text="  ", sender="+0"))
    assert sorted((i.field, i.code) for i in issues) == [
        ("content", "empty"), ("receiver", "format"), ("sender", "format")]


@pytest.mark.usefixtures("without_phonenumbers")
@pytest.mark.parametrize(("number", "ok"), [
    ("+1234", False), ("+1234567", False), ("+12345678", True), ("+123456789012345", True),
    ("+1234567890123456", False), ("+0123456789", False), ("+999123456789", True),
    ("+15550002222", True),
])
def test_without_phonenumbers_the_rule_is_plus_then_8_to_15_digits(number: str, ok: bool) -> None:
    assert (phone_number_problem(number) is None) is ok
    assert E164_FALLBACK_DOC in _phone.E164_FALLBACK.pattern


E164_FALLBACK_DOC = r"\+[1-9][0-9]{7,14}"


def test_phonenumbers_is_imported_lazily_and_answers_are_cached() -> None:
    code = (
        "import sys, ratatosk\n"
        "from ratatosk._phone import phone_number_problem, _e164_problem\n"
        "print('phonenumbers' in sys.modules)\n"
        "phone_number_problem('+15550002222'); phone_number_problem('+15550002222')\n"
        "print('phonenumbers' in sys.modules, _e164_problem.cache_info().hits)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert run.stdout.split() == ["False", "True", "1"]
