"""Vonage error codes and the mapping of Vonage's answers to framework errors.

* Messages API errors are HTTP statuses with an RFC 7807 problem body (``type``, ``title``,
  ``detail``, ``instance``): :func:`map_messages_error`. Vonage's own code, the last path segment
  or fragment of ``type``, is kept as ``provider_code``.
* The SMS API answers HTTP 200 with one entry per part, each with a ``status`` ("0" is success):
  :func:`map_sms_status` maps a non-zero status.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from ratatosk import (
    ErrorCode,
    ErrorInfo,
    HttpResponse,
    MessagingErrorCodes,
)
from ratatosk.provider import error_from_response

__all__ = [
    "SMS_STATUS_MAP",
    "VONAGE_DOMAIN",
    "map_messages_error",
    "map_sms_status",
    "problem_code",
]

VONAGE_DOMAIN = "Vonage"


_M = MessagingErrorCodes


def _problem(response: HttpResponse) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def problem_code(type_url: Any) -> str | None:
    """Vonage's code in an RFC 7807 ``type``: the URL's fragment, else its last path segment
    (``https://developer.vonage.com/api-errors/messages#1120`` -> ``1120``)."""
    if not isinstance(type_url, str) or not type_url.strip():
        return None
    try:
        parts = urlsplit(type_url.strip())
    except ValueError:
        return None
    if parts.fragment:
        return parts.fragment
    segment = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return segment or None


_STATUS_CODES: Mapping[int, ErrorCode] = MappingProxyType({
    400: _M.INVALID_MESSAGE,
    422: _M.INVALID_MESSAGE,
})
"""Messages API HTTP statuses Vonage gives a meaning of its own; 401, 402 and 429 are the core's
standard ones (``ratatosk.provider.STANDARD_HTTP_ERRORS``), others SEND_MESSAGE_FAILED."""


def map_messages_error(response: HttpResponse) -> ErrorInfo:
    """The framework error for a Messages API error answer to a send.

    401 -> ``INVALID_CREDENTIALS``; 402 -> ``INSUFFICIENT_FUNDS``; 400 and 422
    -> ``INVALID_MESSAGE``; 429 -> ``RATE_LIMITED``, retryable, with ``retry_after`` from
    ``Retry-After``; any other status ``SEND_MESSAGE_FAILED``. A 5xx answer may mean the message
    was accepted: ``outcome_unknown``, never retried, so nothing goes out twice. Built on the
    core's :func:`ratatosk.provider.error_from_response`.
    """
    body = _problem(response)
    code_text = problem_code(body.get("type"))
    title = body.get("title") if isinstance(body.get("title"), str) else None
    detail = body.get("detail") if isinstance(body.get("detail"), str) else None
    details: dict[str, Any] = {}
    for key in ("type", "title", "detail", "instance"):
        if isinstance(body.get(key), str):
            details[key] = body[key]
    if isinstance(body.get("invalid_parameters"), list):
        details["invalid_parameters"] = body["invalid_parameters"]

    return error_from_response(
        response, provider="Vonage", statuses=_STATUS_CODES, provider_code=code_text,
        explanation="; ".join(t for t in (title, detail) if t) or None, details=details)


SMS_STATUS_MAP: Mapping[str, ErrorCode] = MappingProxyType({
    "1": _M.RATE_LIMITED,  # throttled
    "2": _M.INVALID_MESSAGE,  # missing parameters
    "3": _M.INVALID_MESSAGE,  # invalid parameters
    "4": _M.INVALID_CREDENTIALS,  # invalid credentials
    "5": _M.SEND_MESSAGE_FAILED,  # internal error
    "6": _M.INVALID_MESSAGE,  # invalid message (unroutable)
    "7": _M.RECIPIENT_OPTED_OUT,  # number barred: on the opt-out (STOP) list
    "8": _M.ACCOUNT_SUSPENDED,  # partner account barred
    "9": _M.INSUFFICIENT_FUNDS,  # partner quota violation (balance)
    "12": _M.MESSAGE_TOO_LARGE,  # message too long
    "14": _M.INVALID_CREDENTIALS,  # invalid signature
    "15": _M.INVALID_SENDER,  # invalid sender address
    "29": _M.INVALID_RECIPIENT,  # non-whitelisted destination
    "32": _M.INVALID_CREDENTIALS,  # signature and API secret disallowed
    "33": _M.INVALID_RECIPIENT,  # number de-activated
})
"""SMS API part status -> framework code; other non-zero statuses are SEND_MESSAGE_FAILED."""


def map_sms_status(status: str, error_text: str | None, *, retryable: bool,
                   details: dict[str, Any]) -> ErrorInfo:
    """The framework error for an SMS API part status other than "0".

    ``retryable`` is the caller's verdict (status 1, throttled, is worth retrying only when no
    part of the message went out); the SMS API's status stays as ``provider_code``.
    """
    code = SMS_STATUS_MAP.get(status, _M.SEND_MESSAGE_FAILED)
    text = f"Vonage refused the SMS: status {status}"
    if error_text:
        text += f" ({error_text})"
    return ErrorInfo(code, text, provider_code=status, retryable=retryable, details=details)
