"""The contrib endpoints serve Vonage with the very code that serves Twilio.

Starlette, FastAPI, Flask and Django, each through its own test client, receive Vonage webhooks
signed as Vonage signs them: Messages API inbound messages and statuses (HS256 JWT over the raw
body's hash), SMS API inbound SMS (form POST) and delivery receipts (GET query string), both with
a ``sig``. A bad signature is answered 403 and reaches no handler; a retry reaches it once.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pluggy
import pytest
from webhook_support import Hooks

import ratatosk.hookspecs
from ratatosk import (
    Connector,
    MediaContent,
    Message,
    MessageStatus,
    StatusUpdate,
    TextContent,
)
from ratatosk_vonage import VonageMessagesConnector, VonageSmsConnector
from ratatosk_vonage.signature import compute_sms_signature, payload_hash, sign_jwt

SECRET = "contrib-vonage-signature-secret-1"
WRONG = "contrib-vonage-signature-secret-2"
UUID = "aaaaaaaa-bbbb-4ccc-8ddd-000000000001"
SMS_ID = "0A0000000123ABCD1"
PATH = "/vonage/"
FORM = "application/x-www-form-urlencoded"
Reply = tuple[int, bytes]


# -- signed Vonage webhooks ---------------------------------------------------------------------


def jwt_headers(raw: bytes, secret: str = SECRET) -> dict[str, str]:
    token = sign_jwt(secret, {"iat": int(time.time()), "jti": str(uuid.uuid4()),
                              "iss": "Vonage", "payload_hash": payload_hash(raw)})
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def inbound(text: str = "Hi from WhatsApp", message_uuid: str = UUID) -> bytes:
    return json.dumps({
        "channel": "whatsapp", "message_uuid": message_uuid, "to": "447700900000",
        "from": "447700900001", "timestamp": "2026-12-04T12:00:00Z", "message_type": "text",
        "text": text, "profile": {"name": "Ada"},
        "context": {"message_uuid": "bbbbbbbb-0000-4000-8000-000000000000"}}).encode()


def image() -> bytes:
    return json.dumps({
        "channel": "mms", "message_uuid": str(uuid.uuid4()), "to": "14155550100",
        "from": "14155550101", "timestamp": "2026-12-04T12:00:00Z", "message_type": "image",
        "image": {"url": "https://api.nexmo.com/v3/media/abc"}}).encode()


def status(value: str = "delivered") -> bytes:
    return json.dumps({
        "message_uuid": UUID, "to": "447700900001", "from": "447700900000",
        "timestamp": "2026-12-04T12:00:05Z", "status": value, "channel": "whatsapp",
        "client_ref": "order-17"}).encode()


def sig_params(fields: dict[str, str], method: str = "md5", secret: str = SECRET,
               ) -> dict[str, str]:
    params = {**fields, "timestamp": str(int(time.time())), "nonce": str(uuid.uuid4())}
    return {**params, "sig": compute_sms_signature(params, secret, method)}


def sms(text: str = "Hello & welcome") -> dict[str, str]:
    return {"msisdn": "447700900001", "to": "447700900000", "messageId": SMS_ID, "text": text,
            "type": "text", "keyword": "HELLO", "message-timestamp": "2026-12-04 12:00:00"}


def receipt(value: str = "delivered", err: str = "0") -> dict[str, str]:
    return {"msisdn": "447700900001", "to": "Acme", "network-code": "23410",
            "messageId": SMS_ID, "price": "0.03330000", "status": value, "err-code": err,
            "message-timestamp": "2026-12-04 12:00:05", "client-ref": "order-17"}


# -- the frameworks, each through its own test client -------------------------------------------

# A client: (method, path with query, body, headers) -> (status, body)
Client = Callable[[str, str, bytes, dict[str, str]], Reply]
Mount = Callable[[Connector, Callable[[Message], Any], Callable[[StatusUpdate], Any]], Client]


def starlette_mount(connector: Connector, on_message: Any, on_status: Any) -> Client:
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from ratatosk_contrib.starlette import webhook_route

    app = Starlette(routes=[webhook_route(PATH, connector, on_message=on_message,
                                          on_status=on_status, methods=("GET", "POST"))])
    client = TestClient(app)

    def call(method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        response = client.request(method, path, content=body or None, headers=headers)
        return response.status_code, response.content

    return call


def fastapi_mount(connector: Connector, on_message: Any, on_status: Any) -> Client:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from ratatosk_contrib.starlette import webhook

    app = FastAPI()
    app.add_route(PATH, webhook(connector, on_message=on_message, on_status=on_status),
                  methods=["GET", "POST"])
    client = TestClient(app)

    def call(method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        response = client.request(method, path, content=body or None, headers=headers)
        return response.status_code, response.content

    return call


def flask_mount(connector: Connector, on_message: Any, on_status: Any) -> Client:
    import flask

    from ratatosk_contrib.flask import webhook_view

    app = flask.Flask(__name__)
    app.add_url_rule(PATH, view_func=webhook_view(connector, on_message=on_message,
                                                  on_status=on_status),
                     methods=["GET", "POST"])
    client = app.test_client()

    def call(method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        response = client.open(path, method=method, data=body, headers=headers)
        return response.status_code, response.get_data()

    return call


class URLConf:
    """A urlconf object (hashable: Django caches resolvers by it)."""

    def __init__(self, *patterns: Any) -> None:
        self.urlpatterns = list(patterns)


_DJANGO_OVERRIDES: list[Any] = []


def django_mount(connector: Connector, on_message: Any, on_status: Any) -> Client:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(DEBUG=False, SECRET_KEY="ratatosk-tests-only",
                           ALLOWED_HOSTS=["testserver"], ROOT_URLCONF=URLConf(),
                           INSTALLED_APPS=[], DATABASES={}, USE_TZ=True)
        django.setup()
    from django.test import Client as DjangoClient
    from django.test import override_settings
    from django.urls import path as route

    from ratatosk_contrib.django import webhook_view

    view = webhook_view(connector, on_message=on_message, on_status=on_status,
                        methods=("GET", "POST"))
    override = override_settings(
        ROOT_URLCONF=URLConf(route(PATH.strip("/") + "/", view)), ALLOWED_HOSTS=["testserver"],
        MIDDLEWARE=["django.middleware.common.CommonMiddleware",
                    "django.middleware.csrf.CsrfViewMiddleware"])
    override.enable()
    _DJANGO_OVERRIDES.append(override)
    client = DjangoClient(enforce_csrf_checks=True)

    def call(method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        content_type = headers.get("Content-Type", "application/octet-stream")
        if method == "GET":
            response = client.get(path, headers=extra)
        else:
            response = client.generic(method, path, body, content_type=content_type,
                                      headers=extra)
        return response.status_code, response.content

    return call


MOUNTS: dict[str, Mount] = {"starlette": starlette_mount, "fastapi": fastapi_mount,
                            "flask": flask_mount, "django": django_mount}


@pytest.fixture(params=sorted(MOUNTS))
def mount(request: pytest.FixtureRequest) -> Iterator[Mount]:
    yield MOUNTS[request.param]
    while _DJANGO_OVERRIDES:
        _DJANGO_OVERRIDES.pop().disable()


class App:
    """A Vonage connector behind one framework's endpoint, with what the handlers saw."""

    def __init__(self, mount: Mount, connector_class: type[Connector], **settings: Any) -> None:
        self.hooks = Hooks()
        manager = pluggy.PluginManager("ratatosk")
        manager.add_hookspecs(ratatosk.hookspecs)
        manager.register(self.hooks)
        base = {"ApiKey": "abcd1234", "ApiSecret": "s3cr3t-Vonage-42", "SignatureSecret": SECRET}
        self.connector = connector_class(settings={**base, **settings}, plugin_manager=manager)
        self.messages: list[Message] = []
        self.updates: list[StatusUpdate] = []
        self.client = mount(self.connector, self.messages.append, self.updates.append)

    def post_json(self, raw: bytes, headers: dict[str, str]) -> Reply:
        return self.client("POST", PATH, raw, headers)

    def post_form(self, params: dict[str, str]) -> Reply:
        return self.client("POST", PATH, urlencode(params).encode(), {"Content-Type": FORM})

    def get(self, params: dict[str, str]) -> Reply:
        return self.client("GET", f"{PATH}?{urlencode(params)}", b"", {})


