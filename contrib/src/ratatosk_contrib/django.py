"""Webhook views for Django (``pip install ratatosk-messaging-contrib[django]``).

Mount a webhook of any connector in one line of ``urls.py``::

    from ratatosk_contrib.django import webhook_view

    urlpatterns = [
        path("hooks/sms/", webhook_view(connector, on_message=handle, on_status=track)),
    ]

The view is synchronous and CSRF-exempt (the provider's signature protects it instead); the
connector's blocking view does the work, handlers may be plain functions or coroutines. See
docs/webhooks.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.http.request import UnreadablePostError
from django.views.decorators.csrf import csrf_exempt

from ratatosk import MessageSource, WebhookReply

from ._webhook import (
    MessageHandler,
    StatusHandler,
    WebhookKindOption,
    WebhookProcessor,
    check_content_length,
    too_large,
)

__all__ = ["webhook_view"]


def _response(answer: WebhookReply) -> HttpResponse:
    return HttpResponse(answer.body, status=answer.status_code, content_type=answer.content_type)


def webhook_view(
    connector: object,
    *,
    on_message: MessageHandler | None = None,
    on_status: StatusHandler | None = None,
    kind: WebhookKindOption = "auto",
    max_body_size: int | None = None,
    methods: Sequence[str] = ("POST",),
) -> Callable[[HttpRequest], HttpResponse]:
    """A Django view (CSRF-exempt) that receives the webhooks of any connector.

    ``methods`` are the HTTP methods it answers (others get 405): POST by default; add GET for
    a provider configured to send webhooks as GET requests with a query string (Vonage SMS API
    delivery receipts and inbound SMS can be).

    The URL validated is ``request.build_absolute_uri()`` (Django's ``ALLOWED_HOSTS``,
    ``USE_X_FORWARDED_HOST`` and ``SECURE_PROXY_SSL_HEADER`` apply; a disallowed host is
    answered 400). Answers as the Starlette adapter does.
    """
    processor = WebhookProcessor(connector, on_message, on_status, kind, max_body_size,
                                 blocking=True)
    allowed = [m.upper() for m in methods]

    def view(request: HttpRequest) -> HttpResponse:
        method = (request.method or "").upper()
        if method not in allowed:
            return HttpResponseNotAllowed(allowed)
        limit = processor.limit
        early = check_content_length(request.META.get("CONTENT_LENGTH"), limit)
        if early is not None:
            return _response(early)
        try:
            body = request.read(limit + 1)
        except UnreadablePostError:
            return _response(WebhookReply.text(400, "unreadable body"))
        if len(body) > limit:
            return _response(too_large(limit))
        try:
            url = request.build_absolute_uri()
        except DisallowedHost:
            return _response(WebhookReply.text(400, "disallowed host"))
        source = MessageSource(
            body,
            content_type=request.META.get("CONTENT_TYPE", ""),
            method=method,
            url=url,
            headers=list(request.headers.items()),
        )
        return _response(processor.handle_sync(source))

    return cast(Callable[[HttpRequest], HttpResponse], csrf_exempt(view))
