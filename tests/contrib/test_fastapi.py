"""The Starlette adapter mounted in FastAPI, through FastAPI's test client."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pluggy
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from webhook_support import Hooks, sms_connector

import ratatosk.hookspecs
from ratatosk import Message, MessageStatus, StatusUpdate
from ratatosk.connector import Connector
from ratatosk_contrib.starlette import webhook
from ratatosk_twilio.signature import compute_signature
from ratatosk_twilio.twiml import TwiML

TOKEN = "fastapi-token-0001"
SID = "SM" + "e" * 32
FORM = "application/x-www-form-urlencoded"



def _post(client: TestClient, url: str, params: list[tuple[str, str]], token: str = TOKEN) -> Any:
    return client.post(url, content=urlencode(params),
                       headers={"Content-Type": FORM,
                                "X-Twilio-Signature": compute_signature(token, url, params)})


INBOUND = [("MessageSid", SID), ("From", "+14155550100"), ("To", "+15005550006"),
           ("Body", "Hi FastAPI"), ("NumMedia", "0")]
STATUS = [("MessageSid", SID), ("MessageStatus", "undelivered"), ("ErrorCode", "30003")]


@pytest.fixture
def hooks() -> Hooks:
    return Hooks()


@pytest.fixture
def connector(hooks: Hooks) -> Connector:
    manager = pluggy.PluginManager("ratatosk")
    manager.add_hookspecs(ratatosk.hookspecs)
    manager.register(hooks)
    return sms_connector(settings={"AuthToken": TOKEN}, plugin_manager=manager)


def test_add_route_in_one_line(connector: Connector, hooks: Hooks) -> None:
    received: list[Message] = []
    updates: list[StatusUpdate] = []

    async def on_message(message: Message) -> Any:
        received.append(message)
        return TwiML.message("Thanks!")

    app = FastAPI()
    app.add_route("/twilio", webhook(connector, on_message=on_message,
                                            on_status=updates.append), methods=["POST"])
    with TestClient(app) as client:
        reply = _post(client, "http://testserver/twilio", INBOUND)
        callback = _post(client, "http://testserver/twilio", STATUS)
        forged = _post(client, "http://testserver/twilio", INBOUND, token="nope")
        missing = client.post("/twilio", content=urlencode(INBOUND),
                              headers={"Content-Type": FORM})
    assert reply.status_code == 200 and "<Message>Thanks!</Message>" in reply.text
    assert reply.headers["content-type"].startswith("text/xml")
    assert callback.status_code == 200
    assert forged.status_code == 403 and missing.status_code == 403
    assert [m.text for m in received] == ["Hi FastAPI"]
    assert [u.status for u in updates] == [MessageStatus.DELIVERY_FAILED]
    assert updates[0].error is not None and updates[0].error.provider_code == "30003"
    assert hooks.messages == received and hooks.updates == updates


def test_inside_a_fastapi_route_function(connector: Connector) -> None:
    """The endpoint is a plain ``request -> response`` coroutine: it can be called from a route."""
    received: list[Message] = []
    endpoint = webhook(connector, on_message=received.append)
    app = FastAPI()

    @app.post("/hooks/{tenant}")
    async def hook(tenant: str, request: Request) -> Any:
        return await endpoint(request)

    with TestClient(app) as client:
        ok = _post(client, "http://testserver/hooks/acme?x=1", INBOUND)
        bad = client.post("/hooks/acme", content=b"\xff\xfe",
                          headers={"Content-Type": FORM,
                                   "X-Twilio-Signature": compute_signature(
                                       TOKEN, "http://testserver/hooks/acme")})
    assert ok.status_code == 200 and bad.status_code == 400
    assert len(received) == 1
