"""MessageSource's form parsing fast path gives exactly what ``parse_qsl`` gives, errors included.

``MessageSource.form_items`` is specified as ``parse_qsl(text, keep_blank_values=True,
strict_parsing=True, errors="strict")`` with every failure reported as ``InvalidSourceData``; the
fast path (``_parse_form``) must be indistinguishable from it, on any text.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ratatosk import InvalidSourceData, MessageSource
from ratatosk._source import (
    FORM_CONTENT_TYPE,
    _parse_form,
    _replace_common_escapes,
    _unquote_ascii,
    _unquote_strict,
)

SETTINGS = settings(max_examples=400, deadline=None)


def _reference(text: str) -> list[tuple[str, str]] | type[BaseException]:
    """What the standard library answers: the pairs, or the class of the error it raises."""
    try:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=True, encoding="utf-8",
                         errors="strict")
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        return type(exc)


def _fast(text: str) -> list[tuple[str, str]] | type[BaseException]:
    try:
        return _parse_form(text)
    except ValueError as exc:
        return type(exc)


# Text made of the characters that matter to a form parser: separators, escapes (valid, invalid,
# half-finished, decoding to separators or to non-UTF-8 bytes), '+', ASCII and non-ASCII text.
_pieces = st.sampled_from([
    "&", "=", "+", "%", "%2B", "%2b", "%3A", "%3a", "%2F", "%26", "%3D", "%3d", "%25", "%20",
    "%C3%A9", "%C3", "%A9", "%E2%82", "%E2%82%AC", "%F0%9F%98%80", "%FF", "%zz", "%2", "%%",
    "a", "B", "0", "9", "Body", "From", "é", "😀", " ", "~", "\t", "\n", "\x00",
])
_form_like = st.lists(_pieces, max_size=24).map("".join)
# Real-looking forms: fields of quoted text, some fields without '=' or empty.
_field = st.one_of(
    st.tuples(st.text(max_size=8), st.text(max_size=12)).map(
        lambda nv: quote(nv[0], safe="") + "=" + quote(nv[1], safe="")),
    st.tuples(st.text(max_size=8), st.text(max_size=12)).map(
        lambda nv: quote(nv[0], safe=" ").replace(" ", "+") + "=" + nv[1].replace("&", "")),
    st.text(max_size=6).map(lambda t: t.replace("&", "")),
)
_forms = st.lists(_field, min_size=1, max_size=10).map("&".join)


@SETTINGS
@given(st.one_of(_form_like, _forms, st.text(max_size=40)))
@example("To=%2B15550001111&From=whatsapp%3A%2B15550002222&Body=Hi+there%21")
@example("a=%C3&b=%A9")  # an escape sequence split across fields is invalid in each
@example("a=%C3%A9é&b=%E2%82%AC")
@example("a=%252B&b=%2%2B")  # %25 decodes to '%', which must not start another escape
@example("a=1&&b=2")
@example("a=1&")
@example("=")
@example("a=b=c")
@example("a+b=c+d&%2B=%2b")
def test_parse_form_is_parse_qsl(text: str) -> None:
    assert _fast(text) == _reference(text)


@SETTINGS
@given(st.one_of(_form_like, _forms))
def test_form_items_is_parse_qsl_or_invalid_source_data(text: str) -> None:
    source = MessageSource.url_post(text)
    expected = _reference(text) if text else []
    if isinstance(expected, list):
        assert source.form_items() == expected
        assert source.form() == {k: [v for n, v in expected if n == k] for k, _ in expected}
    else:
        with pytest.raises(InvalidSourceData):
            source.form_items()


@SETTINGS
@given(st.binary(max_size=40))
def test_form_items_on_any_bytes(body: bytes) -> None:
    source = MessageSource.url_post(body)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        with pytest.raises(InvalidSourceData, match="not valid UTF-8"):
            source.form_items()
        return
    expected = _reference(text) if text else []
    if isinstance(expected, list):
        assert source.form_items() == expected
    else:
        with pytest.raises(InvalidSourceData, match="not a well-formed form"):
            source.form_items()


_ascii_escaped = st.lists(
    st.one_of(st.sampled_from(["%2B", "%3A", "%2F", "%25", "%2", "%", "%C3%A9", "%FF", "%41"]),
              st.text(st.characters(max_codepoint=127), max_size=3)),
    max_size=12,
).map("".join)


@SETTINGS
@given(_ascii_escaped)
def test_unquote_ascii_is_unquote(text: str) -> None:
    try:
        expected: str | type[BaseException] = unquote(text, "utf-8", "strict")
    except UnicodeDecodeError as exc:
        expected = type(exc)
    try:
        actual: str | type[BaseException] = _unquote_ascii(text)
    except UnicodeDecodeError as exc:
        actual = type(exc)
    assert actual == expected


@SETTINGS
@given(st.one_of(_ascii_escaped, _form_like))
def test_common_escapes_decode_as_unquote(text: str) -> None:
    quick = _replace_common_escapes(text)
    if quick is not None:
        assert quick == unquote(text, "utf-8", "strict")
        assert "%" not in quick
    try:
        expected: str | type[BaseException] = unquote(text, "utf-8", "strict")
    except UnicodeDecodeError as exc:
        expected = type(exc)
    try:
        actual: str | type[BaseException] = _unquote_strict(text)
    except UnicodeDecodeError as exc:
        actual = type(exc)
    assert actual == expected


def test_common_escapes_leave_other_escapes_to_unquote() -> None:
    assert _replace_common_escapes("%2B1555") == "+1555"
    assert _replace_common_escapes("whatsapp%3A%2B1555") == "whatsapp:+1555"
    assert _replace_common_escapes("https%3A%2F%2Fa.example%2Fm") == "https://a.example/m"
    assert _replace_common_escapes("%252B") is None  # '%25' is '%': not replaced here
    assert _replace_common_escapes("%2b") is None  # lower-case hex: unquote decides
    assert _replace_common_escapes("100%") is None


@pytest.mark.parametrize(
    "content_type",
    [FORM_CONTENT_TYPE, "Application/X-WWW-Form-Urlencoded; charset=utf-8", " text/plain ",
     "application/json;x=1", ""],
)
def test_media_type(content_type: str) -> None:
    source = MessageSource(b"", content_type)
    assert source.media_type == content_type.split(";", 1)[0].strip().lower()
