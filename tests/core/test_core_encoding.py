"""The core's SMS encoding: GSM-7 tables, septets, UCS-2 units, grapheme clusters and segments."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ratatosk
from ratatosk.provider import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    GSM7_SEGMENT_SIZES,
    GSM_7,
    UCS2_SEGMENT_SIZES,
    UCS_2,
    SegmentSizes,
    gsm7_septets,
    is_gsm7,
    pack_segments,
    split_graphemes,
    split_sms,
    ucs2_units,
)

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 11 UTF-16 units
ITALY = "\U0001f1ee\U0001f1f9"
THUMB_DARK = "\U0001f44d\U0001f3ff"
E_ACUTE = "e\u0301"


def test_users_get_the_same_functions() -> None:
    assert ratatosk.split_sms is split_sms
    assert ratatosk.is_gsm7 is is_gsm7
    assert ratatosk.SegmentSizes is SegmentSizes
    assert isinstance(ratatosk.split_sms("hi"), ratatosk.SmsSplit)


def test_gsm7_tables_are_the_gsm_03_38_alphabet() -> None:
    assert len(GSM7_BASIC) == len(set(GSM7_BASIC)) == 127
    assert set(GSM7_EXTENSION) == set("\f^{}\\[~]|€")
    assert not set(GSM7_BASIC) & set(GSM7_EXTENSION)
    assert "\x1b" not in GSM7_BASIC  # the escape code is not a character one sends


def test_core_tables_are_the_ones_twilio_bills_with() -> None:
    from ratatosk_twilio import _tables  # Twilio's generated reference data

    assert set(GSM7_BASIC) == set(_tables.GSM7_BASIC)
    assert set(GSM7_EXTENSION) == set(_tables.GSM7_EXTENSION)


@pytest.mark.parametrize(("text", "gsm", "septets", "units"), [
    ("", True, 0, 0),
    ("Hello @ £5", True, 10, 10),
    ("a€b", True, 4, 3),  # the euro sign is an escape pair
    ("{[]}", True, 8, 4),
    ("café", True, 4, 4),  # é is in the basic table
    ("naïve", False, None, 5),  # ï is not
    ("hi 😜", False, None, 5),  # outside the BMP: 2 units
    (E_ACUTE, False, None, 2),
])
def test_septets_and_units(text: str, gsm: bool, septets: int | None, units: int) -> None:
    assert is_gsm7(text) is gsm
    assert gsm7_septets(text) == septets
    assert ucs2_units(text) == units


@pytest.mark.parametrize(("text", "clusters"), [
    ("", []),
    ("abc", ["a", "b", "c"]),
    ("\r\n\n", ["\r\n", "\n"]),
    (f"x{E_ACUTE}y", ["x", E_ACUTE, "y"]),
    (FAMILY + "!", [FAMILY, "!"]),
    (ITALY + ITALY, [ITALY, ITALY]),
    ("\U0001f1ee" + ITALY, ["\U0001f1ee\U0001f1ee", "\U0001f1f9"]),  # pairs from the left
    (THUMB_DARK + "\u2764\ufe0f", [THUMB_DARK, "\u2764\ufe0f"]),
    ("\u0301a", ["\u0301", "a"]),  # a mark at the start stands alone
])
def test_split_graphemes(text: str, clusters: list[str]) -> None:
    assert split_graphemes(text) == clusters


@given(st.text())
def test_split_graphemes_keeps_every_character(text: str) -> None:
    assert "".join(split_graphemes(text)) == text


def test_segment_sizes_are_checked() -> None:
    assert (GSM7_SEGMENT_SIZES.single, GSM7_SEGMENT_SIZES.multi) == (160, 153)
    assert (UCS2_SEGMENT_SIZES.single, UCS2_SEGMENT_SIZES.multi) == (70, 67)
    with pytest.raises(ValueError, match="positive"):
        SegmentSizes(0, 0)
    with pytest.raises(ValueError, match="<= single"):
        SegmentSizes(10, 11)


@pytest.mark.parametrize(("length", "segments"), [
    (0, 1), (1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)])
def test_gsm7_segments_160_then_153(length: int, segments: int) -> None:
    split = split_sms("a" * length)
    assert split.encoding == GSM_7 and split.is_gsm7
    assert split.segments == segments
    assert split.units == length
    assert "".join(split.parts) == "a" * length
    assert all(len(part) <= (160 if segments == 1 else 153) for part in split.parts)


@pytest.mark.parametrize(("length", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_ucs2_segments_70_then_67(length: int, segments: int) -> None:
    split = split_sms("ж" * length)
    assert split.encoding == UCS_2
    assert split.segments == segments
    assert split.units == length


def test_an_escape_pair_never_splits() -> None:
    text = "a" * 152 + "€" + "b" * 10  # the euro would straddle septets 153 and 154
    split = split_sms(text)
    assert split.units == 164 and split.segments == 2
    assert split.parts[0] == "a" * 152
    assert split.parts[1] == "€" + "b" * 10


def test_a_grapheme_cluster_never_splits() -> None:
    text = "ж" * 66 + FAMILY + "ж"  # the family needs 11 units where only 1 is left
    split = split_sms(text)
    assert split.encoding == UCS_2 and split.segments == 2
    assert split.parts == ("ж" * 66, FAMILY + "ж")
    assert split.units == 66 + 11 + 1


def test_a_surrogate_pair_never_splits_in_a_long_message() -> None:
    split = split_sms("ж" * 66 + "😜" * 3)
    assert split.parts[0] == "ж" * 66
    assert split.segments == 2


def test_the_splitter_can_be_the_providers() -> None:
    seen: list[str] = []

    def by_code_point(text: str) -> list[str]:
        seen.append(text)
        return list(text)

    text = "ж" * 66 + E_ACUTE + "ж" * 5
    assert split_sms(text).parts == ("ж" * 66, E_ACUTE + "ж" * 5)  # the default splitter
    split = split_sms(text, graphemes=by_code_point)
    assert seen and split.parts == ("ж" * 66 + "e", "\u0301" + "ж" * 5)  # the caller's choice
    with pytest.raises(ValueError, match="without changing"):
        split_sms("жж", graphemes=lambda text: ["x"])


def test_other_segment_sizes() -> None:
    split = split_sms("abcdefghij", gsm7=SegmentSizes(6, 4))
    assert split.parts == ("abcd", "efgh", "ij")
    assert split.sizes == SegmentSizes(6, 4)


def test_forced_encoding() -> None:
    assert split_sms("hello", encoding=UCS_2).encoding == UCS_2
    assert split_sms("hello", encoding=GSM_7).encoding == GSM_7
    with pytest.raises(ValueError, match="outside GSM-7"):
        split_sms("жж", encoding=GSM_7)
    with pytest.raises(ValueError, match="encoding must be"):
        split_sms("hi", encoding="UTF-8")
    with pytest.raises(TypeError):
        split_sms(b"hi")  # type: ignore[arg-type]


def test_pack_segments_like_the_calculators() -> None:
    assert pack_segments([], GSM7_SEGMENT_SIZES) == [0]
    assert pack_segments([1] * 160, GSM7_SEGMENT_SIZES) == [0]
    assert pack_segments([1] * 161, GSM7_SEGMENT_SIZES) == [0, 153]
    # the first segment keeps the longest prefix that fits once a header is needed
    assert pack_segments([2] * 80 + [1], GSM7_SEGMENT_SIZES) == [0, 76]
    # an item larger than a whole segment: counted as the calculators count it
    assert pack_segments([69, 2], UCS2_SEGMENT_SIZES) == [0, 0]
    assert pack_segments([1, 80, 1], UCS2_SEGMENT_SIZES) == [0, 1, 2]


@given(st.lists(st.sampled_from([*"ab€{", "ж", "😜", E_ACUTE, FAMILY]), max_size=400))
def test_parts_cover_the_text_and_respect_sizes(atoms: list[str]) -> None:
    text = "".join(atoms)
    split = split_sms(text)
    assert "".join(split.parts) == text
    limit = split.sizes.single if split.segments == 1 else split.sizes.multi
    for part in split.parts:
        size = gsm7_septets(part) if split.is_gsm7 else ucs2_units(part)
        assert size is not None and size <= limit
