"""MessageSource: an inbound webhook request as a connector needs it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_to_bytes

from attrs import field, frozen

from ._headers import EMPTY_HEADERS, Headers, HeadersLike

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"
TEXT_CONTENT_TYPE = "text/plain"
XML_CONTENT_TYPE = "application/xml"
BINARY_CONTENT_TYPE = "application/octet-stream"



class InvalidSourceData(ValueError):
    """The source's body cannot be read as its content type says (bad UTF-8, bad form, bad JSON)."""


# Escapes that decode to one ASCII character other than "%": E.164 numbers (%2B), channel
# addresses such as whatsapp%3A%2B1555..., media URLs (%3A%2F%2F).
_COMMON_ESCAPES = (("%2B", "+"), ("%3A", ":"), ("%2F", "/"))


def _replace_common_escapes(text: str) -> str | None:
    """``text`` percent-decoded when its only escapes are :data:`_COMMON_ESCAPES`, else None.

    Exactly ``unquote``'s result then: each escape starts at a ``%``, a replacement is never
    ``%`` or a hex digit (so it cannot form or hide another escape), and when no ``%`` is left,
    every ``%`` of ``text`` began one of these escapes.
    """
    for escape, char in _COMMON_ESCAPES:
        text = text.replace(escape, char)
        if "%" not in text:
            return text
    return None


def _unquote_ascii(text: str) -> str:
    # For an ASCII string this is exactly unquote(text, "utf-8", "strict"): unquote decodes each
    # ASCII run with unquote_to_bytes, and here the whole string is one run.
    quick = _replace_common_escapes(text)
    return quick if quick is not None else unquote_to_bytes(text).decode("utf-8")


def _unquote_strict(text: str) -> str:
    quick = _replace_common_escapes(text)
    return quick if quick is not None else unquote(text, "utf-8", "strict")


def _parse_form(text: str) -> list[tuple[str, str]]:
    """``parse_qsl(text, keep_blank_values=True, strict_parsing=True, errors="strict")``, faster.

    Same results and the same errors (``ValueError`` for a field without ``=``, including an
    empty one; ``UnicodeDecodeError`` for percent-escapes that are not UTF-8): ``+`` becomes a
    space before percent-decoding, as there, and only names and values that contain ``%`` are
    percent-decoded (``unquote`` returns the others unchanged). ``+`` is neither ``&`` nor ``=``,
    so replacing it before splitting changes no field boundary.
    """
    if not text:
        return []
    if "+" in text:
        text = text.replace("+", " ")
    decode = None
    if "%" in text:
        decode = _unquote_ascii if text.isascii() else _unquote_strict
    items: list[tuple[str, str]] = []
    append = items.append
    for name_value in text.split("&"):
        name, eq, value = name_value.partition("=")
        if not eq:
            raise ValueError(f"bad query field: {name_value!r}")
        if decode is not None and "%" in name_value:
            if "%" in name:
                name = decode(name)
            if "%" in value:
                value = decode(value)
        append((name, value))
    return items


