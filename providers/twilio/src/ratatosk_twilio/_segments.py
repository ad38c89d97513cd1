"""SMS segment counting and Smart Encoding, exactly as Twilio's segment calculator does it.

The reference is TwilioDevEd/message-segment-calculator (npm ``sms-segments-calculator``), the tool
Twilio points to for "how many segments will I be billed for". Its rules, reproduced here:

* The text is split into grapheme clusters with the npm package ``grapheme-splitter`` 1.0.4
  (UAX #29 for Unicode 10.0, including that package's own reading of the emoji rules); a cluster is
  never split across segments. A ``"\\r\\n"`` cluster is then split into its two characters again.
* The message is GSM-7 when every cluster is one UTF-16 code unit found in the GSM 03.38 basic or
  extension table; otherwise the whole message is UCS-2.
* GSM-7: 7 bits per septet; extension characters (``^{}\\[~]|€`` and form feed) take two septets
  (escape + code) and stay together. UCS-2: 16 bits per UTF-16 code unit (an emoji outside the BMP
  takes 2), and a GSM character is always one 16-bit unit.
* A segment holds 1120 bits (140 octets). Once a message needs a second segment, every segment
  carries a 48-bit (6 octet) user data header: 160/153 GSM-7 septets, 70/67 UCS-2 units.
* ``characters`` is the calculator's ``numberOfCharacters``: septets for GSM-7 (an extension
  character counts 2), grapheme clusters for UCS-2. An empty text is one (empty) GSM-7 segment.

Grapheme clusters follow grapheme-splitter 1.0.4 on purpose, not the Unicode version of this
Python, so the answer is the calculator's on every Python release. The break property table is
generated into :mod:`ratatosk_twilio._tables` by ``providers/twilio/scripts/gen_tables.py``.

The GSM-7 tables, the septet and UCS-2 unit counts and the packing into 160/153 and 70/67
segments are the core's (:mod:`ratatosk.provider`: ``gsm7_septets``, ``ucs2_units``,
``pack_segments``); what is Twilio's here is the cluster splitter, the ``"\\r\\n"`` rule and Smart
Encoding.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from attrs import frozen

from ratatosk.provider import (
    GSM7_SEGMENT_SIZES,
    GSM_7,
    UCS2_SEGMENT_SIZES,
    UCS_2,
    gsm7_septets,
    pack_segments,
    ucs2_units,
)
from ratatosk_twilio import _tables as _t

__all__ = [
    "GSM_7",
    "UCS_2",
    "SegmentAnalysis",
    "analyze",
    "smart_encode",
    "split_graphemes",
]

UDH_BITS = 48
"""Bits of the user data header every segment of a concatenated message carries (6 octets)."""

_SMART_TRANSLATION: dict[int, str] = {ord(key): value for key, value in _t.SMART_ENCODING.items()}

_RANGE_STARTS: list[int] = [first for first, _, _ in _t.GRAPHEME_BREAK_RANGES]
_RANGE_ENDS: list[int] = [last for _, last, _ in _t.GRAPHEME_BREAK_RANGES]
_RANGE_CLASSES: list[int] = [value for _, _, value in _t.GRAPHEME_BREAK_RANGES]

_SURROGATE = re.compile("[\ud800-\udfff]")

# Grapheme break classes, as local names for the hot loop.
_CR = _t.GB_CR
_LF = _t.GB_LF
_CONTROL = _t.GB_CONTROL
_EXTEND = _t.GB_EXTEND
_RI = _t.GB_REGIONAL_INDICATOR
_PREPEND = _t.GB_PREPEND
_SPACING_MARK = _t.GB_SPACING_MARK
_L = _t.GB_L
_V = _t.GB_V
_T = _t.GB_T
_LV = _t.GB_LV
_LVT = _t.GB_LVT
_E_BASE = _t.GB_E_BASE
_E_MODIFIER = _t.GB_E_MODIFIER
_ZWJ = _t.GB_ZWJ
_GAZ = _t.GB_GLUE_AFTER_ZWJ
_EBG = _t.GB_E_BASE_GAZ

_CONTROLS = frozenset((_CONTROL, _CR, _LF))
_EMOJI_BASES = frozenset((_E_BASE, _EBG))


def _break_class_slow(cp: int) -> int:
    index = bisect_right(_RANGE_STARTS, cp) - 1
    if index >= 0 and cp <= _RANGE_ENDS[index]:
        return _RANGE_CLASSES[index]
    return _t.GB_OTHER


_LOW_CLASSES: list[int] = [_break_class_slow(cp) for cp in range(0x300)]


def _break_class(cp: int) -> int:
    """grapheme-splitter's break class of one code point."""
    if cp < 0x300:
        return _LOW_CLASSES[cp]
    return _break_class_slow(cp)


