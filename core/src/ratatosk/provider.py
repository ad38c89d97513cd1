"""The public API for provider authors: everything a provider plugin needs, in one namespace.

A provider (Twilio's, or a third party's in another repository) imports from here and from
:mod:`ratatosk`, never from an underscored module, and overrides or calls no underscored method of
:class:`Connector` (a meta-test holds the project's own providers to this). See
``docs/connectors.md``.

- The connector base and its hooks: :class:`Connector` (``setup``, ``send_message_flow``,
  ``get_message_status_flow``, ``test_connection_flow``, ``parse_messages``,
  ``parse_message_status``, ``teardown``, ``classify_webhook``, ``webhook_reply``), its helpers
  (``run_flow``, ``check_ready``, ``validation_failed``, ``unexpected``, ``scrub``, ``observe``),
  :class:`operation` to declare an extra operation once (async and blocking), effects
  (:class:`Sleep`) and :func:`immediately`.
- HTTP values for flows: :class:`HttpRequest`, :class:`HttpResponse`, :class:`TransportError`,
  :func:`parse_retry_after`.
- Errors: :class:`ErrorInfo` (its domain follows from the code), :class:`ValidationIssue`, the
  code sets and their base :class:`ErrorCode` (a provider's own codes derive from it).
- Headers: :class:`Headers`, the one header type of requests, responses and webhook sources.
- Schemas: :class:`ChannelSchema` and its parts, :data:`COMMON_PARAMETERS`.
- Webhooks: :class:`MessageSource`, :class:`WebhookKind`, :class:`WebhookReply`, the
  de-duplication store protocol and its in-memory default.
- Plugins: :data:`hookimpl`.
"""

from ._dedup import DeduplicationStore, InMemoryDeduplicationStore
from ._errors import (
    ConnectorErrorCodes,
    ErrorCode,
    ErrorInfo,
    MessagingErrorCodes,
    ValidationIssue,
)
from ._headers import Headers
from ._source import InvalidSourceData, MessageSource
from ._webhooks import WebhookKind, WebhookReply
from .connector import (
    CAPABILITY_METHODS,
    Connector,
    ConnectorState,
    Operation,
    Sleep,
    immediately,
    operation,
)
from .hookspecs import hookimpl
from .schema import (
    COMMON_PARAMETERS,
    AuthenticationConfiguration,
    AuthenticationField,
    AuthenticationFieldRole,
    AuthenticationScheme,
    ChannelCapability,
    ChannelEndpoint,
    ChannelParameter,
    ChannelSchema,
    MessagePropertyConstraint,
    MessagePropertySchema,
    ParameterType,
)
from .transports import Flow, HttpRequest, HttpResponse, TransportError, parse_retry_after

__all__ = [
    "CAPABILITY_METHODS",
    "COMMON_PARAMETERS",
    "AuthenticationConfiguration",
    "AuthenticationField",
    "AuthenticationFieldRole",
    "AuthenticationScheme",
    "ChannelCapability",
    "ChannelEndpoint",
    "ChannelParameter",
    "ChannelSchema",
    "Connector",
    "ConnectorErrorCodes",
    "ConnectorState",
    "DeduplicationStore",
    "ErrorCode",
    "ErrorInfo",
    "Flow",
    "Headers",
    "HttpRequest",
    "HttpResponse",
    "InMemoryDeduplicationStore",
    "InvalidSourceData",
    "MessagePropertyConstraint",
    "MessagePropertySchema",
    "MessageSource",
    "MessagingErrorCodes",
    "Operation",
    "ParameterType",
    "Sleep",
    "TransportError",
    "ValidationIssue",
    "WebhookKind",
    "WebhookReply",
    "hookimpl",
    "immediately",
    "operation",
    "parse_retry_after",
]
