"""Webhooks signed by the sandbox validate in the connector: inbound messages and status callbacks.

A small stdlib HTTP server on 127.0.0.1 plays the application: it builds a MessageSource from each
request it receives (URL, headers, raw body) and hands it to the connector's blocking twin, the way
a web framework adapter does, answering 200 (TwiML), 403 or 400.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Lock, Thread
from typing import Any

import httpx
import pytest

from ratatosk import (
    LocationContent,
    MediaContent,
    MediaType,
    MessageSource,
    MessageStatus,
    MessagingErrorCodes,
    ReceiveResult,
    Result,
    StatusUpdate,
)
from ratatosk.connector import BlockingConnector, Connector
from ratatosk_twilio import TwilioSmsConnector, TwilioWhatsAppConnector
from ratatosk_twilio._webhooks import classify_webhook
from ratatosk_twilio.sandbox import READ_TO, TwilioSandbox


class App:
    """The application's webhook endpoint: every request through the connector."""

    def __init__(self) -> None:
        self.connector: BlockingConnector | None = None
        self.results: list[Result[Any]] = []
        self.lock = Lock()

    def handle(self, url: str, headers: list[tuple[str, str]], body: bytes,
               content_type: str) -> tuple[int, bytes]:
        assert self.connector is not None
        source = MessageSource(body, content_type=content_type, url=url, headers=headers)
        kind = classify_webhook(source.form_items())
        result: Result[Any] = (self.connector.receive_message_status(source) if kind == "status"
                               else self.connector.receive_messages(source))
        with self.lock:
            self.results.append(result)
        if result.error is None:
            return 200, b'<?xml version="1.0" encoding="UTF-8"?><Response />'
        if result.error.code == MessagingErrorCodes.INVALID_WEBHOOK_SIGNATURE:
            return 403, b"forbidden"
        return 400, b"bad request"


@pytest.fixture
def app() -> Iterator[tuple[App, str]]:
    application = App()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            host = self.headers.get("Host") or "127.0.0.1"
            status, answer = application.handle(
                f"http://{host}{self.path}", list(self.headers.items()), body,
                self.headers.get("Content-Type") or "")
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield application, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def sandbox() -> Iterator[TwilioSandbox]:
    with TwilioSandbox() as box:
        yield box


def _connect(application: App, make: Callable[[], Connector]) -> Connector:
    connector = make()
    application.connector = connector.blocking()
    return connector


def test_sandbox_signed_inbound_messages_validate(
    app: tuple[App, str], sandbox: TwilioSandbox
) -> None:
    application, base = app
    url = f"{base}/twilio/inbound?tenant=7"
    _connect(application, lambda: TwilioSmsConnector(
        settings={"AccountSid": sandbox.account_sid, "AuthToken": sandbox.auth_token,
                  "BaseUrl": sandbox.base_url, "WebhookUrl": f"{base}/twilio/inbound"}))

    text = sandbox.send_inbound("+14155550100", "+15005550006", "Hello sandbox", url=url)
    mms = sandbox.send_inbound("+14155550100", "+15005550006", "",
                               media=[("https://media.example/cat.jpg", "image/jpeg")], url=url)
    whatsapp = sandbox.send_inbound("whatsapp:+14155550100", "whatsapp:+15005550006", "",
                                    url=url, ProfileName="Ada", WaId="14155550100",
                                    Latitude="52.52", Longitude="13.405", Label="Berlin")
    assert [d.status_code for d in (text, mms, whatsapp)] == [200, 200, 200]
    results = application.results
    assert all(r.is_success for r in results), [r.error for r in results]
    messages = [r.data.messages[0] for r in results if isinstance(r.data, ReceiveResult)]
    assert [m.id for m in messages] == [text.message_sid, mms.message_sid, whatsapp.message_sid]
    assert messages[0].text == "Hello sandbox"
    assert messages[1].content == MediaContent(MediaType.IMAGE, "cat.jpg",
                                               "https://media.example/cat.jpg",
                                               content_type="image/jpeg")
    assert messages[2].content == LocationContent(52.52, 13.405, label="Berlin")
    assert messages[2].properties["ProfileName"] == "Ada"
    assert messages[2].properties["Channel"] == "whatsapp"


def test_a_sandbox_with_another_token_is_refused(
    app: tuple[App, str], sandbox: TwilioSandbox
) -> None:
    application, base = app
    _connect(application, lambda: TwilioSmsConnector(
        settings={"AccountSid": sandbox.account_sid, "AuthToken": "not-the-token"}))
    delivery = sandbox.send_inbound("+14155550100", "+15005550006", "hi", url=f"{base}/in")
    assert delivery.status_code == 403
    (result,) = application.results
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.INVALID_WEBHOOK_SIGNATURE


def test_sandbox_signed_status_callbacks_validate(
    app: tuple[App, str], sandbox: TwilioSandbox
) -> None:
    application, base = app
    callback = f"{base}/twilio/status"
    _connect(application, lambda: TwilioWhatsAppConnector(
        settings={"AccountSid": sandbox.account_sid, "AuthToken": sandbox.auth_token,
                  "BaseUrl": sandbox.base_url, "StatusCallback": callback}))
    response = httpx.post(
        f"{sandbox.base_url}/2010-04-01/Accounts/{sandbox.account_sid}/Messages.json",
        auth=(sandbox.account_sid, sandbox.auth_token),
        data={"From": "whatsapp:+15005550006", "To": f"whatsapp:{READ_TO}", "Body": "hi",
              "StatusCallback": callback},
    )
    assert response.status_code == 201, response.text
    sid = response.json()["sid"]
    records = sandbox.wait_for_callbacks(3)  # sent, delivered, read
    assert all(r.status_code == 200 for r in records), records
    updates = [r.data for r in application.results if isinstance(r.data, StatusUpdate)]
    assert len(updates) == len(records) == len(application.results)
    assert {u.remote_message_id for u in updates} == {sid}
    statuses = [u.status for u in updates]
    assert statuses[-1] is MessageStatus.READ
    assert MessageStatus.DELIVERED in statuses
    assert all(u.additional_data["channel"] == "whatsapp" for u in updates)
    assert updates[-1].additional_data["EventType"] == "READ"
