"""TwiML responses: the empty reply, <Message> replies, escaping and invalid characters."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratatosk_twilio.twiml import (
    MAX_REPLIES,
    TWIML_CONTENT_TYPE,
    Reply,
    TwiML,
    TwiMLResponse,
)

DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
NASTY = "<&>\"' <Response/> ]]> &amp; &#65;"


def parse(response: TwiMLResponse) -> ET.Element:
    return ET.fromstring(response.encode())


def test_empty_is_the_dotnet_seed_document() -> None:
    assert TwiML.EMPTY.body == '<?xml version="1.0" encoding="UTF-8"?><Response />'
    assert TwiML.empty() is TwiML.EMPTY
    assert str(TwiML.EMPTY) == TwiML.EMPTY.body
    assert TwiML.EMPTY.encode() == TwiML.EMPTY.body.encode()
    assert (TwiML.EMPTY.content_type, TwiML.EMPTY.status_code) == ("text/xml", 200)
    assert TWIML_CONTENT_TYPE == "text/xml"
    root = parse(TwiML.EMPTY)
    assert root.tag == "Response" and len(root) == 0 and not root.text


def test_response_is_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        TwiML.EMPTY.body = "x"  # type: ignore[misc]
    custom = TwiMLResponse("<Response/>", status_code=201)
    assert (custom.content_type, custom.status_code) == ("text/xml", 201)


def test_text_message() -> None:
    response = TwiML.message("Thanks, got it!")
    assert response.body == (
        DECLARATION + "<Response><Message>Thanks, got it!</Message></Response>"
    )
    assert response.content_type == "text/xml"
    message = parse(response).find("Message")
    assert message is not None and message.text == "Thanks, got it!"
    assert message.attrib == {}


def test_message_with_media_and_attributes() -> None:
    response = TwiML.message(
        "Here you go",
        media=["https://example.com/a.jpg", "https://example.com/b.png?x=1&y=2"],
        to="+15005550006",
        from_="+15005550001",
        action="https://example.com/status?id=1&kind=reply",
    )
    root = parse(response)
    assert root.tag == "Response"
    (message,) = list(root)
    assert message.tag == "Message"
    assert message.attrib == {
        "to": "+15005550006",
        "from": "+15005550001",
        "action": "https://example.com/status?id=1&kind=reply",
    }
    assert [child.tag for child in message] == ["Body", "Media", "Media"]
    assert message.findtext("Body") == "Here you go"
    assert [m.text for m in message.findall("Media")] == [
        "https://example.com/a.jpg",
        "https://example.com/b.png?x=1&y=2",
    ]


def test_media_only_message() -> None:
    message = parse(TwiML.message(media=["https://example.com/cat.gif"])).find("Message")
    assert message is not None
    assert [child.tag for child in message] == ["Media"]


def test_escaping_in_body_and_attributes() -> None:
    response = TwiML.message(NASTY, to=NASTY, from_=NASTY, action=NASTY)
    assert "<Response/>" not in response.body.split("<Response>", 1)[1]
    message = parse(response).find("Message")
    assert message is not None
    assert message.text == NASTY
    assert message.attrib == {"to": NASTY, "from": NASTY, "action": NASTY}
    media = parse(TwiML.message(NASTY, media=[NASTY])).find("Message/Media")
    assert media is not None and media.text == NASTY


def test_whitespace_survives_xml_normalisation() -> None:
    body = "line 1\r\nline 2\nline 3\r\ttabbed  "
    message = parse(TwiML.message(body, action=body)).find("Message")
    assert message is not None
    assert message.text == body
    assert message.attrib["action"] == body


def test_unicode_round_trip() -> None:
    body = "Grüße 😀 ж 中文 € \u0085\u2028"
    response = TwiML.message(body)
    assert parse(response).findtext("Message") == body
    assert response.encode().decode("utf-8") == response.body


@pytest.mark.parametrize(
    "bad", ["\x00", "a\x08b", "\x0b", "\x0c", "\x1f", "\ud800", "\ufffe", "\uffff"]
)
def test_invalid_xml_characters_raise(bad: str) -> None:
    with pytest.raises(ValueError, match=r"XML 1\.0"):
        TwiML.message(bad)
    with pytest.raises(ValueError, match=r"XML 1\.0"):
        TwiML.message("ok", to=bad)
    with pytest.raises(ValueError, match=r"XML 1\.0"):
        TwiML.message("ok", media=["https://example.com/" + bad])


def test_allowed_control_characters() -> None:
    for ok in ["\t", "\n", "\r", "\x7f", "\x85", "\ue000", "\U0010ffff"]:
        assert parse(TwiML.message("a" + ok + "b")).findtext("Message") == "a" + ok + "b"


def test_several_replies() -> None:
    response = TwiML.messages(
        [
            Reply("first"),
            Reply("second", to="+15005550006"),
            Reply(media=("https://example.com/x.jpg",)),
        ]
    )
    root = parse(response)
    messages = root.findall("Message")
    assert [m.text for m in messages[:2]] == ["first", "second"]
    assert messages[1].get("to") == "+15005550006"
    assert messages[2].findtext("Media") == "https://example.com/x.jpg"


def test_messages_accepts_any_iterable_and_none_is_empty() -> None:
    assert TwiML.messages(Reply(str(i)) for i in range(2)).body.count("<Message>") == 2
    assert TwiML.messages([]) is TwiML.EMPTY
    assert TwiML.messages(iter(())) is TwiML.EMPTY


def test_reply_limit() -> None:
    assert len(parse(TwiML.messages([Reply("x")] * MAX_REPLIES))) == MAX_REPLIES
    with pytest.raises(ValueError, match="14109"):
        TwiML.messages([Reply("x")] * (MAX_REPLIES + 1))


def test_reply_needs_content() -> None:
    with pytest.raises(ValueError):
        TwiML.message()
    with pytest.raises(ValueError):
        TwiML.message("")
    with pytest.raises(ValueError):
        TwiML.messages([Reply(to="+15005550006")])


def test_programming_errors() -> None:
    with pytest.raises(TypeError):
        TwiML.message(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Reply("x", media="https://example.com/a.jpg")
    with pytest.raises(TypeError):
        TwiML.messages(["not a reply"])  # type: ignore[list-item]


def test_reply_is_frozen_and_hashable() -> None:
    reply = Reply("x", media=["https://example.com/a.jpg"])
    assert reply.media == ("https://example.com/a.jpg",)
    assert hash(reply) == hash(Reply("x", media=("https://example.com/a.jpg",)))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        reply.body = "y"  # type: ignore[misc]


_xml_text = st.text(
    st.characters(codec="utf-8").filter(
        lambda c: c in "\t\n\r" or (c >= " " and c not in "\ufffe\uffff")
    ),
    min_size=1,
)


@settings(max_examples=200, deadline=None)
@given(_xml_text, st.lists(_xml_text, max_size=3), st.none() | _xml_text)
def test_round_trip_property(body: str, media: list[str], to: str | None) -> None:
    message = parse(TwiML.message(body, media=media, to=to)).find("Message")
    assert message is not None
    if media:
        assert message.findtext("Body") == body
        assert [m.text for m in message.findall("Media")] == media
    else:
        assert message.text == body
    assert message.get("to") == to