def _body(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


@frozen
class MessageSource:
    """An inbound webhook: method, URL as the provider called it, headers, raw body, content type.

    Unlike the .NET original it carries the URL and headers, so a connector can check the
    provider's signature itself.
    """

    body: bytes = field(converter=_body)
    content_type: str = FORM_CONTENT_TYPE
    method: str = "POST"
    url: str | None = None
    headers: Headers = field(default=EMPTY_HEADERS, converter=Headers)

    # -- factories ------------------------------------------------------------------------
    @classmethod
    def url_post(
        cls, body: str | bytes, *, url: str | None = None, headers: HeadersLike | None = None
    ) -> MessageSource:
        """A form-encoded POST (``application/x-www-form-urlencoded``), as most SMS webhooks are."""
        return cls(body, FORM_CONTENT_TYPE, "POST", url, headers)

    @classmethod
    def json(
        cls,
        body: str | bytes | Mapping[str, Any] | list[Any],
        *,
        url: str | None = None,
        headers: HeadersLike | None = None,
    ) -> MessageSource:
        """A JSON POST; a mapping or list is serialised for you."""
        if isinstance(body, (str, bytes)):
            raw = body
        else:
            import json  # here, not at the top: `import ratatosk` stays cheap

            raw = json.dumps(body)
        return cls(raw, JSON_CONTENT_TYPE, "POST", url, headers)

    @classmethod
    def text(
        cls, body: str | bytes, *, url: str | None = None, headers: HeadersLike | None = None
    ) -> MessageSource:
        return cls(body, TEXT_CONTENT_TYPE, "POST", url, headers)

    @classmethod
    def binary(
        cls,
        body: bytes,
        *,
        content_type: str = BINARY_CONTENT_TYPE,
        url: str | None = None,
        headers: HeadersLike | None = None,
    ) -> MessageSource:
        return cls(body, content_type, "POST", url, headers)

    @classmethod
    def xml(
        cls, body: str | bytes, *, url: str | None = None, headers: HeadersLike | None = None
    ) -> MessageSource:
        return cls(body, XML_CONTENT_TYPE, "POST", url, headers)

    # -- reading --------------------------------------------------------------------------
    def header(self, name: str, default: str | None = None) -> str | None:
        """The first header of that name (case-insensitive), or ``default``."""
        return self.headers.get(name, default)

    @property
    def media_type(self) -> str:
        """The content type without its parameters, in lower case (e.g. ``text/xml``)."""
        content_type = self.content_type
        if content_type == FORM_CONTENT_TYPE:  # the most common webhook type: already the answer
            return content_type
        return content_type.split(";", 1)[0].strip().lower()

    def text_body(self) -> str:
        """The body decoded as UTF-8; raises :class:`InvalidSourceData` if it is not UTF-8."""
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidSourceData(f"the body is not valid UTF-8 (byte {exc.start})") from None

    def form_items(self) -> list[tuple[str, str]]:
        """The form fields in order, repeated keys kept, ``+`` decoded as a space.

        Raises :class:`InvalidSourceData` for a body that is not UTF-8 or not a form.
        """
        text = self.text_body()
        if not text:
            return []
        try:
            items = _parse_form(text)
        except (ValueError, UnicodeDecodeError):
            raise InvalidSourceData("the body is not a well-formed form (name=value&...)") from None
        return items

    def form(self) -> dict[str, list[str]]:
        """The form fields as ``name -> [values]`` (repeated keys keep every value)."""
        result: dict[str, list[str]] = {}
        for key, value in self.form_items():
            result.setdefault(key, []).append(value)
        return result

    def query_items(self) -> list[tuple[str, str]]:
        """The fields of the URL's query string in order, repeated keys kept, ``+`` as a space
        (how a GET webhook carries its fields). Fields without ``=`` count as empty values;
        percent-escapes that are not UTF-8 raise :class:`InvalidSourceData`."""
        query = (self.url or "").partition("?")[2].partition("#")[0]
        if not query:
            return []
        try:
            return parse_qsl(query, keep_blank_values=True, errors="strict")
        except ValueError:  # UnicodeDecodeError
            raise InvalidSourceData("the query string is not valid UTF-8") from None

    def field_items(self) -> list[tuple[str, Any]]:
        """A webhook's fields in one call, however they came: a GET's query string, a form body,
        or a JSON object's top-level members (values as JSON gives them).

        Raises :class:`InvalidSourceData` for a body that cannot be read, a JSON body that is not
        an object, and any other content type.
        """
        if self.method.upper() == "GET":
            return self.query_items()
        media_type = self.media_type
        if media_type == FORM_CONTENT_TYPE:
            return self.form_items()
        if media_type == JSON_CONTENT_TYPE or media_type.endswith("+json"):
            data = self.json_body()
            if not isinstance(data, dict):
                raise InvalidSourceData("the JSON body is not an object")
            return list(data.items())
        raise InvalidSourceData(
            f"expected a query string, a form or a JSON object, not {media_type or 'untyped'}")

    def json_body(self) -> Any:
        """The body parsed as JSON; raises :class:`InvalidSourceData` when it is not JSON."""
        import json

        try:
            return json.loads(self.text_body())
        except ValueError:
            raise InvalidSourceData("the body is not valid JSON") from None
