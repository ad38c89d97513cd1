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
from ._settings import ConnectionSettings, Dsn, SettingsParseError, normalize_parameter_name
from ._source import InvalidSourceData, MessageSource
from ._webhooks import WebhookKind, WebhookReply
from .hookspecs import hookimpl, hookspec

__version__ = "0.1.0"

# name -> module for names loaded on first access (PEP 562)
_LAZY: dict[str, str] = {
    "ChannelCapability": "._schema",
    "ChannelSchema": "._schema",
    "ChannelParameter": "._schema",
    "ChannelEndpoint": "._schema",
    "MessagePropertySchema": "._schema",
    "MessagePropertyConstraint": "._schema",
    "AuthenticationConfiguration": "._schema",
    "AuthenticationField": "._schema",
    "AuthenticationFieldRole": "._schema",
    "AuthenticationScheme": "._schema",
    "ParameterType": "._schema",
    "COMMON_PARAMETERS": "._schema",
    "HttpRequest": "._http",
    "HttpResponse": "._http",
    "TransportError": "._http",
    "Flow": "._http",
    "AsyncTransport": "._http",
    "SyncTransport": "._http",
    "HttpxAsyncTransport": "._http",
    "HttpxSyncTransport": "._http",
    "AiohttpTransport": "._aiohttp",
    "AsyncioTransport": "._asynchttp",
    "StdlibSyncTransport": "._synchttp",
    "Connector": ".connector",
    "ConnectorState": ".connector",
    "BlockingConnector": ".connector",
    "operation": ".connector",
    "Operation": ".connector",
    "Sleep": ".connector",
    "DeduplicationStore": "._dedup",
    "InMemoryDeduplicationStore": "._dedup",
    "connect": "._connect",
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
    from ._aiohttp import (
        AiohttpTransport as AiohttpTransport,
    )
    from ._asynchttp import (
        AsyncioTransport as AsyncioTransport,
    )
    from ._connect import (
        connect as connect,
    )
    from ._dedup import (
        DeduplicationStore as DeduplicationStore,
    )
    from ._dedup import (
        InMemoryDeduplicationStore as InMemoryDeduplicationStore,
    )
    from ._http import (
        AsyncTransport as AsyncTransport,
    )
    from ._http import (
        Flow as Flow,
    )
    from ._http import (
        HttpRequest as HttpRequest,
    )
    from ._http import (
        HttpResponse as HttpResponse,
    )
    from ._http import (
        HttpxAsyncTransport as HttpxAsyncTransport,
    )
    from ._http import (
        HttpxSyncTransport as HttpxSyncTransport,
    )
    from ._http import (
        SyncTransport as SyncTransport,
    )
    from ._http import (
        TransportError as TransportError,
    )
    from ._schema import (
        COMMON_PARAMETERS as COMMON_PARAMETERS,
    )
    from ._schema import (
        AuthenticationConfiguration as AuthenticationConfiguration,
    )
    from ._schema import (
        AuthenticationField as AuthenticationField,
    )
    from ._schema import (
        AuthenticationFieldRole as AuthenticationFieldRole,
    )
    from ._schema import (
        AuthenticationScheme as AuthenticationScheme,
    )
    from ._schema import (
        ChannelCapability as ChannelCapability,
    )
    from ._schema import (
        ChannelEndpoint as ChannelEndpoint,
    )
    from ._schema import (
        ChannelParameter as ChannelParameter,
    )
    from ._schema import (
        ChannelSchema as ChannelSchema,
    )
    from ._schema import (
        MessagePropertyConstraint as MessagePropertyConstraint,
    )
    from ._schema import (
        MessagePropertySchema as MessagePropertySchema,
    )
    from ._schema import (
        ParameterType as ParameterType,
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
    from ._synchttp import (
        StdlibSyncTransport as StdlibSyncTransport,
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
    "ReceiveResult",
    "Result",
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
    *_LAZY,
]
