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
  :func:`parse_retry_after`, :func:`form_encode` (form bodies), :func:`error_from_response` (the
  standard error for an HTTP error answer: 401/402/429 + ``Retry-After``/5xx, the provider's own
  code kept; :data:`STANDARD_HTTP_ERRORS`).
- SMS encoding: GSM-7 / UCS-2 detection and counting (:func:`is_gsm7`, :func:`gsm7_septets`,
  :func:`ucs2_units`), segments (:func:`split_sms`, :func:`pack_segments`, :class:`SegmentSizes`).
- Errors: :class:`ErrorInfo` (its domain follows from the code), :class:`ValidationIssue`, the
  code sets and their base :class:`ErrorCode` (a provider's own codes derive from it).
- Headers: :class:`Headers`, the one header type of requests, responses and webhook sources.
- Schemas: :class:`ChannelSchema` and its parts, :data:`COMMON_PARAMETERS`.
- Webhooks: :class:`MessageSource` (``field_items()`` reads a GET query string, a form or a JSON
  object in one call; ``query_items()``), :class:`WebhookKind`, :class:`WebhookReply`, the
  de-duplication store protocol and its in-memory default.
- Plugins: :data:`hookimpl`, :func:`lazy_callable` (a command's ``configure``/``run`` or a demo
  sandbox factory imported on first use, so the plugin module stays cheap to import),
  :func:`serve_in_foreground`.
"""

from ._dedup import DeduplicationStore, InMemoryDeduplicationStore
from ._errors import (
    ConnectorErrorCodes,
    ErrorCode,
    ErrorInfo,
    MessagingErrorCodes,
    ValidationIssue,
)
from ._foreground import serve_in_foreground
from ._headers import Headers
from ._lazy import lazy_callable
from ._sms import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    GSM7_SEGMENT_SIZES,
    GSM_7,
    UCS2_SEGMENT_SIZES,
    UCS_2,
    SegmentSizes,
    SmsSplit,
    gsm7_septets,
    is_gsm7,
    pack_segments,
    split_graphemes,
    split_sms,
    ucs2_units,
)
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
from .transports._helpers import (
    NOT_TAKEN_STATUSES,
    STANDARD_HTTP_ERRORS,
    error_from_response,
    form_encode,
    form_quote,
)

__all__ = [
    "CAPABILITY_METHODS",
    "COMMON_PARAMETERS",
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "GSM7_SEGMENT_SIZES",
    "GSM_7",
    "NOT_TAKEN_STATUSES",
    "STANDARD_HTTP_ERRORS",
    "UCS2_SEGMENT_SIZES",
    "UCS_2",
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
    "SegmentSizes",
    "Sleep",
    "SmsSplit",
    "TransportError",
    "ValidationIssue",
    "WebhookKind",
    "WebhookReply",
    "error_from_response",
    "form_encode",
    "form_quote",
    "gsm7_septets",
    "hookimpl",
    "immediately",
    "is_gsm7",
    "lazy_callable",
    "operation",
    "pack_segments",
    "parse_retry_after",
    "serve_in_foreground",
    "split_graphemes",
    "split_sms",
    "ucs2_units",
]
