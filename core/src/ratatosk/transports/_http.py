"""The small HTTP layer connectors use: request/response values, transports and flows.

A provider describes each operation as a *flow*: a generator that yields :class:`HttpRequest`
values, receives :class:`HttpResponse` values and finally returns a ``Result``. The connector base
drives the same flow over an async transport or a blocking one, so validation and mapping code is
shared by ``await connector.send_message(m)`` and ``connector.blocking().send_message(m)``, and no
event loop is started per blocking call.
"""

from __future__ import annotations

import email.utils
import json as _json
import time
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from attrs import field, frozen

from .._headers import EMPTY_HEADERS, Headers
from .._results import Result

if TYPE_CHECKING:  # httpx is imported on first use, not when ratatosk is imported
    import httpx

T = TypeVar("T")

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@frozen(slots=True)
class HttpRequest:
    """An HTTP request a flow wants sent. ``idempotent`` defaults from the method.

    ``headers`` takes :class:`~ratatosk.Headers`, a mapping or ``(name, value)`` pairs (build
    them once and reuse them: the default transports cache what they prepare per method, URL
    and headers).
    """

    method: str
    url: str
    headers: Headers = field(default=EMPTY_HEADERS, converter=Headers)
    content: bytes = b""
    idempotent: bool | None = None

    @property
    def is_idempotent(self) -> bool:
        if self.idempotent is not None:
            return self.idempotent
        return self.method.upper() in _IDEMPOTENT


@frozen(slots=True)
class HttpResponse:
    """An HTTP response handed back to a flow; ``headers`` are :class:`~ratatosk.Headers`
    (case-insensitive; the default transports give names in lower case)."""

    status_code: int
    headers: Headers = field(default=EMPTY_HEADERS, converter=Headers)
    content: bytes = b""

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name`` (any case), or ``default``."""
        return self.headers.get(name, default)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` when it is not JSON)."""
        return _json.loads(self.content)

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None.

    None for a missing, unreadable, naive-dated or non-finite value; never negative. Providers
    put it in ``ErrorInfo.retry_after``; the retry policy honours it (with jitter, capped).
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN, infinity
        return None
    return max(0.0, seconds)


class TransportError(Exception):
    """A request failed below HTTP: no response came back.

    ``request_sent`` is false when the request certainly never left (connection refused, connect
    timeout, pool timeout): such a failure is safe to retry. ``timeout`` says a timeout caused it.
    """

    def __init__(self, message: str, *, request_sent: bool, timeout: bool = False) -> None:
        super().__init__(message)
        self.request_sent = request_sent
        self.timeout = timeout
        self.request: HttpRequest | None = None  # set by the driver that sent it


Flow = Generator[HttpRequest, HttpResponse, Result[T]]
"""A provider operation: yields requests, receives responses, returns a result."""


@runtime_checkable
class AsyncTransport(Protocol):
    """Sends requests for the async path."""

    async def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class SyncTransport(Protocol):
    """Sends requests for the blocking path."""

    def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse: ...

    def close(self) -> None: ...


def _map_httpx_error(exc: httpx.TransportError) -> TransportError:
    import httpx

    never_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
    is_timeout = isinstance(exc, httpx.TimeoutException)
    kind = type(exc).__name__
    return TransportError(
        f"{kind}: {exc}" if str(exc) else kind, request_sent=not never_sent, timeout=is_timeout
    )


def _to_response(response: httpx.Response) -> HttpResponse:
    return HttpResponse(
        response.status_code,
        Headers._of_pairs(tuple(response.headers.multi_items())),
        response.content,
    )


class HttpxAsyncTransport:
    """The async transport over an ``httpx.AsyncClient`` (pooled, reused across sends).

    Pass ``client=`` to use your own client, or ``transport=`` (e.g. ``httpx.MockTransport``).
    """

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
    ) -> None:
        import httpx

        self._httpx_error = httpx.TransportError
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            transport=transport,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    async def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse:
        try:
            response = await self._client.request(
                request.method,
                request.url,
                headers=list(request.headers),
                content=request.content or None,
                timeout=timeout,
            )
        except self._httpx_error as exc:
            raise _map_httpx_error(exc) from exc
        return _to_response(response)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


class HttpxSyncTransport:
    """The blocking transport over an ``httpx.Client`` (pooled, reused across sends)."""

    def __init__(
        self,
        client: httpx.Client | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        import httpx

        self._httpx_error = httpx.TransportError
        self._owns_client = client is None
        self._client = client or httpx.Client(transport=transport)

    def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse:
        try:
            response = self._client.request(
                request.method,
                request.url,
                headers=list(request.headers),
                content=request.content or None,
                timeout=timeout,
            )
        except self._httpx_error as exc:
            raise _map_httpx_error(exc) from exc
        return _to_response(response)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()
