"""Segment estimate for Vonage SMS: ``text`` (GSM-7) or ``unicode`` (UCS-2), and the parts.

Vonage's rules, on the core's SMS encoding (:func:`ratatosk.provider.split_sms`): the SMS API's
``type`` is ``text`` when every character is in the GSM 03.38 default alphabet or its extension
table, else ``unicode``. A ``text`` message is one part up to 160 septets (an extension character
counts 2), else parts of 153; a ``unicode`` message one part up to 70 UTF-16 units, else parts of
67. A part never splits an escape pair or a grapheme cluster.

Cost: Vonage publishes no price table (prices depend on the destination network and the account),
so there is no price estimate before sending. After a send the SMS API's answer carries each part's
``message-price``: the connector puts them in ``SendResult.additional_data["parts"]`` and their sum
in ``additional_data["price"]``.
"""

from __future__ import annotations

from attrs import frozen

from ratatosk.provider import (
    GSM7_SEGMENT_SIZES,
    GSM_7,
    UCS2_SEGMENT_SIZES,
    UCS_2,
    is_gsm7,
    split_sms,
)

__all__ = ["TEXT", "UNICODE", "VonageSegmentAnalysis", "analyze", "is_gsm7"]

TEXT = "text"
"""The SMS API's ``type`` for a GSM-7 message."""
UNICODE = "unicode"
"""The SMS API's ``type`` for a UCS-2 message."""

@frozen
class VonageSegmentAnalysis:
    """What a Vonage SMS body costs in parts (the billing unit)."""

    type: str
    """The SMS API's ``type``: ``"text"`` or ``"unicode"``."""
    encoding: str
    """``"GSM-7"`` or ``"UCS-2"``."""
    segments: int
    """Number of parts Vonage sends (and bills); 1 for an empty body."""
    units: int
    """Septets (``text``; an extension character counts 2) or UTF-16 code units (``unicode``)."""
    parts: tuple[str, ...]
    """The text of each part, in order."""
    text: str
    """The text analysed."""

    @property
    def is_gsm7(self) -> bool:
        return self.encoding == GSM_7

    @property
    def price(self) -> None:
        """Always None: Vonage publishes no price table, so the cost is known only from the
        answer to a send (``additional_data["price"]``, the sum of the parts' prices)."""
        return None


def analyze(text: str, *, encoding_type: str | None = None) -> VonageSegmentAnalysis:
    """The ``type``, encoding and parts Vonage uses for an SMS body.

    ``encoding_type`` forces the ``type`` (the ``EncodingType`` property): ``"unicode"`` counts
    even a GSM-7 text in UCS-2; ``"text"`` on a text that is not GSM-7 raises ValueError (Vonage
    would replace the characters it cannot send). None (or the Messages API's ``"auto"``)
    chooses from the content, as the connectors do.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {text.__class__.__name__}")
    if encoding_type not in (None, TEXT, UNICODE, "auto"):
        raise ValueError(
            f"encoding_type must be 'text', 'unicode' or 'auto', not {encoding_type!r}")
    forced = {TEXT: GSM_7, UNICODE: UCS_2}.get(encoding_type or "")
    try:
        split = split_sms(text, gsm7=GSM7_SEGMENT_SIZES, ucs2=UCS2_SEGMENT_SIZES,
                          encoding=forced)
    except ValueError:
        raise ValueError(
            "the text has characters outside GSM-7, so it cannot go as 'text'") from None
    encoding = split.encoding
    return VonageSegmentAnalysis(
        type=TEXT if encoding == GSM_7 else UNICODE,
        encoding=encoding,
        segments=split.segments,
        units=split.units,
        parts=split.parts,
        text=text,
    )
