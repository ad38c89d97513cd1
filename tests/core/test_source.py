"""MessageSource: factories, form/JSON/text reading, headers."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ratatosk import Headers, InvalidSourceData, MessageSource
from ratatosk._source import (
    BINARY_CONTENT_TYPE,
    FORM_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    XML_CONTENT_TYPE,
)

TWILIO_BODY = (
    "ToCountry=US&MessageSid=SM1&Body=Hello+there%21+%2B1&NumMedia=2"
    "&MediaUrl0=https%3A%2F%2Fapi.twilio.com%2Fm0&MediaUrl0=dup&From=%2B15550001111&Empty="
)


def test_url_post_seed_example() -> None:
    source = MessageSource.url_post(TWILIO_BODY)
    assert source.method == "POST"
    assert source.content_type == FORM_CONTENT_TYPE
    assert source.body == TWILIO_BODY.encode()
    assert source.url is None and source.headers == Headers() and not source.headers
    form = source.form()
    assert form["Body"] == ["Hello there! +1"]  # '+' is a space, %2B a plus
    assert form["From"] == ["+15550001111"]
    assert form["MediaUrl0"] == ["https://api.twilio.com/m0", "dup"]  # repeated keys kept
    assert form["Empty"] == [""]
    items = source.form_items()
    assert [k for k, _ in items] == ["ToCountry", "MessageSid", "Body", "NumMedia", "MediaUrl0",
                                     "MediaUrl0", "From", "Empty"]


def test_factories_set_content_type_url_and_headers() -> None:
    headers = {"X-Twilio-Signature": "sig", "Content-Type": "x"}
    url = "https://example.com/hook?a=1"
    cases = [
        (MessageSource.url_post("a=1", url=url, headers=headers), FORM_CONTENT_TYPE),
        (MessageSource.json({"a": 1}, url=url, headers=headers), JSON_CONTENT_TYPE),
        (MessageSource.text("hi", url=url, headers=headers), TEXT_CONTENT_TYPE),
        (MessageSource.binary(b"\x00", url=url, headers=headers), BINARY_CONTENT_TYPE),
        (MessageSource.xml("<a/>", url=url, headers=headers), XML_CONTENT_TYPE),
    ]
    for source, content_type in cases:
        assert source.content_type == content_type
        assert source.url == url
        assert source.method == "POST"
        assert list(source.headers) == [("X-Twilio-Signature", "sig"), ("Content-Type", "x")]
        assert isinstance(source.body, bytes)
    assert MessageSource.binary(b"x", content_type="image/png").content_type == "image/png"


def test_json_factory_serialises_mappings_and_lists_but_keeps_text() -> None:
    assert json.loads(MessageSource.json({"a": [1, "é"]}).body) == {"a": [1, "é"]}
    assert MessageSource.json([1, 2]).json_body() == [1, 2]
    assert MessageSource.json('{"raw": true}').body == b'{"raw": true}'
    assert MessageSource.json(b'{"raw": 1}').json_body() == {"raw": 1}


def test_headers_are_case_insensitive_and_keep_repeats() -> None:
    source = MessageSource.url_post(
        "", headers=[("X-Twilio-Signature", "one"), ("x-twilio-signature", "two"),
                     ("I-Twilio-Idempotency-Token", "tok")]
    )
    assert source.header("x-twilio-signature") == "one"
    assert source.header("X-TWILIO-SIGNATURE") == "one"
    assert source.header("i-twilio-idempotency-token") == "tok"
    assert source.header("Missing") is None
    assert source.header("Missing", "default") == "default"
    assert len(source.headers) == 3


def test_media_type_strips_parameters() -> None:
    source = MessageSource(b"", "Application/X-WWW-Form-Urlencoded; charset=utf-8")
    assert source.media_type == FORM_CONTENT_TYPE


@pytest.mark.parametrize(
    "body", [b"Body=%FF", b"\xff\xfeBody=x", "Body=caf\u00e9".encode("latin-1")]
)
def test_non_utf8_forms_are_invalid_source_data(body: bytes) -> None:
    with pytest.raises(InvalidSourceData):
        MessageSource.url_post(body).form()


@pytest.mark.parametrize("body", ["a", "a=1&&b=2", "&", "a=1&b"])
def test_malformed_forms_are_invalid_source_data(body: str) -> None:
    with pytest.raises(InvalidSourceData):
        MessageSource.url_post(body).form_items()


def test_empty_form_is_empty() -> None:
    assert MessageSource.url_post("").form() == {}
    assert MessageSource.url_post(b"").form_items() == []


def test_utf8_form_values() -> None:
    source = MessageSource.url_post("Body=%C3%A6%C3%B8%C3%A5+%F0%9F%98%80")
    assert source.form() == {"Body": ["æøå 😀"]}


def test_text_and_json_bodies() -> None:
    assert MessageSource.text("héllo").text_body() == "héllo"
    with pytest.raises(InvalidSourceData, match="UTF-8"):
        MessageSource.text(b"\xc3").text_body()
    with pytest.raises(InvalidSourceData, match="JSON"):
        MessageSource.json("{not json").json_body()
    with pytest.raises(InvalidSourceData):
        MessageSource.json(b"").json_body()
    with pytest.raises(InvalidSourceData):
        MessageSource.json(b"\xff").json_body()


def test_source_is_immutable_and_comparable() -> None:
    a = MessageSource.url_post("a=1", headers={"H": "v"})
    b = MessageSource.url_post(b"a=1", headers=[("H", "v")])
    assert a == b


@given(st.lists(st.tuples(st.text(min_size=1), st.text()), max_size=6))
def test_form_round_trip(pairs: list[tuple[str, str]]) -> None:
    from urllib.parse import urlencode

    source = MessageSource.url_post(urlencode(pairs))
    assert source.form_items() == pairs


@given(st.binary(max_size=40))
def test_any_body_either_parses_or_raises_invalid_source_data(body: bytes) -> None:
    source = MessageSource.url_post(body)
    with contextlib.suppress(InvalidSourceData):
        source.form_items()
    with contextlib.suppress(InvalidSourceData):
        source.json_body()
