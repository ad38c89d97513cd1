"""One endpoint per framework, for any connector: a second (imaginary) provider through the
Starlette, Flask and Django endpoints, the core's default webhook API, and the receive path's
structured logging."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from webhook_support import (
    HERON_SECRET,
    ChattyHeronConnector,
    HeronConnector,
    heron,
    heron_message,
    heron_schema,
    heron_status,
)

from ratatosk import (
    ChannelCapability,
    Message,
    MessageSource,
    StatusUpdate,
    WebhookKind,
    WebhookReply,
)

CONTRIB = Path(__file__).resolve().parents[2] / "contrib" / "src" / "ratatosk_contrib"
JSON = "application/json"
LOGGER = "ratatosk_contrib._webhook"

Answer = tuple[int, str, bytes]
Post = Callable[..., Answer]


# -- the core's vocabulary and defaults --------------------------------------------------------


def test_webhook_kind_and_reply() -> None:
    assert WebhookKind("message") is WebhookKind.MESSAGE and WebhookKind.STATUS == "status"
    assert str(WebhookKind.STATUS) == "status"
    assert WebhookReply.empty() == WebhookReply(200, b"", "text/plain; charset=utf-8")
    assert WebhookReply.empty(204).status_code == 204
    reply = WebhookReply.text(403, "invalid signature")
    assert (reply.status_code, reply.body) == (403, b"invalid signature")
    assert reply.content_type.startswith("text/plain")


@pytest.mark.parametrize(("capabilities", "expected"), [
    ((ChannelCapability.RECEIVE_MESSAGES,), WebhookKind.MESSAGE),
    ((ChannelCapability.HANDLE_MESSAGE_STATE,), WebhookKind.STATUS),
    ((ChannelCapability.RECEIVE_MESSAGES, ChannelCapability.HANDLE_MESSAGE_STATE), None),
    ((ChannelCapability.SEND_MESSAGES,), None),
])
def test_default_classification_is_the_only_receive_capability_declared(
    capabilities: tuple[ChannelCapability, ...], expected: WebhookKind | None
) -> None:
    connector = HeronConnector(heron_schema(*capabilities), {"Secret": HERON_SECRET})
    assert connector.classify_webhook(MessageSource.json(heron_status())) is expected


def test_default_reply_is_an_empty_200_or_the_handlers_webhook_reply() -> None:
    connector = heron()
    assert connector.webhook_reply(WebhookKind.MESSAGE) == WebhookReply.empty()
    assert connector.webhook_reply(WebhookKind.MESSAGE, "ignored text") == WebhookReply.empty()
    mine = WebhookReply(202, b"queued", "text/plain")
    assert connector.webhook_reply(WebhookKind.STATUS, mine) is mine


def test_contrib_knows_no_provider() -> None:
    for path in CONTRIB.glob("*.py"):
        text = path.read_text(encoding="utf-8").lower()
        assert "twilio" not in text and "twiml" not in text, path.name


# -- the three frameworks -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def django_configured() -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(DEBUG=False, SECRET_KEY="ratatosk-tests-only",
                           ALLOWED_HOSTS=["testserver"], ROOT_URLCONF=None, MIDDLEWARE=[],
                           INSTALLED_APPS=[], DATABASES={}, USE_TZ=True)
        django.setup()


class _URLConf:
    def __init__(self, *patterns: Any) -> None:
        self.urlpatterns = list(patterns)


@pytest.fixture(params=["starlette", "flask", "django"])
def serve(request: pytest.FixtureRequest) -> Iterator[Callable[..., Post]]:
    """``serve(connector, **options)`` mounts the framework's endpoint at /hook and returns
    ``post(body, secret=..., path=...) -> (status, content type, body)``."""
    framework = request.param
    cleanups: list[Callable[[], None]] = []

    def build(connector: Any, **options: Any) -> Post:
        if framework == "starlette":
            from starlette.applications import Starlette
            from starlette.testclient import TestClient

            from ratatosk_contrib.starlette import webhook_route

            client = TestClient(Starlette(routes=[webhook_route("/hook", connector, **options)]))

            def post_starlette(body: bytes, secret: str = HERON_SECRET,
                               path: str = "/hook") -> Answer:
                answer = client.post(path, content=body, headers={
                    "Content-Type": JSON, "X-Heron-Secret": secret})
                return answer.status_code, answer.headers["content-type"], answer.content

            return post_starlette
        if framework == "flask":
            import flask

            from ratatosk_contrib.flask import webhook_view

            app = flask.Flask(__name__)
            app.add_url_rule("/hook", view_func=webhook_view(connector, **options),
                             methods=["POST"])
            flask_client = app.test_client()

            def post_flask(body: bytes, secret: str = HERON_SECRET, path: str = "/hook") -> Answer:
                answer = flask_client.post(path, data=body, content_type=JSON,
                                           headers={"X-Heron-Secret": secret})
                return answer.status_code, answer.content_type, answer.get_data()

            return post_flask
        request.getfixturevalue("django_configured")
        from django.test import Client, override_settings
        from django.urls import path as url_path

        from ratatosk_contrib.django import webhook_view as django_view

        override = override_settings(
            ROOT_URLCONF=_URLConf(url_path("hook", django_view(connector, **options))),
            ALLOWED_HOSTS=["testserver"], MIDDLEWARE=[])
        override.enable()
        cleanups.append(override.disable)
        django_client = Client()

        def post_django(body: bytes, secret: str = HERON_SECRET, path: str = "/hook") -> Answer:
            answer = django_client.post(path, data=body, content_type=JSON,
                                        HTTP_X_HERON_SECRET=secret)
            return answer.status_code, answer["Content-Type"], answer.content

        return post_django

    yield build
    for cleanup in reversed(cleanups):
        cleanup()


def test_a_second_providers_messages_with_the_default_webhook_api(
    serve: Callable[..., Post]
) -> None:
    received: list[Message] = []

    def on_message(message: Message) -> str:
        received.append(message)
        return "this provider sends no reply body"

    post = serve(heron(), on_message=on_message)
    assert post(heron_message("hm-1")) == (200, "text/plain; charset=utf-8", b"")
    # a retry: answered the same, the handler is not called again
    assert post(heron_message("hm-1")) == (200, "text/plain; charset=utf-8", b"")
    assert [m.text for m in received] == ["Hi Heron"]


def test_neutral_errors(serve: Callable[..., Post]) -> None:
    received: list[Message] = []
    post = serve(heron(), on_message=received.append, max_body_size=512)
    status, content_type, body = post(heron_message(), secret="wrong")
    assert (status, body) == (403, b"invalid webhook signature")
    assert content_type.startswith("text/plain")
    status, content_type, body = post(b'{"type": "sms"}')
    assert (status, body) == (400, b"invalid webhook data") and content_type.startswith("text/")
    status, content_type, _ = post(heron_message(text="x" * 600))
    assert status == 413 and content_type.startswith("text/plain")
    assert received == []


def test_a_handler_that_raises_is_a_500(serve: Callable[..., Post],
                                        caplog: pytest.LogCaptureFixture) -> None:
    def on_message(message: Message) -> None:
        raise RuntimeError("database down")

    post = serve(heron(), on_message=on_message)
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        status, content_type, body = post(heron_message())
    assert (status, body) == (500, b"webhook handler failed")
    assert content_type.startswith("text/plain")
    assert "database down" in caplog.text


def test_the_provider_classifies_and_shapes_the_answer(serve: Callable[..., Post]) -> None:
    received: list[Message] = []
    updates: list[StatusUpdate] = []

    def on_message(message: Message) -> str:
        received.append(message)
        return f"echo {message.text}"

    post = serve(heron(ChattyHeronConnector), on_message=on_message, on_status=updates.append)
    status, content_type, body = post(heron_message(text="ping"))
    assert (status, content_type) == (200, JSON)
    assert json.loads(body) == {"kind": "message", "reply": "echo ping"}
    status, content_type, body = post(heron_status())
    assert (status, json.loads(body)) == (200, {"kind": "status", "reply": None})
    assert [m.text for m in received] == ["ping"]
    assert [u.remote_message_id for u in updates] == ["hm-9"]


def test_a_reply_the_provider_cannot_send_is_a_500(serve: Callable[..., Post]) -> None:
    post = serve(heron(ChattyHeronConnector), on_message=lambda message: 42)
    status, _, body = post(heron_message())
    assert (status, body) == (500, b"webhook handler failed")


def test_unknown_kind_is_a_500_unless_the_route_fixes_it(
    serve: Callable[..., Post], caplog: pytest.LogCaptureFixture
) -> None:
    both = heron_schema(ChannelCapability.RECEIVE_MESSAGES, ChannelCapability.HANDLE_MESSAGE_STATE)
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        status, _, body = serve(HeronConnector(both, {"Secret": HERON_SECRET}))(heron_status())
    assert (status, body) == (500, b"webhook kind unknown")
    assert "kind='message' or kind='status'" in caplog.text

    updates: list[StatusUpdate] = []
    post = serve(HeronConnector(both, {"Secret": HERON_SECRET}), on_status=updates.append,
                 kind=WebhookKind.STATUS)
    assert post(heron_status())[0] == 200
    assert [u.provider_status for u in updates] == ["delivered"]


def test_kind_must_be_known() -> None:
    from ratatosk_contrib.starlette import webhook

    with pytest.raises(ValueError, match="kind must be"):
        webhook(heron(), kind="other")  # type: ignore[arg-type]


# -- structured logging on the receive path ----------------------------------------------------


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER]


def test_received_webhooks_are_logged_with_fields_and_no_secrets(
    serve: Callable[..., Post], caplog: pytest.LogCaptureFixture
) -> None:
    post = serve(heron(ChattyHeronConnector), on_message=lambda m: None)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        post(heron_message("hm-42", text="private words"))
        post(heron_message("hm-42", text="private words"))
        post(heron_status("hm-42", "undelivered", error="E-77"))
        post(heron_message("hm-43"), secret="wrong-" + HERON_SECRET)
    records = _records(caplog)
    message = next(r for r in records if getattr(r, "message_id", None) == "hm-42")
    assert (message.levelno, message.webhook_kind, message.provider) == (  # type: ignore[attr-defined]
        logging.DEBUG, "message", "heron")
    duplicate = next(r for r in records if getattr(r, "duplicate", False))
    assert duplicate.levelno == logging.INFO and duplicate.webhook_kind == "message"  # type: ignore[attr-defined]
    update = next(r for r in records if getattr(r, "remote_message_id", None) == "hm-42")
    assert update.provider_code == "E-77"  # type: ignore[attr-defined]
    assert update.provider_status == "undelivered"  # type: ignore[attr-defined]
    assert update.message_status == "DELIVERY_FAILED"  # type: ignore[attr-defined]
    refused = next(r for r in records if getattr(r, "http_status", None) == 403)
    assert refused.levelno == logging.WARNING
    assert refused.error_code == "INVALID_WEBHOOK_SIGNATURE"  # type: ignore[attr-defined]
    for record in records:
        text = record.getMessage() + repr(record.__dict__)
        assert HERON_SECRET not in text and "private words" not in text
