"""TwiML responses for Twilio messaging webhooks: the empty reply and ``<Message>`` replies.

A webhook that has nothing to say answers :data:`TwiML.EMPTY`; one that replies answers, e.g.,
``TwiML.message("Thanks!")``. Every response is served as ``text/xml``:

>>> str(TwiML.EMPTY)
'<?xml version="1.0" encoding="UTF-8"?><Response />'
>>> TwiML.message("Fish & chips").encode()
b'<?xml version="1.0" encoding="UTF-8"?><Response><Message>Fish &amp; chips</Message></Response>'

Text and attribute values are escaped; a carriage return is written as ``&#13;`` so that XML
line-end normalisation does not turn CRLF into LF. Characters XML 1.0 cannot carry at all (NUL and
the other C0 controls except TAB, LF and CR, lone surrogates, U+FFFE, U+FFFF) raise ValueError:
such text cannot be sent in a TwiML reply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import ClassVar
from xml.sax.saxutils import escape

from attrs import field, frozen

__all__ = ["MAX_REPLIES", "TWIML_CONTENT_TYPE", "Reply", "TwiML", "TwiMLResponse"]

TWIML_CONTENT_TYPE = "text/xml"
"""The content type TwiML is served with."""

MAX_REPLIES = 10
"""Most ``<Message>`` verbs Twilio accepts in reply to one incoming message (error 14109)."""

_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TEXT_ENTITIES = {"\r": "&#13;"}
_ATTRIBUTE_ENTITIES = {
    '"': "&quot;",
    "'": "&apos;",
    "\r": "&#13;",
    "\n": "&#10;",
    "\t": "&#9;",
}


@frozen
class TwiMLResponse:
    """A TwiML document ready to be returned from a webhook handler."""

    body: str
    content_type: str = TWIML_CONTENT_TYPE
    status_code: int = 200

    def __str__(self) -> str:
        return self.body

    def encode(self) -> bytes:
        """The document as UTF-8 bytes (the encoding its XML declaration names)."""
        return self.body.encode("utf-8")


def _media_tuple(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError("media must be a sequence of URLs, not a single str")
    return tuple(value)


@frozen
class Reply:
    """One ``<Message>`` of a TwiML reply: a body, media URLs, or both.

    ``to`` and ``from_`` override the addresses (by default Twilio replies to the sender from the
    number that received the message); ``action`` is the status callback URL of the reply.
    """

    body: str | None = None
    media: tuple[str, ...] = field(default=(), converter=_media_tuple)
    to: str | None = None
    from_: str | None = None
    action: str | None = None


def _check(value: str, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str, not {type(value).__name__}")
    bad = _INVALID_XML.search(value)
    if bad is not None:
        raise ValueError(
            f"{what} contains U+{ord(bad.group()):04X} at index {bad.start()}, "
            "which XML 1.0 (and so TwiML) cannot carry"
        )
    return value


def _text(value: str, what: str) -> str:
    return escape(_check(value, what), _TEXT_ENTITIES)


def _attribute(name: str, value: str) -> str:
    return f' {name}="{escape(_check(value, name), _ATTRIBUTE_ENTITIES)}"'


def _message(reply: Reply) -> str:
    if not isinstance(reply, Reply):
        raise TypeError(f"expected Reply, got {type(reply).__name__}")
    if not reply.body and not reply.media:
        raise ValueError("a reply needs a non-empty body or at least one media URL")
    attributes = "".join(
        _attribute(name, value)
        for name, value in (("to", reply.to), ("from", reply.from_), ("action", reply.action))
        if value is not None
    )
    if reply.body and not reply.media:
        return f"<Message{attributes}>{_text(reply.body, 'body')}</Message>"
    parts = [f"<Message{attributes}>"]
    if reply.body:
        parts.append(f"<Body>{_text(reply.body, 'body')}</Body>")
    parts.extend(f"<Media>{_text(url, 'media URL')}</Media>" for url in reply.media)
    parts.append("</Message>")
    return "".join(parts)


class TwiML:
    """Builders for the TwiML documents a messaging webhook answers with."""

    EMPTY: ClassVar[TwiMLResponse] = TwiMLResponse(_XML_DECLARATION + "<Response />")
    """The empty response: acknowledge the webhook, send nothing back."""

    @staticmethod
    def empty() -> TwiMLResponse:
        """The empty response (:data:`TwiML.EMPTY`)."""
        return TwiML.EMPTY

    @staticmethod
    def message(
        body: str | None = None,
        *,
        media: Sequence[str] = (),
        to: str | None = None,
        from_: str | None = None,
        action: str | None = None,
    ) -> TwiMLResponse:
        """A response that sends one message back (text, media or both)."""
        return TwiML.messages([Reply(body, media=media, to=to, from_=from_, action=action)])

    @staticmethod
    def messages(replies: Iterable[Reply]) -> TwiMLResponse:
        """A response that sends each of ``replies`` (at most :data:`MAX_REPLIES`); none = empty."""
        rendered = [_message(reply) for reply in replies]
        if not rendered:
            return TwiML.EMPTY
        if len(rendered) > MAX_REPLIES:
            raise ValueError(
                f"Twilio accepts at most {MAX_REPLIES} messages in one reply (error 14109), "
                f"got {len(rendered)}"
            )
        return TwiMLResponse(_XML_DECLARATION + "<Response>" + "".join(rendered) + "</Response>")