def _join_surrogate_pairs(text: str) -> str:
    """Make a high+low surrogate pair one code point, as a JavaScript string would read it."""
    if _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _breaks(
    first: int,
    prev: int,
    prev2: int,
    length: int,
    last_em: int,
    last_ri: int,
    last_ext: int,
    ext_run: int,
    ri_run: int,
    nxt: int,
) -> bool:
    """grapheme-splitter's ``shouldBreak(start, mid, end)`` on a summary of the cluster so far.

    The cluster so far has ``length`` classes, the first ``first`` and the last ``prev`` (``prev2``
    before it, -1 if none); ``last_*`` are the last indexes of E_Modifier, Regional_Indicator and
    Extend in it (-1 if none); ``ext_run``/``ri_run`` count how many classes from index 1 on are all
    Extend / all Regional_Indicator. Rule order and lookahead quirks are the package's.
    """
    # Lookahead terminators for GB10 and GB12/13, tested first as the package does.
    em_idx = length if nxt == _E_MODIFIER else last_em
    if em_idx > 1 and ext_run >= em_idx - 1 and first not in (_EXTEND, _E_BASE, _EBG):
        return True
    ri_idx = length if nxt == _RI else last_ri
    if ri_idx > 0 and ri_run >= ri_idx - 1 and prev not in (_PREPEND, _RI):
        return True
    if prev == _CR and nxt == _LF:  # GB3
        return False
    if prev in _CONTROLS or nxt in _CONTROLS:  # GB4, GB5
        return True
    if prev == _L and nxt in (_L, _V, _LV, _LVT):  # GB6
        return False
    if prev in (_LV, _V) and nxt in (_V, _T):  # GB7
        return False
    if prev in (_LVT, _T) and nxt == _T:  # GB8
        return False
    if nxt in (_EXTEND, _ZWJ, _SPACING_MARK) or prev == _PREPEND:  # GB9, GB9a, GB9b
        return False
    if nxt == _E_MODIFIER:  # GB10, with one Extend at most between base and modifier
        if last_ext == -1 and prev in _EMOJI_BASES:
            return False
        if last_ext == length - 1 and length >= 2 and prev2 in _EMOJI_BASES:
            return False
    if prev == _ZWJ and nxt in (_GAZ, _EBG):  # GB11
        return False
    if last_ri >= 1:  # GB12/13: a Regional_Indicator pair is already in the cluster
        return True
    return not (prev == _RI and nxt == _RI)


