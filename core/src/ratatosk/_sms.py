"""SMS encoding: GSM-7 or UCS-2, septets and code units, segments (no I/O, provider-neutral).

What every SMS provider bills the same way, written once for provider authors
(:mod:`ratatosk.provider`) and users (:mod:`ratatosk`):

* A message is **GSM-7** when every character is in the GSM 03.38 default alphabet
  (:data:`GSM7_BASIC`, one septet each) or its extension table (:data:`GSM7_EXTENSION`, an escape
  septet and one more: the pair never splits); otherwise the whole message is **UCS-2**, counted
  in UTF-16 code units (a character outside the Basic Multilingual Plane takes 2).
* A single segment holds 140 octets: 160 septets or 70 UCS-2 units. Once a message needs a second
  segment every segment carries a 6-octet user data header: 153 septets or 67 units
  (:data:`GSM7_SEGMENT_SIZES`, :data:`UCS2_SEGMENT_SIZES`). A provider with other limits passes its
  own :class:`SegmentSizes`.
* A segment never splits a GSM-7 escape pair nor, in UCS-2, a grapheme cluster (a letter and its
  combining marks, an emoji sequence, a flag): :func:`split_sms` packs whole clusters. The default
  cluster splitter, :func:`split_graphemes`, is an approximation of UAX #29 from the standard
  library's Unicode data; a provider whose billing follows one particular splitter (Twilio's
  calculator follows npm ``grapheme-splitter`` 1.0.4) passes that one as ``graphemes=``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Sequence

from attrs import field, frozen

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "GSM7_SEGMENT_SIZES",
    "GSM_7",
    "UCS2_SEGMENT_SIZES",
    "UCS_2",
    "SegmentSizes",
    "SmsSplit",
    "gsm7_septets",
    "is_gsm7",
    "pack_segments",
    "split_graphemes",
    "split_sms",
    "ucs2_units",
]

GSM_7 = "GSM-7"
"""The name of the GSM 03.38 7-bit default alphabet encoding."""
UCS_2 = "UCS-2"
"""The name of the 16-bit encoding used when a message is not GSM-7."""

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""The GSM 03.38 default alphabet: one septet each (127 characters; the escape code itself is not a
character one can send)."""
GSM7_EXTENSION = "\f[\\]^{|}~€"
"""The GSM 03.38 extension table: an escape septet and one more each (two septets, never split)."""

_SEPTETS: dict[str, int] = {ch: 1 for ch in GSM7_BASIC}
_SEPTETS.update({ch: 2 for ch in GSM7_EXTENSION})


@frozen
class SegmentSizes:
    """How much one segment holds, in septets (GSM-7) or UTF-16 code units (UCS-2): ``single``
    for a message that fits one segment, ``multi`` for each segment of a concatenated one."""

    single: int = field()
    multi: int = field()

    @single.validator
    def _positive(self, attribute: object, value: int) -> None:
        if type(value) is not int or value < 1:
            raise ValueError(f"segment sizes must be positive integers, not {value!r}")

    @multi.validator
    def _fits(self, attribute: object, value: int) -> None:
        if type(value) is not int or not 1 <= value <= self.single:
            raise ValueError(f"multi must be a positive integer <= single ({self.single}), "
                             f"not {value!r}")


