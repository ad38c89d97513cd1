"""The Flask adapter through Flask's own test client (the blocking twin does the work)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import flask
import pluggy
import pytest
from flask.testing import FlaskClient
from webhook_support import Hooks, sms_connector

import ratatosk.hookspecs
from ratatosk import Message, MessageStatus, StatusUpdate
from ratatosk.connector import Connector
from ratatosk_contrib.flask import webhook_view
from ratatosk_twilio.signature import compute_signature
from ratatosk_twilio.twiml import TwiML

TOKEN = "flask-token-0001"
BASE = "http://localhost"
SID = "SM" + "f" * 32
FORM = "application/x-www-form-urlencoded"


INBOUND = [("MessageSid", SID), ("From", "+14155550100"), ("To", "+15005550006"),
           ("Body", "Hi Flask"), ("NumMedia", "0")]


def status(value: str) -> list[tuple[str, str]]:
    return [("MessageSid", SID), ("MessageStatus", value), ("SmsStatus", value)]


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


def post(client: FlaskClient, path: str, params: list[tuple[str, str]], *, token: str = TOKEN,
         headers: dict[str, str] | None = None) -> Any:
    return client.post(path, data=urlencode(params), content_type=FORM,
                       headers={"X-Twilio-Signature": compute_signature(token, BASE + path,
                                                                        params),
                                **(headers or {})})


def make_app(view: Callable[[], Any]) -> FlaskClient:
    app = flask.Flask(__name__)
    app.add_url_rule("/twilio", view_func=view, methods=["POST"])
    return app.test_client()


@pytest.mark.parametrize("blocking", [True, False])
def test_messages_statuses_and_replies(connector: Connector, hooks: Hooks, blocking: bool) -> None:
    received: list[Message] = []
    updates: list[StatusUpdate] = []

    def on_message(message: Message) -> Any:
        received.append(message)
        return TwiML.message("Hello back")

    target = connector.blocking() if blocking else connector
    client = make_app(webhook_view(target, on_message=on_message,
                                          on_status=updates.append))
    reply = post(client, "/twilio?tenant=3", INBOUND)
    assert reply.status_code == 200
    assert reply.content_type.startswith("text/xml")
    assert "<Message>Hello back</Message>" in reply.get_data(as_text=True)
    callback = post(client, "/twilio", status("delivered"))
    assert callback.status_code == 200
    assert callback.get_data(as_text=True) == TwiML.EMPTY.body
    assert [m.text for m in received] == ["Hi Flask"]
    assert [u.status for u in updates] == [MessageStatus.DELIVERED]
    assert hooks.messages == received and hooks.updates == updates


def test_async_handlers_run_to_completion(connector: Connector) -> None:
    done: list[str] = []

    async def on_message(message: Message) -> Any:
        await asyncio.sleep(0)
        done.append(message.id)
        return TwiML.EMPTY

    client = make_app(webhook_view(connector, on_message=on_message))
    assert post(client, "/twilio", INBOUND).status_code == 200
    assert done == [SID]


def test_rejections(connector: Connector) -> None:
    received: list[Message] = []
    client = make_app(webhook_view(connector, on_message=received.append))
    assert post(client, "/twilio", INBOUND, token="wrong").status_code == 403
    assert client.post("/twilio", data=urlencode(INBOUND), content_type=FORM).status_code == 403
    missing = [p for p in INBOUND if p[0] != "From"]
    assert post(client, "/twilio", missing).status_code == 400
    wrong_type = client.post("/twilio", data=urlencode(INBOUND), content_type="text/plain",
                             headers={"X-Twilio-Signature": compute_signature(TOKEN,
                                                                              BASE + "/twilio")})
    assert wrong_type.status_code == 400
    big = [*INBOUND, ("Pad", "p" * 3000)]  # the connector's MaxWebhookBodySize: 2048
    assert post(client, "/twilio", big).status_code == 413
    assert client.get("/twilio").status_code == 405
    assert received == []


@pytest.mark.parametrize("blocking", [True, False])
def test_retries_and_failing_handlers(connector: Connector, blocking: bool) -> None:
    calls: list[str] = []

    def on_message(message: Message) -> None:
        calls.append(message.id)
        if len(calls) == 1:
            raise RuntimeError("boom")

    target = connector.blocking() if blocking else connector
    client = make_app(webhook_view(target, on_message=on_message))
    token = {"I-Twilio-Idempotency-Token": "flask-retry"}
    assert post(client, "/twilio", INBOUND, headers=token).status_code == 500
    assert post(client, "/twilio", INBOUND, headers=token).status_code == 200
    assert post(client, "/twilio", INBOUND, headers=token).status_code == 200
    assert calls == [SID, SID]


def test_two_views_in_one_app(connector: Connector) -> None:
    app = flask.Flask(__name__)
    app.add_url_rule("/a", view_func=webhook_view(connector, name="hook_a"),
                     methods=["POST"])
    app.add_url_rule("/b", view_func=webhook_view(connector, name="hook_b",
                                                         kind="status"), methods=["POST"])
    client = app.test_client()
    assert post(client, "/a", INBOUND).status_code == 200
    assert post(client, "/b", status("sent")).status_code == 200