def split_graphemes(text: str) -> list[str]:
    """Split ``text`` into grapheme clusters exactly as npm ``grapheme-splitter`` 1.0.4 does.

    That is UAX #29 for Unicode 10.0 as that package implements it, quirks included (for
    instance ``"a\\U0001F3FB"`` is two clusters, and newer emoji ZWJ sequences may be several).
    ``"\\r\\n"`` is one cluster here; :func:`analyze` splits it as the calculator does.
    """
    text = _join_surrogate_pairs(text)
    if not text:
        return []
    classes = [_break_class(ord(ch)) for ch in text]
    clusters: list[str] = []
    begin = 0
    # State of the cluster being built ("all" minus its last element, in grapheme-splitter terms):
    first = prev = classes[0]
    prev2 = -1  # class before prev, -1 if none
    length = 1  # classes in the cluster so far
    last_em = 0 if first == _E_MODIFIER else -1
    last_ri = 0 if first == _RI else -1
    last_ext = 0 if first == _EXTEND else -1
    ext_run = 0  # how many classes from index 1 on are all Extend
    ri_run = 0  # how many classes from index 1 on are all Regional_Indicator

    for pos in range(1, len(text)):
        nxt = classes[pos]
        split = _breaks(
            first, prev, prev2, length, last_em, last_ri, last_ext, ext_run, ri_run, nxt
        )
        if split:
            clusters.append(text[begin:pos])
            begin = pos
            first = prev = nxt
            prev2 = -1
            length = 1
            last_em = 0 if nxt == _E_MODIFIER else -1
            last_ri = 0 if nxt == _RI else -1
            last_ext = 0 if nxt == _EXTEND else -1
            ext_run = ri_run = 0
        else:
            if nxt == _E_MODIFIER:
                last_em = length
            elif nxt == _RI:
                last_ri = length
            elif nxt == _EXTEND:
                last_ext = length
            if ext_run == length - 1 and nxt == _EXTEND:
                ext_run += 1
            if ri_run == length - 1 and nxt == _RI:
                ri_run += 1
            prev2 = prev
            prev = nxt
            length += 1
    clusters.append(text[begin:])
    return clusters


def smart_encode(text: str) -> str:
    """Apply Twilio Smart Encoding: replace each mapped character by its GSM-friendly stand-in.

    The map is the calculator's (270 code points), kept with its quirks: most wide spaces become two
    spaces, TAB becomes seven, U+2039/U+203A become ``>``/``<``, and some characters are removed.
    Characters not in the map are left alone.
    """
    return text.translate(_SMART_TRANSLATION)


@frozen
class SegmentAnalysis:
    """What Twilio's segment calculator says about one message body."""

    encoding: str
    """``"GSM-7"`` or ``"UCS-2"``."""
    segments: int
    """Number of SMS segments (billing units); 1 for an empty body."""
    characters: int
    """The calculator's ``numberOfCharacters``: GSM-7 septets, or UCS-2 grapheme clusters."""
    unicode_scalars: int
    """Number of Unicode code points."""
    message_size_bits: int
    """Size of the payload in bits, user data headers excluded."""
    total_size_bits: int
    """Size in bits including the 48-bit user data header of each segment of a long message."""
    non_gsm_characters: tuple[str, ...]
    """The grapheme clusters that are not GSM-7 characters, in order, repeats included."""
    text: str
    """The text analysed (after Smart Encoding when it was requested)."""

    @property
    def is_gsm7(self) -> bool:
        """True when the message fits the GSM-7 alphabet."""
        return self.encoding == GSM_7


def analyze(text: str, *, smart_encoded: bool = False) -> SegmentAnalysis:
    """Analyse an SMS body as Twilio's segment calculator does.

    ``smart_encoded=True`` first applies :func:`smart_encode` (what a Messaging Service with Smart
    Encoding enabled sends). See the module documentation for the rules.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    if smart_encoded:
        text = smart_encode(text)
    text = _join_surrogate_pairs(text)
    clusters: list[str] = []
    for cluster in split_graphemes(text):
        if cluster == "\r\n":
            clusters += ("\r", "\n")
        else:
            clusters.append(cluster)

    gsm = [(gsm7_septets(cluster) or 0) if len(cluster) == 1 else 0 for cluster in clusters]
    non_gsm = tuple(cluster for cluster, septets in zip(clusters, gsm, strict=True) if not septets)
    if non_gsm:
        encoding = UCS_2
        units = [ucs2_units(cluster) for cluster in clusters]  # a GSM character is one unit
        segments = len(pack_segments(units, UCS2_SEGMENT_SIZES))
        message_bits = 16 * sum(units)
        characters = len(clusters)
    else:
        encoding = GSM_7
        segments = len(pack_segments(gsm, GSM7_SEGMENT_SIZES))
        message_bits = 7 * sum(gsm)
        characters = sum(gsm)
    total_bits = message_bits + (UDH_BITS * segments if segments > 1 else 0)
    return SegmentAnalysis(
        encoding=encoding,
        segments=segments,
        characters=characters,
        unicode_scalars=len(text),
        message_size_bits=message_bits,
        total_size_bits=total_bits,
        non_gsm_characters=non_gsm,
        text=text,
    )
