"""What every HTTP provider writes by hand, written once: form bodies and HTTP errors.

* :func:`form_encode`: ``urllib.parse.urlencode(pairs)`` for ``(str, str)`` pairs, faster (one
  ``str.translate`` per field), with the same result for any text.
* :func:`error_from_response`: the standard :class:`~ratatosk.ErrorInfo` for a provider's HTTP
  error answer (401, 402, 429 + ``Retry-After``, 5xx), keeping the provider's own code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any
from urllib.parse import urlencode

from .._errors import ErrorCode, ErrorInfo, MessagingErrorCodes
from ._http import HttpResponse, parse_retry_after

__all__ = ["NOT_TAKEN_STATUSES", "STANDARD_HTTP_ERRORS", "error_from_response", "form_encode"]

# For a str, quote_plus maps every byte of its UTF-8 encoding to itself (A-Z a-z 0-9 _ . - ~), to
# "+" (a space) or to "%XX" (upper-case hex); the table does the same, indexed by the byte, in one
# str.translate. A str decoded as Latin-1 has one character per byte, so it covers any text.
_FORM_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_FORM_BYTE = [chr(b) if b in _FORM_SAFE else "+" if b == 0x20 else f"%{b:02X}"
              for b in range(256)]


def form_quote(text: str) -> str:
    """``urllib.parse.quote_plus(text, safe="")`` for a str."""
    if text.isascii():
        return text if text.isalnum() else text.translate(_FORM_BYTE)
    # strict: text that is not valid Unicode (a lone surrogate) fails as in quote_plus
    return text.encode("utf-8").decode("latin-1").translate(_FORM_BYTE)


def form_encode(pairs: Sequence[tuple[str, str]]) -> str:
    """An ``application/x-www-form-urlencoded`` body: ``urllib.parse.urlencode(pairs)``, same
    result. Repeated names are kept in order; anything but ``(str, str)`` pairs goes through
    ``urlencode`` itself."""
    encoded = []
    for name, value in pairs:
        if type(name) is not str or type(value) is not str:  # bytes, numbers, str subclasses
            return urlencode(pairs)
        encoded.append(f"{form_quote(name)}={form_quote(value)}")
    return "&".join(encoded)


_M = MessagingErrorCodes

NOT_TAKEN_STATUSES: frozenset[int] = frozenset({503})
"""5xx statuses that say the server did not handle the request (RFC 9110 15.6.4: "currently
unable to handle the request", overload or maintenance), so sending it again cannot duplicate it.
500, 502 and 504 may come after the provider took the message."""

STANDARD_HTTP_ERRORS: Mapping[int, ErrorCode] = MappingProxyType({
    401: _M.INVALID_CREDENTIALS,
    402: _M.INSUFFICIENT_FUNDS,
    429: _M.RATE_LIMITED,
})
"""HTTP statuses whose meaning is the same at every provider. 403, 404 and 400/422 differ
(a forbidden sender, an unknown message, invalid parameters): a provider says what they mean
through ``statuses=``."""


def error_from_response(
    response: HttpResponse,
    *,
    provider: str,
    action: str = "sending the message",
    fallback: ErrorCode = _M.SEND_MESSAGE_FAILED,
    safe_to_repeat: bool = False,
    code: ErrorCode | None = None,
    statuses: Mapping[int, ErrorCode] | None = None,
    provider_code: str | None = None,
    explanation: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> ErrorInfo:
    """The standard error for a provider's HTTP error answer to a request.

    The code is, in this order: ``code`` (what the provider's own error code says), the status in
    ``statuses`` (the provider's meaning of a status), in :data:`STANDARD_HTTP_ERRORS` (401
    ``INVALID_CREDENTIALS``, 402 ``INSUFFICIENT_FUNDS``, 429 ``RATE_LIMITED``), else ``fallback``.

    * ``RATE_LIMITED`` is retryable, with ``retry_after`` from the ``Retry-After`` header.
    * A 5xx answer that nothing more specific explains (the code is ``fallback``) is retryable when
      the request is ``safe_to_repeat`` (a fetch, a cancel) or the status is in
      :data:`NOT_TAKEN_STATUSES` (503: the provider did not handle the request), with
      ``retry_after`` from ``Retry-After``; otherwise (a send answered 500, 502, 504) the outcome
      is unknown (the provider may have accepted it), so it is never retried and nothing goes
      out twice.

    ``provider_code`` (the provider's own error code) is kept on the error; ``details`` always
    holds ``http_status`` plus what the provider adds. The message reads
    ``"<provider> answered HTTP <status> when <action>: error <code> (<explanation>)"``.
    """
    status = response.status_code
    explained = True  # something more specific than the fallback says what went wrong
    if code is None:
        if statuses is not None and status in statuses:
            code = statuses[status]
        elif status in STANDARD_HTTP_ERRORS:
            code = STANDARD_HTTP_ERRORS[status]
        else:
            code, explained = fallback, False
    retryable = code == _M.RATE_LIMITED
    outcome_unknown = False
    if status >= 500 and not explained:
        if safe_to_repeat or status in NOT_TAKEN_STATUSES:
            retryable = True
        else:
            outcome_unknown = True
    retry_after = parse_retry_after(response.header("retry-after")) if retryable else None
    text = f"{provider} answered HTTP {status} when {action}"
    if provider_code:
        text += f": error {provider_code}"
    if explanation:
        text += f" ({explanation})"
    if outcome_unknown:
        text += "; the message may have been accepted, so it is not sent again"
    return ErrorInfo(
        code,
        text,
        provider_code=provider_code,
        retryable=retryable,
        retry_after=retry_after,
        outcome_unknown=outcome_unknown,
        details={"http_status": status, **(details or {})},
    )
