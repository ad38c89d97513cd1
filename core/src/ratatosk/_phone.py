"""The phone-number rule every schema applies to ``PHONE_NUMBER`` endpoints.

A phone number is written in E.164: ``+``, the country calling code, the national number, only
digits. With the ``phonenumbers`` extra installed
(``pip install "ratatosk-messaging[phonenumbers]"``) the number must also be *possible* for its
country: the country calling code exists and the length fits that country's numbering plan
(``+1234`` does not; ``+15550002222``, a fictional number commonly used in tests, does). Without
the extra the rule is: ``+`` then 8 to 15 digits, the first not ``0``. ``phonenumbers`` is
imported only when a number is first checked, and answers are cached.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

__all__ = ["E164_FALLBACK", "phone_number_problem"]

E164_FALLBACK = re.compile(r"\+[1-9][0-9]{7,14}")
"""The rule used when ``phonenumbers`` is not installed: ``+`` and 8..15 digits, no leading 0."""

_E164_SHAPE = re.compile(r"\+[1-9][0-9]{1,14}")
_CHANNEL_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9.+-]*:(?=\+)")

_missing = object()
_phonenumbers: Any = _missing


def _library() -> Any:
    global _phonenumbers
    if _phonenumbers is _missing:
        try:
            import phonenumbers
        except ImportError:
            _phonenumbers = None
        else:
            _phonenumbers = phonenumbers
    return _phonenumbers


@lru_cache(maxsize=4096)
def _e164_problem(number: str) -> str | None:
    if not _E164_SHAPE.fullmatch(number):
        return "is not an E.164 phone number ('+' then digits only, e.g. +15550002222)"
    library = _library()
    if library is None:
        if E164_FALLBACK.fullmatch(number):
            return None
        return "is not an E.164 phone number ('+' then 8 to 15 digits, e.g. +15550002222)"
    try:
        parsed = library.parse(number, None)
    except library.NumberParseException:
        return "does not start with a known country calling code"
    if not library.is_possible_number(parsed):
        return "has a length that no phone number of its country has"
    return None


def phone_number_problem(address: str) -> str | None:
    """Why ``address``, written as an E.164 number, is not one; None when it is one.

    Only addresses that start with ``+`` (optionally after a channel prefix such as
    ``whatsapp:``) are checked; other forms (short codes, alphanumeric sender IDs, national
    numbers) are left to the provider, which knows what it accepts.
    """
    text = address.strip()
    prefix = _CHANNEL_PREFIX.match(text)
    number = text[prefix.end():] if prefix else text
    if not number.startswith("+"):
        return None
    problem = _e164_problem(number)
    return None if problem is None else f"{address.strip()!r} {problem}."
