"""The Starlette adapter through Starlette's own test client."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any
from urllib.parse import urlencode

import pluggy
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

import ratatosk.hookspecs
from ratatosk import Message, MessageStatus, StatusUpdate, hookimpl
from ratatosk.connector import Connector
from ratatosk_contrib.starlette import webhook, webhook_route
from ratatosk_twilio import TwilioSmsConnector
from ratatosk_twilio.signature import compute_signature
from ratatosk_twilio.twiml import TwiML

TOKEN = "starlette-token-0001"
BASE = "http://testserver"
SID = "SM" + "d" * 32
FORM = "application/x-www-form-urlencoded"

ACCOUNT_SID = "AC" + "0" * 32


def sms_connector(settings: dict[str, Any], plugin_manager: Any = None) -> Connector:
    """A Twilio SMS connector with these settings (and a fixed account SID)."""
    return TwilioSmsConnector(settings={"AccountSid": ACCOUNT_SID, **settings},
                              plugin_manager=plugin_manager)


class Seen:
    def __init__(self) -> None:
        self.hook_messages: list[Message] = []
        self.hook_updates: list[StatusUpdate] = []
        self.messages: list[Message] = []
        self.updates: list[StatusUpdate] = []
        self.threads: list[str] = []

    @hookimpl
    def ratatosk_message_received(self, connector: Connector, message: Message) -> None:
        self.hook_messages.append(message)

    @hookimpl
    def ratatosk_status_received(self, connector: Connector, update: StatusUpdate) -> None:
        self.hook_updates.append(update)


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def connector(seen: Seen) -> Connector:
    manager = pluggy.PluginManager("ratatosk")
    manager.add_hookspecs(ratatosk.hookspecs)
    manager.register(seen)
    return sms_connector(settings={"AuthToken": TOKEN, "MaxWebhookBodySize": 4096},
                         plugin_manager=manager)


def inbound(**fields: str) -> list[tuple[str, str]]:
    base = {"MessageSid": SID, "AccountSid": "AC" + "0" * 32, "From": "+14155550100",
            "To": "+15005550006", "Body": "Hello", "NumMedia": "0", "SmsStatus": "received"}
    base.update(fields)
    return list(base.items())


def status(value: str = "delivered", **fields: str) -> list[tuple[str, str]]:
    base = {"MessageSid": SID, "MessageStatus": value, "SmsStatus": value,
            "AccountSid": "AC" + "0" * 32, "From": "+15005550006", "To": "+14155550100"}
    base.update(fields)
    return list(base.items())


def post(client: TestClient, path: str, params: list[tuple[str, str]], *,
         token: str = TOKEN, headers: dict[str, str] | None = None) -> Any:
    signature = compute_signature(token, BASE + path, params)
    return client.post(path, content=urlencode(params),
                       headers={"Content-Type": FORM, "X-Twilio-Signature": signature,
                                **(headers or {})})


@pytest.fixture
def client_for(connector: Connector) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def build(**options: Any) -> TestClient:
        app = Starlette()
        app.add_route("/twilio", webhook(connector, **options), methods=["POST"])
        client = TestClient(app)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


def test_a_signed_message_reaches_the_handler_and_the_hooks(
    client_for: Callable[..., TestClient], seen: Seen
) -> None:
    def on_message(message: Message) -> None:
        seen.messages.append(message)
        seen.threads.append(threading.current_thread().name)

    client = client_for(on_message=on_message)
    response = post(client, "/twilio", inbound())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == TwiML.EMPTY.body
    assert [m.id for m in seen.messages] == [SID]
    assert seen.hook_messages == seen.messages
    # a sync handler does not run on the event loop's thread
    assert seen.threads and seen.threads[0] != threading.main_thread().name


def test_an_async_handler_replies_with_twiml(
    client_for: Callable[..., TestClient], seen: Seen
) -> None:
    async def on_message(message: Message) -> Any:
        await asyncio.sleep(0)
        seen.messages.append(message)
        return TwiML.message(f"Got: {message.text} & thanks", media=["https://m.example/a.png"])

    response = post(client_for(on_message=on_message), "/twilio", inbound(Body="<hi>"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert "<Body>Got: &lt;hi&gt; &amp; thanks</Body>" in response.text
    assert "<Media>https://m.example/a.png</Media>" in response.text
    assert len(seen.messages) == 1


def test_a_handler_may_return_twiml_text(client_for: Callable[..., TestClient]) -> None:
    reply = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>x</Message></Response>'
    response = post(client_for(on_message=lambda m: reply), "/twilio", inbound())
    assert response.status_code == 200 and response.text == reply


def test_status_callbacks_reach_the_status_handler(
    client_for: Callable[..., TestClient], seen: Seen
) -> None:
    client = client_for(on_message=seen.messages.append, on_status=seen.updates.append)
    response = post(client, "/twilio", status("read"))
    assert response.status_code == 200 and response.text == TwiML.EMPTY.body
    assert seen.messages == []
    assert [u.status for u in seen.updates] == [MessageStatus.READ]
    assert seen.hook_updates == seen.updates


def test_a_fixed_kind(client_for: Callable[..., TestClient], seen: Seen) -> None:
    # an inbound message always has Body; an endpoint fixed to "status" treats anything as status
    client = client_for(on_status=seen.updates.append, kind="status")
    assert post(client, "/twilio", status("sent")).status_code == 200
    assert post(client, "/twilio", inbound()).status_code == 200  # SmsStatus=received
    assert [u.provider_status for u in seen.updates] == ["sent", "received"]
    with pytest.raises(ValueError):
        webhook(object(), kind="other")  # type: ignore[arg-type]


def test_the_query_string_is_part_of_the_signed_url(
    client_for: Callable[..., TestClient], seen: Seen
) -> None:
    client = client_for(on_message=seen.messages.append)
    assert post(client, "/twilio?tenant=7&x=a%20b", inbound()).status_code == 200
    # signed without the query: refused
    signature = compute_signature(TOKEN, BASE + "/twilio", inbound(MessageSid="SM2"))
    response = client.post("/twilio?tenant=7", content=urlencode(inbound(MessageSid="SM2")),
                           headers={"Content-Type": FORM, "X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert len(seen.messages) == 1


def test_a_bad_signature_is_403(client_for: Callable[..., TestClient], seen: Seen) -> None:
    client = client_for(on_message=seen.messages.append)
    assert post(client, "/twilio", inbound(), token="wrong").status_code == 403
    unsigned = client.post("/twilio", content=urlencode(inbound()),
                           headers={"Content-Type": FORM})
    assert unsigned.status_code == 403
    assert seen.messages == [] and seen.hook_messages == []


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (urlencode(inbound(From="")), FORM),
        (b"Body=\xff", FORM),
        (urlencode(inbound()), "text/plain"),
        (urlencode(inbound()), "application/json"),
    ],
)
def test_malformed_requests_are_400(
    client_for: Callable[..., TestClient], seen: Seen, body: str | bytes, content_type: str
) -> None:
    client = client_for(on_message=seen.messages.append)
    params = inbound(From="") if content_type == FORM and isinstance(body, str) else []
    signature = compute_signature(TOKEN, BASE + "/twilio", params)
    response = client.post("/twilio", content=body,
                           headers={"Content-Type": content_type, "X-Twilio-Signature": signature})
    assert response.status_code == 400
    assert seen.messages == []


def test_oversized_bodies_are_413(client_for: Callable[..., TestClient], seen: Seen) -> None:
    client = client_for(on_message=seen.messages.append)  # the connector's limit: 4096
    big = inbound(Body="x" * 5000)
    assert post(client, "/twilio", big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the read is capped
        for _ in range(10):
            yield b"x" * 1000

    response = client.post("/twilio", content=chunks(),
                           headers={"Content-Type": FORM, "X-Twilio-Signature": "x"})
    assert response.status_code == 413
    small = client_for(on_message=seen.messages.append, max_body_size=100)
    assert post(small, "/twilio", inbound()).status_code == 413
    assert seen.messages == []


def test_a_malformed_content_length_is_400(client_for: Callable[..., TestClient]) -> None:
    app = client_for().app

    async def run() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        scope = {"type": "http", "method": "POST", "path": "/twilio", "raw_path": b"/twilio",
                 "query_string": b"", "headers": [(b"content-length", b"12x")],
                 "scheme": "http", "server": ("testserver", 80), "root_path": "",
                 "http_version": "1.1"}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(dict(message))

        await app(scope, receive, send)
        return sent

    sent = asyncio.run(run())
    assert sent[0]["status"] == 400


def test_a_retry_is_handled_once(client_for: Callable[..., TestClient], seen: Seen) -> None:
    client = client_for(on_message=seen.messages.append, on_status=seen.updates.append)
    headers = {"I-Twilio-Idempotency-Token": "retry-1"}
    first = post(client, "/twilio", inbound(), headers=headers)
    second = post(client, "/twilio", inbound(), headers=headers)
    assert first.status_code == second.status_code == 200
    assert len(seen.messages) == 1 and len(seen.hook_messages) == 1
    for _ in range(2):
        assert post(client, "/twilio", status("delivered")).status_code == 200
    assert len(seen.updates) == 1


def test_a_failing_handler_is_500_and_the_retry_is_processed(
    client_for: Callable[..., TestClient], seen: Seen, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def on_message(message: Message) -> None:
        calls.append(message.id)
        if len(calls) == 1:
            raise RuntimeError("database down")

    client = client_for(on_message=on_message)
    headers = {"I-Twilio-Idempotency-Token": "retry-2"}
    with caplog.at_level(logging.ERROR, logger="ratatosk_contrib._webhook"):
        assert post(client, "/twilio", inbound(), headers=headers).status_code == 500
    assert "database down" in caplog.text
    assert post(client, "/twilio", inbound(), headers=headers).status_code == 200
    assert post(client, "/twilio", inbound(), headers=headers).status_code == 200
    assert calls == [SID, SID]


def test_a_handler_returning_nonsense_is_500(client_for: Callable[..., TestClient]) -> None:
    client = client_for(on_message=lambda m: 42)
    assert post(client, "/twilio", inbound()).status_code == 500


def test_a_route_and_other_methods(connector: Connector, seen: Seen) -> None:
    app = Starlette(routes=[webhook_route("/hook", connector,
                                                 on_message=seen.messages.append)])
    with TestClient(app) as client:
        assert post(client, "/hook", inbound()).status_code == 200
        assert client.get("/hook").status_code == 405
    assert len(seen.messages) == 1


def test_validation_off_accepts_unsigned_requests(seen: Seen) -> None:
    connector = sms_connector(settings={"ValidateSignatures": "false", "AuthToken": "other"})
    app = Starlette()
    app.add_route("/t", webhook(connector, on_message=seen.messages.append),
                  methods=["POST"])
    with TestClient(app) as client:
        response = client.post("/t", content=urlencode(inbound()),
                               headers={"Content-Type": FORM})
    assert response.status_code == 200 and len(seen.messages) == 1


async def test_the_endpoint_is_a_plain_coroutine_function(connector: Connector) -> None:
    endpoint = webhook(connector)
    assert inspect.iscoroutinefunction(endpoint)


def _refusal(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    [record] = [r for r in caplog.records
                if r.name == "ratatosk_contrib._webhook" and getattr(r, "http_status", 0) == 403]
    return record


@pytest.mark.parametrize(("settings", "headers", "url", "url_from", "honoured", "ignored"), [
    # behind a proxy, forwarded headers trusted: the URL they make is the one checked
    ({"TrustForwardedHeaders": "true"},
     {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example"},
     "https://public.example/twilio?t=1", "request",
     ["X-Forwarded-Proto", "X-Forwarded-Host"], []),
    # the default: the proxy's headers are present but not honoured
    ({}, {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example"},
     "http://testserver/twilio?t=1", "request", [],
     ["X-Forwarded-Proto", "X-Forwarded-Host"]),
    # a configured URL wins (a password in it is masked); the request's query is added
    ({"WebhookUrl": "https://hook:pa55word@public.example/twilio"}, {},
     "https://hook:***@public.example/twilio?t=1", "WebhookUrl", [], []),
])
def test_a_403_logs_the_url_checked_and_the_forwarded_headers(
    caplog: pytest.LogCaptureFixture, settings: dict[str, str], headers: dict[str, str],
    url: str, url_from: str, honoured: list[str], ignored: list[str],
) -> None:
    connector = sms_connector(settings={"AuthToken": TOKEN, **settings})
    app = Starlette()
    app.add_route("/twilio", webhook(connector), methods=["POST"])
    with TestClient(app) as client, caplog.at_level(logging.WARNING,
                                                    logger="ratatosk_contrib._webhook"):
        # signed for a URL the server never sees
        response = post(client, "/twilio?t=1", inbound(), token="not-" + TOKEN, headers=headers)
    assert response.status_code == 403 and response.text == "invalid webhook signature"
    record = _refusal(caplog)
    assert (record.url, record.url_from) == (url, url_from)  # type: ignore[attr-defined]
    assert record.forwarded_headers == honoured  # type: ignore[attr-defined]
    assert record.forwarded_headers_ignored == ignored  # type: ignore[attr-defined]
    assert record.provider == "twilio"  # type: ignore[attr-defined]
    text = record.getMessage()
    assert url in text and (", ".join(honoured) or "none") in text
    assert TOKEN not in text + repr(record.__dict__)
    assert "pa55word" not in text + repr(record.__dict__)
