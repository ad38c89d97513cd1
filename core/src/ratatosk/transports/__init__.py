"""HTTP for connectors: request/response values, the transport protocols, and the transports.

This package's namespace holds only the light parts (values, protocols, httpx adapters). The
default transports load on first use, each from its module: ``_asyncio`` (``AsyncioTransport``,
which imports asyncio), ``_stdlib`` (``StdlibSyncTransport``; the blocking path never imports
asyncio), ``_aiohttp`` (the optional ``AiohttpTransport``); ``_h11`` is their shared HTTP/1.1
framing over h11.
"""

from ._http import (
    AsyncTransport,
    Flow,
    HttpRequest,
    HttpResponse,
    HttpxAsyncTransport,
    HttpxSyncTransport,
    SyncTransport,
    TransportError,
    parse_retry_after,
)

__all__ = [
    "AsyncTransport",
    "Flow",
    "HttpRequest",
    "HttpResponse",
    "HttpxAsyncTransport",
    "HttpxSyncTransport",
    "SyncTransport",
    "TransportError",
    "parse_retry_after",
]