# -- the tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("connector_class", [VonageMessagesConnector, VonageSmsConnector])
def test_messages_api_inbound_and_status_with_jwt(mount: Mount,
                                                  connector_class: type[Connector]) -> None:
    app = App(mount, connector_class)
    raw = inbound()
    assert app.post_json(raw, jwt_headers(raw)) == (200, b"")
    raw_image = image()
    assert app.post_json(raw_image, jwt_headers(raw_image)) == (200, b"")
    raw_status = status("read")
    assert app.post_json(raw_status, jwt_headers(raw_status)) == (200, b"")

    first, second = app.messages
    assert first.id == UUID and first.content == TextContent("Hi from WhatsApp")
    assert first.sender is not None and first.sender.address == "+447700900001"
    assert first.properties["ProfileName"] == "Ada"
    assert first.properties["context"]["message_uuid"].startswith("bbbbbbbb")
    assert isinstance(second.content, MediaContent)
    (update,) = app.updates
    assert update.remote_message_id == UUID and update.status == MessageStatus.READ
    assert app.hooks.messages == app.messages and app.hooks.updates == app.updates


def test_sms_api_inbound_post_and_get_delivery_receipt_with_sig(mount: Mount) -> None:
    app = App(mount, VonageSmsConnector, SignatureMethod="sha256")
    assert app.post_form(sig_params(sms(), "sha256")) == (200, b"")
    assert app.get(sig_params(receipt("delivered"), "sha256")) == (200, b"")
    assert app.get(sig_params(receipt("failed", "6"), "sha256")) == (200, b"")
    (message,) = app.messages
    assert message.id == SMS_ID and message.content == TextContent("Hello & welcome")
    assert message.sender is not None and message.sender.address == "+447700900001"
    delivered, failed = app.updates
    assert delivered.remote_message_id == SMS_ID and delivered.status == MessageStatus.DELIVERED
    assert failed.status == MessageStatus.DELIVERY_FAILED
    assert failed.error is not None and failed.error.provider_code == "6"


