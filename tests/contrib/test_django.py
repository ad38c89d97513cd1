"""The Django adapter through Django's own test client (settings configured in a fixture)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pluggy
import pytest
from webhook_support import Hooks, sms_connector

import ratatosk.hookspecs
from ratatosk import Message, MessageStatus, StatusUpdate
from ratatosk.connector import Connector
from ratatosk_twilio.signature import compute_signature
from ratatosk_twilio.twiml import TwiML

TOKEN = "django-token-0001"
BASE = "http://testserver"
SID = "SM" + "9" * 32
FORM = "application/x-www-form-urlencoded"



class URLConf:
    """A urlconf object (hashable, unlike SimpleNamespace: Django caches resolvers by it)."""

    def __init__(self, *patterns: Any) -> None:
        self.urlpatterns = list(patterns)


INBOUND = [("MessageSid", SID), ("From", "+14155550100"), ("To", "+15005550006"),
           ("Body", "Hi Django"), ("NumMedia", "0")]
STATUS = [("MessageSid", SID), ("MessageStatus", "sent"), ("SmsStatus", "sent")]


@pytest.fixture(scope="module")
def django_settings() -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="ratatosk-tests-only",
            ALLOWED_HOSTS=["testserver", "public.example"],
            ROOT_URLCONF=URLConf(),
            MIDDLEWARE=["django.middleware.common.CommonMiddleware",
                        "django.middleware.csrf.CsrfViewMiddleware"],
            INSTALLED_APPS=[],
            DATABASES={},
            USE_TZ=True,
        )
        django.setup()


@pytest.fixture
def hooks() -> Hooks:
    return Hooks()


@pytest.fixture
def connector(hooks: Hooks) -> Connector:
    manager = pluggy.PluginManager("ratatosk")
    manager.add_hookspecs(ratatosk.hookspecs)
    manager.register(hooks)
    return sms_connector(settings={"AuthToken": TOKEN, "MaxWebhookBodySize": 2048},
                         plugin_manager=manager)


@pytest.fixture
def mount(django_settings: None) -> Iterator[Callable[..., Any]]:
    """``mount(view)`` serves ``view`` at /twilio/ and returns a CSRF-enforcing test client."""
    from django.test import Client, override_settings
    from django.urls import path

    overrides: list[Any] = []

    def build(view: Callable[..., Any], **settings: Any) -> Any:
        urlconf = URLConf(path("twilio/", view))
        # the settings these tests rely on, even if Django was configured elsewhere first
        override = override_settings(
            ROOT_URLCONF=urlconf, ALLOWED_HOSTS=["testserver", "public.example"],
            MIDDLEWARE=["django.middleware.common.CommonMiddleware",
                        "django.middleware.csrf.CsrfViewMiddleware"],
            **settings)
        override.enable()
        overrides.append(override)
        return Client(enforce_csrf_checks=True)

    yield build
    for override in reversed(overrides):
        override.disable()


def post(client: Any, params: list[tuple[str, str]], *, token: str = TOKEN,
         url: str = BASE + "/twilio/", path: str = "/twilio/", **extra: str) -> Any:
    return client.post(path, data=urlencode(params), content_type=FORM,
                       HTTP_X_TWILIO_SIGNATURE=compute_signature(token, url, params), **extra)


def test_messages_and_statuses(connector: Connector, hooks: Hooks,
                               mount: Callable[..., Any]) -> None:
    from ratatosk_contrib.django import webhook_view

    received: list[Message] = []
    updates: list[StatusUpdate] = []

    async def on_status(update: StatusUpdate) -> None:  # async handlers work in sync views too
        await asyncio.sleep(0)
        updates.append(update)

    def on_message(message: Message) -> Any:
        received.append(message)
        return TwiML.message("Hej")

    client = mount(webhook_view(connector, on_message=on_message, on_status=on_status))
    reply = post(client, INBOUND, url=BASE + "/twilio/?t=1", path="/twilio/?t=1")
    assert reply.status_code == 200  # CSRF-exempt although the middleware enforces CSRF
    assert reply["Content-Type"].startswith("text/xml")
    assert b"<Message>Hej</Message>" in reply.content
    callback = post(client, STATUS)
    assert callback.status_code == 200 and callback.content.decode() == TwiML.EMPTY.body
    assert [m.text for m in received] == ["Hi Django"]
    assert [u.status for u in updates] == [MessageStatus.SENT]
    assert hooks.messages == received and hooks.updates == updates


def test_rejections(connector: Connector, mount: Callable[..., Any]) -> None:
    from ratatosk_contrib.django import webhook_view

    received: list[Message] = []
    client = mount(webhook_view(connector.blocking(), on_message=received.append))
    assert post(client, INBOUND, token="wrong").status_code == 403
    assert client.post("/twilio/", data=urlencode(INBOUND), content_type=FORM).status_code == 403
    assert post(client, [p for p in INBOUND if p[0] != "To"]).status_code == 400
    assert client.post("/twilio/", data=b"\xff", content_type=FORM,
                       HTTP_X_TWILIO_SIGNATURE="x").status_code == 400
    assert post(client, [*INBOUND, ("Pad", "p" * 3000)]).status_code == 413
    assert client.post("/twilio/", data=b"x", content_type=FORM,
                       CONTENT_LENGTH="many").status_code == 400
    assert client.get("/twilio/").status_code == 405
    assert post(client, INBOUND, HTTP_HOST="evil.example").status_code == 400
    assert received == []


def test_retries_are_handled_once(connector: Connector, mount: Callable[..., Any]) -> None:
    from ratatosk_contrib.django import webhook_view

    received: list[Message] = []
    client = mount(webhook_view(connector, on_message=received.append))
    for _ in range(3):
        response = post(client, INBOUND, HTTP_I_TWILIO_IDEMPOTENCY_TOKEN="dj-1")
        assert response.status_code == 200
    assert len(received) == 1


def test_behind_a_proxy_with_djangos_own_settings(hooks: Hooks, mount: Callable[..., Any]) -> None:
    """Django's SECURE_PROXY_SSL_HEADER / USE_X_FORWARDED_HOST decide the URL it reports."""
    from ratatosk_contrib.django import webhook_view

    received: list[Message] = []
    connector = sms_connector(settings={"AuthToken": TOKEN})
    client = mount(webhook_view(connector, on_message=received.append),
                   SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
                   USE_X_FORWARDED_HOST=True)
    public = "https://public.example/twilio/"
    ok = post(client, INBOUND, url=public, HTTP_X_FORWARDED_PROTO="https",
              HTTP_X_FORWARDED_HOST="public.example")
    assert ok.status_code == 200 and len(received) == 1
