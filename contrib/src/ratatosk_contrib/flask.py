"""Webhook views for Flask (``pip install ratatosk-messaging-contrib[flask]``).

Mount a webhook of any connector in one line::

    from ratatosk_contrib.flask import webhook_view

    app.add_url_rule("/hooks/sms", view_func=webhook_view(connector, on_message=handle),
                     methods=["POST"])

Flask is synchronous: the connector's blocking view does the work (pass the connector or
``connector.blocking()``); handlers may be plain functions or coroutines (run to completion).
See docs/webhooks.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from flask import Response, request
from werkzeug.exceptions import ClientDisconnected

from ratatosk import MessageSource, WebhookReply

from ._webhook import (
    MessageHandler,
    StatusHandler,
    WebhookKindOption,
    WebhookProcessor,
    check_content_length,
    too_large,
)

__all__ = ["request_url", "webhook_view"]


def request_url(environ: Mapping[str, Any], scheme: str, host: str) -> str:
    """The full URL as the client requested it: scheme, host, raw path and raw query string."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw.startswith("/"):
        return f"{scheme}://{host}{raw}"
    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    # WSGI hands the path over decoded as latin-1: back to bytes, then percent-encode
    quoted = quote(path.encode("latin-1", "replace"), safe="/:@!$&'()*+,;=-._~%")
    query = str(environ.get("QUERY_STRING", ""))
    return f"{scheme}://{host}{quoted}" + (f"?{query}" if query else "")


def _response(answer: WebhookReply) -> Response:
    return Response(answer.body, status=answer.status_code, content_type=answer.content_type)


def webhook_view(
    connector: object,
    *,
    on_message: MessageHandler | None = None,
    on_status: StatusHandler | None = None,
    kind: WebhookKindOption = "auto",
    max_body_size: int | None = None,
    name: str = "ratatosk_webhook",
) -> Callable[[], Response]:
    """A Flask view function that receives the webhooks of any connector (see the Starlette
    adapter for the answers it gives). ``name`` becomes the view's ``__name__`` (Flask's default
    endpoint name): give each webhook view of an app its own."""
    processor = WebhookProcessor(connector, on_message, on_status, kind, max_body_size,
                                 blocking=True)

    def view() -> Response:
        limit = processor.limit
        early = check_content_length(request.headers.get("Content-Length"), limit)
        if early is not None:
            return _response(early)
        try:
            body = request.stream.read(limit + 1)
        except ClientDisconnected:
            return _response(WebhookReply.text(400, "client disconnected"))
        if len(body) > limit:
            return _response(too_large(limit))
        source = MessageSource(
            body,
            content_type=request.headers.get("Content-Type", ""),
            method=request.method,
            url=request_url(request.environ, request.scheme, request.host),
            headers=list(request.headers.items()),
        )
        return _response(processor.handle_sync(source))

    view.__name__ = name
    view.__qualname__ = name
    return view
