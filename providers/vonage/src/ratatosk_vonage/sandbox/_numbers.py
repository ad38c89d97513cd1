"""The sandbox's magic numbers: designated ``to`` numbers (E.164 digits, no ``+``) that decide
how a send is answered and how the message's status moves on.

Vonage documents no test numbers, so these are the sandbox's own, all in the ``1555000xxxx``
range (``555`` numbers are fictional). Every table here is listed in docs/vonage-sandbox.md (a test
compares the page with these values) and in the banner of ``ratatosk vonage sandbox``.
"""

from __future__ import annotations

from types import MappingProxyType

from attrs import frozen

__all__ = [
    "DELIVERED_TO",
    "DUPLICATE_TO",
    "ERRORS",
    "MAGIC_ERRORS",
    "OUT_OF_ORDER_TO",
    "PROGRESSIONS_BY_TO",
    "READ_TO",
    "REJECTED_TO",
    "STOP_TO",
    "UNDELIVERABLE_TO",
    "SandboxError",
]


@frozen
class SandboxError:
    """How one kind of provider error is answered by each API.

    Messages API: HTTP ``http_status`` with an RFC 7807 problem body whose ``type`` ends in
    ``#code``. SMS API: HTTP 200 with one entry whose ``status`` is ``sms_status``.
    """

    kind: str
    http_status: int
    code: str
    title: str
    detail: str
    sms_status: str
    sms_error_text: str


_DOCS = "https://developer.vonage.com/api-errors"

ERRORS = MappingProxyType({
    error.kind: error
    for error in (
        SandboxError("invalid_number", 422, "1150", "Invalid params",
                     "The value of the `to` parameter is not a valid phone number.",
                     "3", "Invalid to number"),
        SandboxError("barred", 403, "1240", "Forbidden",
                     "The destination number is barred.", "7", "Number barred."),
        SandboxError("low_balance", 402, "1170", "Low balance",
                     "This request could not be performed due to your account balance being "
                     "low.", "9", "Partner quota violation, account balance too low."),
        SandboxError("throttled", 429, "1020", "Rate Limit Hit",
                     "Please wait, then retry your request.", "1",
                     "Throughput Rate Exceeded - please wait [ 1000 ] and retry"),
        SandboxError("server_error", 500, "1000", "Internal Error",
                     "An error has occurred in the platform whilst processing this message.",
                     "5", "Internal Error"),
        SandboxError("bad_credentials", 401, "unauthorized", "Unauthorized",
                     "You did not provide correct credentials.", "4", "Bad Credentials"),
    )
})
"""Every error the sandbox answers on demand (``sandbox.fail_next(kind)``), by kind."""

MAGIC_ERRORS = MappingProxyType({
    "15550000001": "invalid_number",
    "15550000002": "barred",
    "15550000003": "low_balance",
    "15550000004": "throttled",
    "15550000005": "server_error",
})
"""``to`` numbers refused when the message is sent, with the error of that kind."""

DELIVERED_TO = "15550000010"
"""Any number not listed here goes the same way: submitted, then delivered."""
UNDELIVERABLE_TO = "15550000011"
REJECTED_TO = "15550000012"
READ_TO = "15550000013"
DUPLICATE_TO = "15550000014"
OUT_OF_ORDER_TO = "15550000015"
STOP_TO = "15550000016"

PROGRESSIONS_BY_TO = MappingProxyType({
    DELIVERED_TO: ("submitted", "delivered"),
    UNDELIVERABLE_TO: ("submitted", "undeliverable"),
    REJECTED_TO: ("rejected",),
    READ_TO: ("submitted", "delivered", "read"),
    DUPLICATE_TO: ("submitted", "delivered"),
    OUT_OF_ORDER_TO: ("submitted", "delivered"),
    STOP_TO: ("submitted", "delivered"),
})
"""The Messages API statuses each designated number goes through (SMS API delivery receipts:
``submitted`` -> ``accepted``, ``undeliverable`` -> ``failed``; ``read`` is WhatsApp only)."""

ERROR_URL = _DOCS + "/messages#{code}"
