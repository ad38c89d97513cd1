"""Ratatosk: a pluggable, provider-neutral messaging framework (SMS, MMS, WhatsApp, ...).

Send a message in five lines::

    import ratatosk
    connector = ratatosk.connect("twilio://ACxxx:token@default").blocking()
    message = ratatosk.Message.text("Hello", to="+15550002222", sender="+15550001111")
    result = connector.send_message(message)
    print(result.is_success, result.data)

Public names are re-exported here. Heavier modules (the connector base, plugins, httpx) load on
first use, so ``import ratatosk`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._errors import (
    ConnectorErrorCodes,
    ErrorCode,
    ErrorInfo,
    MessagingError,
    MessagingErrorCodes,
    ValidationIssue,
)
from ._headers import Headers
from ._models import (
    BinaryContent,
    ButtonContent,
    Content,
    Endpoint,
    EndpointType,
    HtmlContent,
    JsonContent,
    LocationContent,
    MediaContent,
    MediaType,
    Message,
    MessageBuilder,
    MessageContentType,
    MessageProperties,
    MultipartContent,
    TemplateContent,
    TextContent,
    media_from_url,
)
from ._results import (
    BatchSendResult,
    ConnectorHealth,
    Err,
    MessageStatus,
    Ok,
    ReceiveResult,
    Result,
    SendResult,
    StatusInfo,
    StatusUpdate,
)
from ._settings import (
    ConnectionSettings,
    Dsn,
    Parameters,
    SafeUrl,
    Secret,
    SettingsParseError,
    normalize_parameter_name,
)
from ._source import InvalidSourceData, MessageSource
from ._values import (
    InvalidValue,
    parse_bool,
    parse_datetime,
    parse_decimal,
    parse_duration,
    parse_flag,
    parse_float,
    parse_int,
    parse_number,
    parse_url,
)
from ._webhooks import WebhookKind, WebhookReply
from .hookspecs import hookimpl, hookspec

__version__ = "0.1.0"

# name -> module for names loaded on first access (PEP 562)
_LAZY: dict[str, str] = {
    "ChannelCapability": ".schema",
    "ChannelSchema": ".schema",
    "ChannelParameter": ".schema",
    "ChannelEndpoint": ".schema",
    "MessagePropertySchema": ".schema",
    "MessagePropertyConstraint": ".schema",
    "AuthenticationConfiguration": ".schema",
    "AuthenticationField": ".schema",
    "AuthenticationFieldRole": ".schema",
    "AuthenticationScheme": ".schema",
    "ParameterType": ".schema",
    "COMMON_PARAMETERS": ".schema",
    "HttpRequest": ".transports",
    "HttpResponse": ".transports",
    "TransportError": ".transports",
    "Flow": ".transports",
    "AsyncTransport": ".transports",
    "SyncTransport": ".transports",
    "HttpxAsyncTransport": ".transports",
    "HttpxSyncTransport": ".transports",
    "AiohttpTransport": ".transports._aiohttp",
    "AsyncioTransport": ".transports._asyncio",
    "StdlibSyncTransport": ".transports._stdlib",
    "Connector": ".connector",
    "ConnectorState": ".connector",
    "BlockingConnector": ".connector",
    "operation": ".connector",
    "Operation": ".connector",
    "Sleep": ".connector",
    "split_sms": "._sms",
    "SmsSplit": "._sms",
    "SegmentSizes": "._sms",
    "is_gsm7": "._sms",
    "DeduplicationStore": "._dedup",
    "InMemoryDeduplicationStore": "._dedup",
    "RedisDeduplicationStore": "._dedup",
    "connect": "._connect",
    "Applied": "._status",
    "InMemoryStatusStore": "._status",
    "LedgerStatusStore": "._status",
    "ReconcileReport": "._status",
    "SqliteStatusStore": "._status",
    "StatusStore": "._status",
    "StatusTracker": "._status",
    "TrackedMessage": "._status",
    "fold_parts": "._status",
    "supersedes": "._status",
    "FailoverConnector": ".routing",
    "RoundRobinConnector": ".routing",
    "RoutingConnector": ".routing",
    "is_provider_failure": ".routing",
    "ALL_SENDERS": "._optout",
    "HELP_KEYWORDS": "._optout",
    "OPT_IN_KEYWORDS": "._optout",
    "OPT_OUT_KEYWORDS": "._optout",
    "InMemorySuppressionStore": "._optout",
    "OptOutAction": "._optout",
    "OptOutEvent": "._optout",
    "RedisSuppressionStore": "._optout",
    "SqliteSuppressionStore": "._optout",
    "SuppressionStore": "._optout",
    "classify_keyword": "._optout",
    "get_plugin_manager": ".plugins",
    "list_providers": ".plugins",
    "list_failures": ".plugins",
    "register_plugin": ".plugins",
    "unregister_plugin": ".plugins",
    "get_connector_class": ".plugins",
    "unstructure": "._serialization",
    "structure": "._serialization",
    "structure_result": "._serialization",
    "converter": "._serialization",
}

if TYPE_CHECKING:
    from ._connect import (
        connect as connect,
    )
    from ._dedup import (
        DeduplicationStore as DeduplicationStore,
    )
    from ._dedup import (
        InMemoryDeduplicationStore as InMemoryDeduplicationStore,
    )
    from ._dedup import (
        RedisDeduplicationStore as RedisDeduplicationStore,
    )
    from ._optout import (
        ALL_SENDERS as ALL_SENDERS,
    )
    from ._optout import (
        HELP_KEYWORDS as HELP_KEYWORDS,
    )
    from ._optout import (
        OPT_IN_KEYWORDS as OPT_IN_KEYWORDS,
    )
    from ._optout import (
        OPT_OUT_KEYWORDS as OPT_OUT_KEYWORDS,
    )
    from ._optout import (
        InMemorySuppressionStore as InMemorySuppressionStore,
    )
    from ._optout import (
        OptOutAction as OptOutAction,
    )
    from ._optout import (
        OptOutEvent as OptOutEvent,
    )
    from ._optout import (
        RedisSuppressionStore as RedisSuppressionStore,
    )
    from ._optout import (
        SqliteSuppressionStore as SqliteSuppressionStore,
    )
    from ._optout import (
        SuppressionStore as SuppressionStore,
    )
    from ._optout import (
        classify_keyword as classify_keyword,
    )
    from ._serialization import (
        converter as converter,
    )
    from ._serialization import (
        structure as structure,
    )
    from ._serialization import (
        structure_result as structure_result,
    )
    from ._serialization import (
        unstructure as unstructure,
    )
    from ._sms import (
        SegmentSizes as SegmentSizes,
    )
    from ._sms import (
        SmsSplit as SmsSplit,
    )
    from ._sms import (
        is_gsm7 as is_gsm7,
    )
    from ._sms import (
        split_sms as split_sms,
    )
    from ._status import (
        Applied as Applied,
    )
    from ._status import (
        InMemoryStatusStore as InMemoryStatusStore,
    )
    from ._status import (
        LedgerStatusStore as LedgerStatusStore,
    )
    from ._status import (
        ReconcileReport as ReconcileReport,
    )
    from ._status import (
        SqliteStatusStore as SqliteStatusStore,
    )
    from ._status import (
        StatusStore as StatusStore,
    )
    from ._status import (
        StatusTracker as StatusTracker,
    )
    from ._status import (
        TrackedMessage as TrackedMessage,
    )
    from ._status import (
        fold_parts as fold_parts,
    )
    from ._status import (
        supersedes as supersedes,
    )
    from .connector import (
        BlockingConnector as BlockingConnector,
    )
    from .connector import (
        Connector as Connector,
    )
    from .connector import (
        ConnectorState as ConnectorState,
    )
    from .connector import (
        Operation as Operation,
    )
    from .connector import (
        Sleep as Sleep,
    )
    from .connector import (
        operation as operation,
    )
    from .plugins import (
        get_connector_class as get_connector_class,
    )
    from .plugins import (
        get_plugin_manager as get_plugin_manager,
    )
    from .plugins import (
        list_failures as list_failures,
    )
    from .plugins import (
        list_providers as list_providers,
    )
    from .plugins import (
        register_plugin as register_plugin,
    )
    from .plugins import (
        unregister_plugin as unregister_plugin,
    )
    from .routing import (
        FailoverConnector as FailoverConnector,
    )
    from .routing import (
        RoundRobinConnector as RoundRobinConnector,
    )
    from .routing import (
        RoutingConnector as RoutingConnector,
    )
    from .routing import (
        is_provider_failure as is_provider_failure,
    )
    from .schema import (
        COMMON_PARAMETERS as COMMON_PARAMETERS,
    )
    from .schema import (
        AuthenticationConfiguration as AuthenticationConfiguration,
    )
    from .schema import (
        AuthenticationField as AuthenticationField,
    )
    from .schema import (
        AuthenticationFieldRole as AuthenticationFieldRole,
    )
    from .schema import (
        AuthenticationScheme as AuthenticationScheme,
    )
    from .schema import (
        ChannelCapability as ChannelCapability,
    )
    from .schema import (
        ChannelEndpoint as ChannelEndpoint,
    )
    from .schema import (
        ChannelParameter as ChannelParameter,
    )
    from .schema import (
        ChannelSchema as ChannelSchema,
    )
    from .schema import (
        MessagePropertyConstraint as MessagePropertyConstraint,
    )
    from .schema import (
        MessagePropertySchema as MessagePropertySchema,
    )
    from .schema import (
        ParameterType as ParameterType,
    )
    from .transports import (
        AsyncTransport as AsyncTransport,
    )
    from .transports import (
        Flow as Flow,
    )
    from .transports import (
        HttpRequest as HttpRequest,
    )
    from .transports import (
        HttpResponse as HttpResponse,
    )
    from .transports import (
        HttpxAsyncTransport as HttpxAsyncTransport,
    )
    from .transports import (
        HttpxSyncTransport as HttpxSyncTransport,
    )
    from .transports import (
        SyncTransport as SyncTransport,
    )
    from .transports import (
        TransportError as TransportError,
    )
    from .transports._aiohttp import (
        AiohttpTransport as AiohttpTransport,
    )
    from .transports._asyncio import (
        AsyncioTransport as AsyncioTransport,
    )
    from .transports._stdlib import (
        StdlibSyncTransport as StdlibSyncTransport,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ratatosk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "BatchSendResult",
    "BinaryContent",
    "ButtonContent",
    "ConnectionSettings",
    "ConnectorErrorCodes",
    "ConnectorHealth",
    "Content",
    "Dsn",
    "Endpoint",
    "EndpointType",
    "Err",
    "ErrorCode",
    "ErrorInfo",
    "Headers",
    "HtmlContent",
    "InvalidSourceData",
    "InvalidValue",
    "JsonContent",
    "LocationContent",
    "MediaContent",
    "MediaType",
    "Message",
    "MessageBuilder",
    "MessageContentType",
    "MessageProperties",
    "MessageSource",
    "MessageStatus",
    "MessagingError",
    "MessagingErrorCodes",
    "MultipartContent",
    "Ok",
    "Parameters",
    "ReceiveResult",
    "Result",
    "SafeUrl",
    "Secret",
    "SendResult",
    "SettingsParseError",
    "StatusInfo",
    "StatusUpdate",
    "TemplateContent",
    "TextContent",
    "ValidationIssue",
    "WebhookKind",
    "WebhookReply",
    "__version__",
    "hookimpl",
    "hookspec",
    "media_from_url",
    "normalize_parameter_name",
    "parse_bool",
    "parse_datetime",
    "parse_decimal",
    "parse_duration",
    "parse_flag",
    "parse_float",
    "parse_int",
    "parse_number",
    "parse_url",
    *_LAZY,
]