GSM7_SEGMENT_SIZES = SegmentSizes(160, 153)
"""140 octets: 160 septets alone, 153 with the user data header of a concatenated message."""
UCS2_SEGMENT_SIZES = SegmentSizes(70, 67)
"""140 octets: 70 UTF-16 units alone, 67 with the user data header."""


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` is in the GSM-7 default alphabet or extension."""
    septets = _SEPTETS
    return all(ch in septets for ch in text)


def gsm7_septets(text: str) -> int | None:
    """Septets ``text`` takes in GSM-7 (an extension character counts 2), or None when it is not
    GSM-7."""
    septets = _SEPTETS
    total = 0
    for ch in text:
        size = septets.get(ch)
        if size is None:
            return None
        total += size
    return total


def ucs2_units(text: str) -> int:
    """UTF-16 code units ``text`` takes in UCS-2 (a character outside the BMP counts 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# -- grapheme clusters (approximation of UAX #29 from unicodedata) ------------------------------
_ZWJ = "\u200d"


def _extends(ch: str) -> bool:
    """A character that never starts a cluster: marks, ZWJ, variation selectors, emoji modifiers,
    tag characters."""
    cp = ord(ch)
    if ch == _ZWJ or 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF:
        return True
    if 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F:
        return True
    return unicodedata.category(ch) in ("Mn", "Me", "Mc")


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def split_graphemes(text: str) -> list[str]:
    """Split ``text`` into (approximate) grapheme clusters.

    Keeps together ``"\\r\\n"``, a character and its combining marks, variation selectors, emoji
    modifiers and tag characters, a ZWJ and the character after it, and pairs of regional
    indicators (flags). Enough never to split what a reader sees as one character between two
    segments; it is not a full UAX #29 implementation (Hangul jamo sequences, prepended
    concatenation marks and Indic conjuncts are split).
    """
    clusters: list[str] = []
    current = ""
    ri_pending = False  # the cluster is one regional indicator waiting for its pair
    for ch in text:
        if not current:
            join = False
        elif current == "\r":
            join = ch == "\n"
        elif current in ("\n", "\r\n"):
            join = False  # line breaks take nothing after them
        elif current[-1] == _ZWJ or _extends(ch):
            join = True
        else:
            join = ri_pending and _regional(ch)
        if join:
            current += ch
            ri_pending = False
        else:
            if current:
                clusters.append(current)
            current = ch
            ri_pending = _regional(ch)
    if current:
        clusters.append(current)
    return clusters


# -- segments ----------------------------------------------------------------------------------
def pack_segments(sizes: Sequence[int], sizes_per_segment: SegmentSizes) -> list[int]:
    """Where each segment starts: indexes into ``sizes`` (the size of each indivisible item, in
    septets or code units), packed the way segment calculators and handsets concatenate.

    When everything fits ``single`` it is one segment (``[0]``). Otherwise every segment holds
    ``multi``: items fill segments in order and an item that does not fit the room left starts the
    next one. An item larger than a whole segment (a cluster of more than 67 UCS-2 units, say) is
    counted as those calculators count it: it may leave a segment empty, and it overfills its own.
    """
    single, multi = sizes_per_segment.single, sizes_per_segment.multi
    starts = [0]
    used = 0
    split = False
    for index, size in enumerate(sizes):
        if (multi if split else single) - used < size:
            if split:
                starts.append(index)
                used = 0
            else:
                # the message is long: the first segment now has a header and keeps the longest
                # prefix that still fits; the rest moves on to the second segment
                split = True
                keep = index
                total = sum(sizes[:index])
                while total > multi:
                    keep -= 1
                    total -= sizes[keep]
                starts.append(keep)
                used = sum(sizes[keep:index])
        used += size
    return starts


@frozen
class SmsSplit:
    """How an SMS body goes over the air: its encoding and its segments."""

    encoding: str
    """:data:`GSM_7` or :data:`UCS_2`."""
    parts: tuple[str, ...]
    """The text of each segment, in order (one empty part for an empty body)."""
    units: int
    """Septets (GSM-7, extension characters count 2) or UTF-16 code units (UCS-2)."""
    sizes: SegmentSizes
    """The segment sizes that applied."""

    @property
    def segments(self) -> int:
        """Number of segments (what most providers bill)."""
        return len(self.parts)

    @property
    def is_gsm7(self) -> bool:
        return self.encoding == GSM_7


def split_sms(
    text: str,
    *,
    gsm7: SegmentSizes = GSM7_SEGMENT_SIZES,
    ucs2: SegmentSizes = UCS2_SEGMENT_SIZES,
    graphemes: Callable[[str], Iterable[str]] = split_graphemes,
    encoding: str | None = None,
) -> SmsSplit:
    """Encode and split ``text`` into segments: GSM-7 when :func:`is_gsm7`, else UCS-2.

    GSM-7 segments never split an escape pair; UCS-2 segments never split a grapheme cluster as
    ``graphemes`` finds them. An empty text is one empty GSM-7 segment. ``encoding`` forces
    :data:`UCS_2` (for a provider told to send Unicode) or :data:`GSM_7` (ValueError when the
    text is not GSM-7).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    if encoding not in (None, GSM_7, UCS_2):
        raise ValueError(f"encoding must be {GSM_7!r} or {UCS_2!r}, not {encoding!r}")
    gsm = is_gsm7(text)
    if encoding == GSM_7 and not gsm:
        raise ValueError("the text has characters outside GSM-7")
    if gsm and encoding != UCS_2:
        items: list[str] = list(text)
        sizes = [_SEPTETS[ch] for ch in items]
        encoding, applied = GSM_7, gsm7
    else:
        items = list(graphemes(text))
        if "".join(items) != text:
            raise ValueError("graphemes() must split the text without changing it")
        sizes = [ucs2_units(item) for item in items]
        encoding, applied = UCS_2, ucs2
    starts = pack_segments(sizes, applied)
    ends = [*starts[1:], len(items)]
    parts = tuple("".join(items[start:end]) for start, end in zip(starts, ends, strict=True))
    return SmsSplit(encoding, parts, sum(sizes), applied)