def test_bad_signatures_are_refused_and_reach_no_handler(mount: Mount) -> None:
    app = App(mount, VonageMessagesConnector)
    raw = inbound()
    # signed with another secret, or the body changed after signing, or no token at all
    assert app.post_json(raw, jwt_headers(raw, WRONG))[0] == 403
    assert app.post_json(inbound("Pay me"), jwt_headers(raw))[0] == 403
    assert app.post_json(raw, {"Content-Type": "application/json"})[0] == 403
    raw_status = status()
    assert app.post_json(raw_status, jwt_headers(raw_status, WRONG))[0] == 403
    # SMS API: a wrong secret, a changed parameter, a GET receipt without sig
    assert app.post_form(sig_params(sms(), secret=WRONG))[0] == 403
    changed = sig_params(sms())
    changed["text"] = "Pay me"
    assert app.post_form(changed)[0] == 403
    assert app.get(receipt())[0] == 403
    assert app.messages == [] and app.updates == []
    assert app.hooks.messages == [] and app.hooks.updates == []
    # the genuine webhooks still count as new
    assert app.post_json(raw, jwt_headers(raw)) == (200, b"")
    assert app.get(sig_params(receipt())) == (200, b"")
    assert len(app.messages) == 1 and len(app.updates) == 1


def test_rotation_and_retries(mount: Mount) -> None:
    app = App(mount, VonageMessagesConnector, SecondarySignatureSecrets=WRONG)
    raw = inbound()
    for secret in (WRONG, SECRET, SECRET):  # Vonage's retries carry a new token each time
        assert app.post_json(raw, jwt_headers(raw, secret)) == (200, b"")
    assert len(app.messages) == 1
    receipt_params = receipt()
    for secret in (SECRET, WRONG):
        assert app.get(sig_params(receipt_params, secret=secret)) == (200, b"")
    assert len(app.updates) == 1


def test_malformed_and_oversized_webhooks(mount: Mount) -> None:
    app = App(mount, VonageMessagesConnector, MaxWebhookBodySize=2048)
    bad = b'{"channel": "sms"}'
    assert app.post_json(bad, jwt_headers(bad))[0] == 400
    big = json.dumps({"pad": "x" * 4096}).encode()
    assert app.post_json(big, jwt_headers(big))[0] == 413
    assert app.messages == []


def test_get_is_answered_only_where_allowed() -> None:
    """``methods=`` opts a route into GET webhooks; the default stays POST only."""
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from ratatosk_contrib.starlette import webhook_route

    connector = VonageSmsConnector(settings={"ApiKey": "abcd1234", "ApiSecret": "s3cr3t-42",
                                             "SignatureSecret": SECRET})
    app = Starlette(routes=[webhook_route("/post-only", connector, name="a"),
                            webhook_route("/both", connector, name="b",
                                          methods=("GET", "POST"))])
    client = TestClient(app)
    query = urlencode(sig_params(receipt()))
    assert client.get(f"/post-only?{query}").status_code == 405
    assert client.get(f"/both?{query}").status_code == 200
