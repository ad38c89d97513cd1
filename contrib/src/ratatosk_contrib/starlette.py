"""Webhook endpoints for Starlette and FastAPI.

Install with ``pip install ratatosk-messaging-contrib[starlette]``.

Mount a webhook of any connector in one line::

    from ratatosk_contrib.starlette import webhook

    app.add_route("/hooks/sms", webhook(connector, on_message=handle, on_status=track),
                  methods=["POST"])

(``app`` is a ``Starlette`` or a ``FastAPI`` application.) Or build a route:
``Route(...)``-style with :func:`webhook_route`. ``connector`` is the async connector;
handlers may be sync (run in Starlette's thread pool) or async. See docs/webhooks.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from ratatosk import MessageSource, WebhookReply

from ._webhook import (
    DEFAULT_READ_TIMEOUT,
    BodyTooLarge,
    MessageHandler,
    StatusHandler,
    WebhookKindOption,
    WebhookProcessor,
    check_content_length,
    read_timed_out,
    too_large,
)

__all__ = ["request_url", "webhook", "webhook_route"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def request_url(request: Request) -> str:
    """The full URL as the client requested it: scheme, Host, raw path and raw query string."""
    scope = request.scope
    scheme = str(scope.get("scheme", "http"))
    host = request.headers.get("host")
    if not host:
        server = scope.get("server")
        if server:
            name, port = server[0], server[1]
            host = name if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{name}:{port}"
        else:
            host = "localhost"
    raw_path = scope.get("raw_path")
    if isinstance(raw_path, bytes) and raw_path:
        path = raw_path.decode("latin-1")
    else:
        path = quote(str(scope.get("root_path", "")) + str(scope.get("path", "/")),
                     safe="/:@!$&'()*+,;=-._~%")
    query = scope.get("query_string", b"")
    url = f"{scheme}://{host}{path}"
    if query:
        url += "?" + (query.decode("latin-1") if isinstance(query, bytes) else str(query))
    return url


async def _read_body(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _response(answer: WebhookReply) -> Response:
    return Response(answer.body, status_code=answer.status_code, media_type=answer.content_type)


def webhook(
    connector: object,
    *,
    on_message: MessageHandler | None = None,
    on_status: StatusHandler | None = None,
    kind: WebhookKindOption = "auto",
    max_body_size: int | None = None,
    read_timeout: float | None = DEFAULT_READ_TIMEOUT,
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette/FastAPI endpoint (``request -> response``) that receives the webhooks of
    any connector.

    It reads at most ``max_body_size`` bytes (default: the connector's MaxWebhookBodySize, else
    64 KiB; larger -> 413, checked on Content-Length first), builds the MessageSource from the real
    request, lets the connector classify, validate, parse and de-duplicate it, calls
    ``on_message`` for each new message / ``on_status`` for each new status update, and answers
    ``connector.webhook_reply(kind, handler's reply)`` (by default an empty 200),
    or plain text: 403 (bad signature), 400 (malformed), 413 (too large) or 500 (the handler
    raised, or the connector failed; logged). ``kind`` fixes the kind of webhook this endpoint
    receives (``"message"`` or ``"status"``) instead of asking ``connector.classify_webhook``.
    ``read_timeout``: seconds the whole body may take to arrive (default 10; None: no limit);
    a client that trickles its body is answered 408 and cannot hold the endpoint open.
    """
    if read_timeout is not None and read_timeout <= 0:
        raise ValueError("read_timeout must be positive (or None)")
    processor = WebhookProcessor(connector, on_message, on_status, kind, max_body_size)

    async def endpoint(request: Request) -> Response:
        limit = processor.limit
        early = check_content_length(request.headers.get("content-length"), limit)
        if early is not None:
            return _response(early)
        try:
            body = await asyncio.wait_for(_read_body(request, limit), read_timeout)
        except asyncio.TimeoutError:
            return _response(read_timed_out(read_timeout or 0.0))
        except BodyTooLarge:
            return _response(too_large(limit))
        except ClientDisconnect:
            return _response(WebhookReply.text(400, "client disconnected"))
        source = MessageSource(
            body,
            content_type=request.headers.get("content-type", ""),
            method=request.method,
            url=request_url(request),
            headers=request.headers.items(),
        )
        return _response(await processor.handle_async(source, run_sync=run_in_threadpool))

    endpoint.__name__ = "ratatosk_webhook"
    return endpoint


def webhook_route(
    path: str,
    connector: object,
    *,
    on_message: MessageHandler | None = None,
    on_status: StatusHandler | None = None,
    kind: WebhookKindOption = "auto",
    max_body_size: int | None = None,
    name: str | None = "ratatosk_webhook",
    methods: Sequence[str] = ("POST",),
    read_timeout: float | None = DEFAULT_READ_TIMEOUT,
) -> Route:
    """A ``Route`` for :func:`webhook`, for ``Starlette(routes=[...])``: POST by default; give
    ``methods=("GET", "POST")`` for a provider that may send GET webhooks (a query string)."""
    endpoint = webhook(connector, on_message=on_message, on_status=on_status, kind=kind,
                       max_body_size=max_body_size, read_timeout=read_timeout)
    return Route(path, endpoint, methods=list(methods), name=name)
