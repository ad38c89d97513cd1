"""Twilio error codes and the mapping of Twilio API errors to framework errors.

``TwilioErrorCodes`` (domain ``Twilio``) are the seed's twelve codes. Errors the Twilio REST API
returns (``{"code": 21211, "message": ..., "more_info": ..., "status": 400}``) are mapped to
framework codes by :func:`map_api_error`; the Twilio code stays on the error as ``provider_code``
and Twilio's message and ``more_info`` link in ``details``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ratatosk import (
    ConnectorErrorCodes,
    ErrorCode,
    ErrorInfo,
    HttpResponse,
    MessagingErrorCodes,
)
from ratatosk.provider import error_from_response

__all__ = [
    "API_ERROR_MAP",
    "TWILIO_DOMAIN",
    "ApiCall",
    "TwilioErrorCodes",
    "map_api_error",
]

TWILIO_DOMAIN = "Twilio"


class TwilioErrorCodes(ErrorCode, domain=TWILIO_DOMAIN):
    """Twilio-specific error codes (domain ``Twilio``); each value is its own name."""

    INVALID_CONNECTION_SETTINGS = "INVALID_CONNECTION_SETTINGS"
    """Connection settings failed validation (schema checks and Twilio's own rules)."""
    MISSING_FROM_NUMBER = "MISSING_FROM_NUMBER"
    """No sender: the message has no From and no MessagingServiceSid is configured."""
    INVALID_SENDER = "INVALID_SENDER"
    """The sender is not an E.164 number (nor a ``whatsapp:+E164`` address on WhatsApp)."""
    INVALID_MESSAGE = "INVALID_MESSAGE"
    """Message properties failed validation (values, combinations Twilio rejects)."""
    MISSING_CONTENT_SID = "MISSING_CONTENT_SID"
    """A WhatsApp template message has no Content SID."""
    INVALID_WHATSAPP_NUMBER = "INVALID_WHATSAPP_NUMBER"
    """A WhatsApp address is not of the form ``whatsapp:+E164``."""
    SEND_WHATSAPP_MESSAGE_FAILED = "SEND_WHATSAPP_MESSAGE_FAILED"
    """Twilio refused a WhatsApp message for a reason with no more specific code."""
    WHATSAPP_STATUS_QUERY_FAILED = "WHATSAPP_STATUS_QUERY_FAILED"
    """A WhatsApp message's status could not be fetched."""
    STATUS_QUERY_FAILED = "STATUS_QUERY_FAILED"
    """A message's status could not be fetched."""
    STATUS_ERROR = "STATUS_ERROR"
    """The connector's status could not be retrieved: the account fetch behind
    ``test_connection``/``get_health`` failed (other than for credentials or rate limits)."""
    RECEIVE_MESSAGE_FAILED = "RECEIVE_MESSAGE_FAILED"
    """An inbound message webhook could not be processed."""
    RECEIVE_STATUS_FAILED = "RECEIVE_STATUS_FAILED"
    """A status callback webhook could not be processed."""


class ApiCall(str, enum.Enum):
    """The kind of request an API error answered; it picks the fallback code."""

    SEND = "send"
    SEND_WHATSAPP = "send_whatsapp"
    STATUS = "status"
    STATUS_WHATSAPP = "status_whatsapp"
    CANCEL = "cancel"
    ACCOUNT = "account"


_M = MessagingErrorCodes
_T = TwilioErrorCodes

API_ERROR_MAP: Mapping[int, ErrorCode] = MappingProxyType(
    {
        # the seed's table
        21211: _M.INVALID_RECIPIENT,  # Invalid 'To' Phone Number
        21610: _M.RECIPIENT_OPTED_OUT,  # unsubscribed recipient (STOP)
        21614: _M.INVALID_SENDER,  # 'To' is not a mobile number (seed: sender)
        21408: _M.INVALID_SENDER,  # region not enabled (seed: sender)
        20001: _M.INVALID_MESSAGE,  # unknown parameters
        # the additions
        20003: _M.INVALID_CREDENTIALS,  # authentication
        20429: _M.RATE_LIMITED,  # too many requests
        21617: _M.MESSAGE_TOO_LARGE,  # body over 1600 characters
        21212: _M.INVALID_SENDER,  # invalid From number
        21606: _M.INVALID_SENDER,  # From cannot message this destination
        21603: _M.MISSING_SENDER,  # From or MessagingServiceSid required
        21612: _M.INVALID_RECIPIENT,  # 'To' not reachable via SMS
        # further request errors with an obvious meaning
        21604: _M.INVALID_RECIPIENT,  # 'To' required
        21602: _M.INVALID_MESSAGE,  # body required
        21620: _M.INVALID_MESSAGE,  # invalid media URL
        21623: _M.INVALID_MESSAGE,  # too many media
        21624: _M.INVALID_MESSAGE,  # invalid validity period
        21654: _T.MISSING_CONTENT_SID,  # ContentSid required
    }
)
"""Twilio API error code -> framework code; other codes get the operation's fallback."""

_FALLBACK: Mapping[ApiCall, ErrorCode] = MappingProxyType(
    {
        ApiCall.SEND: _M.SEND_MESSAGE_FAILED,
        ApiCall.SEND_WHATSAPP: _T.SEND_WHATSAPP_MESSAGE_FAILED,
        ApiCall.STATUS: _T.STATUS_QUERY_FAILED,
        ApiCall.STATUS_WHATSAPP: _T.WHATSAPP_STATUS_QUERY_FAILED,
        ApiCall.CANCEL: _M.MESSAGING_ERROR,
        ApiCall.ACCOUNT: _T.STATUS_ERROR,
    }
)

_SENDS = frozenset({ApiCall.SEND, ApiCall.SEND_WHATSAPP})
# codes that only make sense as answers to a create; for other operations the fallback applies
_ANY_OPERATION = frozenset({20003, 20429})


def _body(response: HttpResponse) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    return None


def map_api_error(response: HttpResponse, operation: ApiCall) -> ErrorInfo:
    """The framework error for a Twilio API error response to ``operation``.

    * 401 / 20003 -> ``INVALID_CREDENTIALS`` (``AUTHENTICATION_FAILED`` for the account fetch
      behind test_connection/health); 429 / 20429 -> ``RATE_LIMITED``, retryable, with
      ``retry_after`` from the ``Retry-After`` header when present.
    * Creates: Twilio codes via :data:`API_ERROR_MAP`, else ``SEND_MESSAGE_FAILED``
      (``SEND_WHATSAPP_MESSAGE_FAILED`` on WhatsApp). A 5xx answer to a create may mean the message
      went out: ``outcome_unknown`` is set and it is not retryable, so nothing is sent twice.
    * Fetches (status, account): 5xx answers are retryable (a GET is safe to repeat).

    Built on the core's :func:`ratatosk.provider.error_from_response`; what is Twilio's is its
    error-code table and the fallback code per operation.
    """
    body = _body(response)
    twilio_code = _int(body.get("code"))
    status = response.status_code
    message = body.get("message") if isinstance(body.get("message"), str) else None
    details: dict[str, Any] = {}
    if twilio_code is not None:
        details["twilio_code"] = twilio_code
    if message:
        details["twilio_message"] = message
    if isinstance(body.get("more_info"), str):
        details["more_info"] = body["more_info"]

    code: ErrorCode | None = None
    if status == 401 or twilio_code == 20003:
        # on the account fetch behind test_connection / health the connector cannot authenticate
        code = (ConnectorErrorCodes.AUTHENTICATION_FAILED if operation is ApiCall.ACCOUNT
                else _M.INVALID_CREDENTIALS)
    elif status == 429 or twilio_code == 20429:
        code = _M.RATE_LIMITED
    elif (
        operation in _SENDS
        and twilio_code is not None
        and twilio_code in API_ERROR_MAP
        and twilio_code not in _ANY_OPERATION
    ):
        code = API_ERROR_MAP[twilio_code]

    what = {
        ApiCall.SEND: "sending the message",
        ApiCall.SEND_WHATSAPP: "sending the WhatsApp message",
        ApiCall.STATUS: "fetching the message status",
        ApiCall.STATUS_WHATSAPP: "fetching the WhatsApp message status",
        ApiCall.CANCEL: "canceling the message",
        ApiCall.ACCOUNT: "fetching the account",
    }[operation]
    return error_from_response(
        response,
        provider="Twilio",
        action=what,
        fallback=_FALLBACK[operation],
        safe_to_repeat=operation not in _SENDS,  # fetches and cancel are safe to repeat
        code=code,
        provider_code=str(twilio_code) if twilio_code is not None else None,
        explanation=message,
        details=details,
    )
