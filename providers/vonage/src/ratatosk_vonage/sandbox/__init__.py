"""A local, Vonage-compatible server (Messages API v1 and SMS API) for development, demos, tests.

    from ratatosk_vonage.sandbox import VonageSandbox

    with VonageSandbox() as sandbox:
        sandbox.base_url                      # "http://127.0.0.1:PORT", the API root
        sandbox.api_key, sandbox.api_secret   # what it accepts (HTTP Basic / form fields)
        sandbox.signature_secret              # what its webhooks are signed with
        ...                                   # point a connector at it; inspect sandbox.messages

It answers ``POST /v1/messages`` (JSON, ``202 {"message_uuid"}``, RFC 7807 problems) and
``POST /sms/json`` (form, ``200`` with one entry per part), checks Basic, Bearer JWT (RS256, an
application from ``add_application``), form credentials and ``sig``; moves messages through
their statuses with signed status webhooks (a Bearer JWT with ``payload_hash``; delivery
receipts with ``sig``); injects signed inbound messages; refuses sends above
``messages_per_second``; and plays what real providers do on a bad day on demand (magic
numbers, ``fail_next``, duplicate and out-of-order status webhooks, STOP replies). The magic
numbers are in docs/vonage-sandbox.md and ``ratatosk_vonage.sandbox._numbers``.
"""

from ._cli import dsn_for, main
from ._models import SandboxMessage, WebhookDelivery
from ._numbers import (
    DELIVERED_TO,
    DUPLICATE_TO,
    ERRORS,
    MAGIC_ERRORS,
    OUT_OF_ORDER_TO,
    PROGRESSIONS_BY_TO,
    READ_TO,
    REJECTED_TO,
    STOP_TO,
    UNDELIVERABLE_TO,
    SandboxError,
)
from ._sandbox import VonageSandbox

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
    "SandboxMessage",
    "VonageSandbox",
    "WebhookDelivery",
    "dsn_for",
    "main",
]
