"""A local, Twilio-compatible Messages API server for development, demos, tests and benchmarks.

    from ratatosk_twilio.sandbox import TwilioSandbox

    with TwilioSandbox() as sandbox:
        sandbox.base_url                  # "http://127.0.0.1:PORT", the API root
        sandbox.account_sid, sandbox.auth_token
        ...                               # point a client at it; inspect sandbox.messages

It serves ``/2010-04-01/Accounts/{AccountSid}.json`` and the Messages, Message and Media
resources as Twilio's OpenAPI description shapes them, with Twilio's error codes, the test
credentials' magic numbers, status progression with signed status callbacks, signed inbound
webhooks, per-sender rate queues and a concurrency cap. Choices that go beyond Twilio's own
documentation (codes picked, designated numbers) are listed in the modules ``_errors`` and
``_engine``.
"""

from ._api import MAGIC_FROM, MAGIC_TO
from ._cli import main
from ._engine import (
    DUPLICATE_CALLBACKS_TO,
    FAILED_TO,
    OUT_OF_ORDER_TO,
    POOL_NUMBER,
    READ_TO,
    STOP_REPLY_TO,
    UNDELIVERED_TO,
)
from ._models import CallbackRecord, InboundDelivery, SandboxMedia, SandboxMessage
from ._sandbox import TwilioSandbox

__all__ = [
    "DUPLICATE_CALLBACKS_TO",
    "FAILED_TO",
    "MAGIC_FROM",
    "MAGIC_TO",
    "OUT_OF_ORDER_TO",
    "POOL_NUMBER",
    "READ_TO",
    "STOP_REPLY_TO",
    "UNDELIVERED_TO",
    "CallbackRecord",
    "InboundDelivery",
    "SandboxMedia",
    "SandboxMessage",
    "TwilioSandbox",
    "main",
]
