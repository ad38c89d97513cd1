"""Kept for code that imported it: GSM-7 detection is the core's now (``ratatosk.provider``:
``is_gsm7``, ``GSM7_BASIC``, ``GSM7_EXTENSION``); the SMS API's ``type`` and the segment estimate
use it through :mod:`ratatosk_vonage._segments`."""

from __future__ import annotations

from ratatosk.provider import GSM7_BASIC as _BASIC
from ratatosk.provider import GSM7_EXTENSION as _EXTENSION
from ratatosk.provider import is_gsm7

__all__ = ["GSM7_BASIC", "GSM7_EXTENDED", "is_gsm7"]

GSM7_BASIC = frozenset(_BASIC)
"""The GSM 03.38 default alphabet (one septet each)."""
GSM7_EXTENDED = frozenset(_EXTENSION)
"""The GSM 03.38 extension table (an escape septet and one more each)."""
