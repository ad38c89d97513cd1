"""GSM-7 detection: the SMS API's ``type`` is ``text`` when every character is in the GSM 03.38
default alphabet or its extension table, else ``unicode``."""

from __future__ import annotations

__all__ = ["GSM7_BASIC", "GSM7_EXTENDED", "is_gsm7"]

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""The GSM 03.38 default alphabet (one septet each)."""
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
"""The GSM 03.38 extension table (an escape septet and one more each)."""

_GSM7 = GSM7_BASIC | GSM7_EXTENDED


def is_gsm7(text: str) -> bool:
    """True when ``text`` can go as a GSM-7 ``text`` SMS (no ``unicode`` needed)."""
    return all(c in _GSM7 for c in text)
