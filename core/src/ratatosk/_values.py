"""The one value parser of the framework: text (or loosely typed values) to Python values.

Schema conversion (:func:`ratatosk.convert_value`), the typed settings objects
(:attr:`ratatosk.Connector.config`), environment flags and providers all use these functions, so
``"yes"`` means the same everywhere. Each raises :class:`InvalidValue` (a ``ValueError`` whose
message is ``"must be ..."``) when the value does not convert; none ever quotes the value.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "FALSE_WORDS",
    "TRUE_WORDS",
    "InvalidValue",
    "parse_bool",
    "parse_datetime",
    "parse_decimal",
    "parse_duration",
    "parse_flag",
    "parse_float",
    "parse_int",
    "parse_number",
    "parse_url",
]

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
"""Text read as True (any case, surrounding blanks ignored)."""
FALSE_WORDS = frozenset({"false", "0", "no", "off"})
"""Text read as False (any case, surrounding blanks ignored)."""

_INTEGER_TEXT = re.compile(r"[+-]?\d+")
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DURATION_TEXT = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(ms|s|m|h|d)?", re.IGNORECASE)
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class InvalidValue(ValueError):
    """A value does not convert; ``expected`` says what it must be (``"a whole number"``)."""

    def __init__(self, expected: str) -> None:
        super().__init__(f"must be {expected}")
        self.expected = expected


def parse_bool(value: Any) -> bool:
    """A bool from a bool, 0/1, or text: true/false, yes/no, on/off, 1/0 (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in TRUE_WORDS:
            return True
        if text in FALSE_WORDS:
            return False
    raise InvalidValue("true or false (also accepted: yes/no, on/off, 1/0)")


def parse_flag(value: str | None) -> bool:
    """An environment flag: unset, empty or a false word (0/false/no/off) is False, else True."""
    if value is None:
        return False
    text = value.strip().lower()
    return bool(text) and text not in FALSE_WORDS


def parse_int(value: Any) -> int:
    """An int from an int, a whole float or Decimal, or text such as ``"42"`` (never a bool)."""
    if isinstance(value, bool):
        raise InvalidValue("a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        return int(value.strip())
    raise InvalidValue("a whole number")


def parse_number(value: Any) -> float | Decimal:
    """A finite number: a float, or a :class:`~decimal.Decimal` kept as it is (never a bool)."""
    if isinstance(value, bool):
        raise InvalidValue("a number")
    if isinstance(value, Decimal):
        if value.is_finite():
            return value
        raise InvalidValue("a finite number")
    if isinstance(value, (int, float)):
        number = float(value)
        if math.isfinite(number):
            return number
        raise InvalidValue("a finite number")
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
        number = float(value.strip())
        if math.isfinite(number):
            return number
    raise InvalidValue("a number")


def parse_float(value: Any) -> float:
    """A finite float (see :func:`parse_number`)."""
    return float(parse_number(value))


def parse_decimal(value: Any) -> Decimal:
    """A finite :class:`~decimal.Decimal`, exact from text (``"0.10"`` stays ``0.10``)."""
    if isinstance(value, bool):
        raise InvalidValue("a number")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value)) if math.isfinite(value) else Decimal("nan")
    elif isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
            raise InvalidValue("a number") from None
    else:
        raise InvalidValue("a number")
    if not number.is_finite():
        raise InvalidValue("a finite number")
    return number


def parse_duration(value: Any) -> timedelta:
    """A non-negative duration: a timedelta, seconds as a number, or text such as ``"30"``,
    ``"2.5s"``, ``"500ms"``, ``"5m"``, ``"1h"``, ``"1d"``."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, str):
        match = _DURATION_TEXT.fullmatch(value.strip())
        if match is None:
            raise InvalidValue("a duration (seconds, or a number with ms, s, m, h or d)")
        seconds = float(match.group(1)) * _DURATION_UNITS[(match.group(2) or "s").lower()]
    else:
        try:
            seconds = parse_float(value)
        except InvalidValue:
            raise InvalidValue("a duration (seconds, or a number with ms, s, m, h or d)") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidValue("a duration of zero or more seconds")
    return value if isinstance(value, timedelta) else timedelta(seconds=seconds)


def parse_url(value: Any) -> str:
    """An absolute ``http://`` or ``https://`` URL with a host (no blanks), as given."""
    if isinstance(value, str) and not any(c.isspace() for c in value):
        try:
            parts = urlsplit(value)
            if parts.scheme.lower() in ("http", "https") and parts.hostname:
                return value
        except ValueError:
            pass
    raise InvalidValue("an absolute http:// or https:// URL")


def parse_datetime(value: Any) -> datetime:
    """A datetime, or ISO 8601 text (``2024-05-01T12:00:00Z``, ``...+02:00``, a date alone)."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    raise InvalidValue("an ISO 8601 date and time such as 2024-05-01T12:00:00Z")
