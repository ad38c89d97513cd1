"""MessageSource: an inbound webhook request as a connector needs it."""

from __future__ import annotations

import json as _json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from attrs import field, frozen

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"
TEXT_CONTENT_TYPE = "text/plain"
XML_CONTENT_TYPE = "application/xml"
BINARY_CONTENT_TYPE = "application/octet-stream"

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


class InvalidSourceData(ValueError):
    """The source's body cannot be read as its content type says (bad UTF-8, bad form, bad JSON)."""


def _headers(value: Headers | None) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((str(k), str(v)) for k, v in items)


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
    headers: tuple[tuple[str, str], ...] = field(default=(), converter=_headers)

    # -- factories ------------------------------------------------------------------------
    @classmethod
    def url_post(
        cls, body: str | bytes, *, url: str | None = None, headers: Headers | None = None
    ) -> MessageSource:
        """A form-encoded POST (``application/x-www-form-urlencoded``), as Twilio sends."""
        return cls(body, FORM_CONTENT_TYPE, "POST", url, headers)

    @classmethod
    def json(
        cls,
        body: str | bytes | Mapping[str, Any] | list[Any],
        *,
        url: str | None = None,
        headers: Headers | None = None,
    ) -> MessageSource:
        """A JSON POST; a mapping or list is serialised for you."""
        raw = body if isinstance(body, (str, bytes)) else _json.dumps(body)
        return cls(raw, JSON_CONTENT_TYPE, "POST", url, headers)

    @classmethod
    def text(
        cls, body: str | bytes, *, url: str | None = None, headers: Headers | None = None
    ) -> MessageSource:
        return cls(body, TEXT_CONTENT_TYPE, "POST", url, headers)

    @classmethod
    def binary(
        cls,
        body: bytes,
        *,
        content_type: str = BINARY_CONTENT_TYPE,
        url: str | None = None,
        headers: Headers | None = None,
    ) -> MessageSource:
        return cls(body, content_type, "POST", url, headers)

    @classmethod
    def xml(
        cls, body: str | bytes, *, url: str | None = None, headers: Headers | None = None
    ) -> MessageSource:
        return cls(body, XML_CONTENT_TYPE, "POST", url, headers)

    # -- reading --------------------------------------------------------------------------
    def header(self, name: str, default: str | None = None) -> str | None:
        """The first header of that name (case-insensitive), or ``default``."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return default

    @property
    def media_type(self) -> str:
        """The content type without its parameters, in lower case (e.g. ``text/xml``)."""
        return self.content_type.split(";", 1)[0].strip().lower()

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
            items = parse_qsl(
                text, keep_blank_values=True, strict_parsing=True, encoding="utf-8", errors="strict"
            )
        except (ValueError, UnicodeDecodeError):
            raise InvalidSourceData("the body is not a well-formed form (name=value&...)") from None
        return items

    def form(self) -> dict[str, list[str]]:
        """The form fields as ``name -> [values]`` (repeated keys keep every value)."""
        result: dict[str, list[str]] = {}
        for key, value in self.form_items():
            result.setdefault(key, []).append(value)
        return result

    def json_body(self) -> Any:
        """The body parsed as JSON; raises :class:`InvalidSourceData` when it is not JSON."""
        try:
            return _json.loads(self.text_body())
        except ValueError:
            raise InvalidSourceData("the body is not valid JSON") from None
