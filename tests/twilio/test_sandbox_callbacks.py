"""Status progression, signed status callbacks and signed inbound webhooks of the sandbox.

A small stdlib HTTP server plays the user's webhook endpoint; every request it receives is
checked with ``ratatosk_twilio.signature.validate_signature`` as a real application would.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import attrs
import httpx
import pytest

from ratatosk_twilio.sandbox import (
    FAILED_TO,
    POOL_NUMBER,
    READ_TO,
    UNDELIVERED_TO,
    TwilioSandbox,
)
from ratatosk_twilio.signature import validate_signature

FROM = "+15005550006"
TO = "+15551230001"
MG = "MG" + "a" * 32


@attrs.frozen
class Received:
    path: str
    headers: dict[str, str]
    params: list[tuple[str, str]]

    def param(self, name: str) -> str | None:
        return dict(self.params).get(name)


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records requests and answers as told."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.status = 200
        self.reply = b""
        self.content_type = "text/plain"
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                if receiver.delay:
                    time.sleep(receiver.delay)
                receiver.requests.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                             parse_qsl(body, keep_blank_values=True))
                )
                self.send_response(receiver.status)
                self.send_header("Content-Type", receiver.content_type)
                self.send_header("Content-Length", str(len(receiver.reply)))
                self.end_headers()
                self.wfile.write(receiver.reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def url(self, path: str = "/status") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def verify(self, request: Received, auth_token: str) -> bool:
        return validate_signature(
            auth_token, self.url(request.path), request.params,
            request.headers["x-twilio-signature"]
        )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()
        r.thread.join()


def make_client(box: TwilioSandbox) -> httpx.Client:
    return httpx.Client(base_url=box.base_url, auth=(box.account_sid, box.auth_token), timeout=5)


def send(box: TwilioSandbox, **params: str) -> dict[str, Any]:
    form = {"To": TO, "From": FROM, "Body": "Hello", **params}
    with make_client(box) as client:
        response = client.post(f"/2010-04-01/Accounts/{box.account_sid}/Messages.json", data=form)
    assert response.status_code == 201, response.text
    payload: dict[str, Any] = response.json()
    return payload


def fetch(box: TwilioSandbox, sid: str) -> dict[str, Any]:
    with make_client(box) as client:
        payload: dict[str, Any] = client.get(
            f"/2010-04-01/Accounts/{box.account_sid}/Messages/{sid}.json"
        ).json()
    return payload


def statuses(box: TwilioSandbox) -> list[str]:
    return [c.message_status for c in box.callbacks]


# status callbacks ---------------------------------------------------------------------------------


def test_immediate_progression_posts_signed_callbacks_in_order(receiver: Receiver) -> None:
    with TwilioSandbox() as box:
        callback_url = receiver.url("/status?tenant=7&kind=sms")
        message = send(box, StatusCallback=callback_url)
        records = box.wait_for_callbacks(3)
    assert [r.message_status for r in records] == ["sending", "sent", "delivered"]
    assert [r.param("MessageStatus") for r in receiver.requests] == ["sending", "sent",
                                                                     "delivered"]
    tokens = set()
    for record, request in zip(records, receiver.requests, strict=True):
        assert record.url == callback_url
        assert record.status_code == 200 and record.error is None and record.ok
        assert record.message_sid == message["sid"]
        assert request.path == "/status?tenant=7&kind=sms"
        assert receiver.verify(request, box.auth_token)
        assert not receiver.verify(request, "another-token")
        assert request.headers["x-twilio-signature"] == record.signature
        assert request.headers["user-agent"] == "TwilioProxy/1.1"
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        assert request.headers["i-twilio-idempotency-token"] == record.idempotency_token
        tokens.add(record.idempotency_token)
        assert request.params == record.params
        fields = dict(request.params)
        assert fields["MessageSid"] == fields["SmsSid"] == message["sid"]
        assert fields["SmsStatus"] == fields["MessageStatus"] == record.message_status
        assert fields["AccountSid"] == box.account_sid
        assert (fields["From"], fields["To"]) == (FROM, TO)
        assert fields["ApiVersion"] == "2010-04-01"
        assert "ErrorCode" not in fields
        assert "ChannelPrefix" not in fields
    assert len(tokens) == 3
    delivered = dict(receiver.requests[-1].params)
    done = delivered["RawDlrDoneDate"]
    assert len(done) == 10 and done.isdigit()
    assert done == datetime.now(timezone.utc).strftime("%y%m%d%H%M") or done.isdigit()
    assert "RawDlrDoneDate" not in dict(receiver.requests[0].params)


def test_undelivered_designated_number(receiver: Receiver) -> None:
    with TwilioSandbox() as box:
        message = send(box, To=UNDELIVERED_TO, StatusCallback=receiver.url())
        records = box.wait_for_callbacks(3)
        final = fetch(box, message["sid"])
    assert [r.message_status for r in records] == ["sending", "sent", "undelivered"]
    assert records[-1].param("ErrorCode") == "30003"
    assert records[-1].param("RawDlrDoneDate") is not None
    assert records[1].param("ErrorCode") is None
    assert (final["status"], final["error_code"]) == ("undelivered", 30003)
    assert final["error_message"] == "Unreachable destination handset"
    assert all(receiver.verify(r, box.auth_token) for r in receiver.requests)


def test_failed_designated_number(receiver: Receiver) -> None:
    with TwilioSandbox() as box:
        message = send(box, To=FAILED_TO, StatusCallback=receiver.url())
        (record,) = box.wait_for_callbacks(1)
        final = fetch(box, message["sid"])
        time.sleep(0.05)
        assert len(box.callbacks) == 1
    assert record.message_status == "failed"
    assert record.param("ErrorCode") == "30006"
    assert record.param("RawDlrDoneDate") is None
    assert (final["status"], final["error_code"]) == ("failed", 30006)
    assert final["price"] is None and final["date_sent"] is None


def test_whatsapp_read_designated_number(receiver: Receiver) -> None:
    with TwilioSandbox() as box:
        send(box, To="whatsapp:" + READ_TO, From="whatsapp:" + FROM,
             StatusCallback=receiver.url())
        records = box.wait_for_callbacks(3)
    assert [r.message_status for r in records] == ["sent", "delivered", "read"]
    for record in records:
        assert record.param("ChannelPrefix") == "whatsapp"
        assert record.param("ChannelToAddress") == READ_TO
        assert record.param("EventType") == record.message_status.upper()
        assert record.param("To") == "whatsapp:" + READ_TO
    assert all(receiver.verify(r, box.auth_token) for r in receiver.requests)


def test_whatsapp_to_other_numbers_stops_at_delivered() -> None:
    with TwilioSandbox() as box:
        send(box, To="whatsapp:" + TO, From="whatsapp:" + FROM)
        assert box.messages[0].status_history == ("queued", "sent", "delivered")
        send(box, To=READ_TO)  # read receipts are WhatsApp's only
        assert box.messages[1].status == "delivered"


def test_messaging_service_callbacks_start_with_queued(receiver: Receiver) -> None:
    with TwilioSandbox() as box:
        form = {"To": TO, "MessagingServiceSid": MG, "Body": "x", "StatusCallback": receiver.url()}
        with make_client(box) as client:
            response = client.post(f"/2010-04-01/Accounts/{box.account_sid}/Messages.json",
                                   data=form)
        assert response.json()["status"] == "accepted"
        records = box.wait_for_callbacks(4)
    assert [r.message_status for r in records] == ["queued", "sending", "sent", "delivered"]
    assert all(r.param("MessagingServiceSid") == MG for r in records)
    assert all(r.param("From") == POOL_NUMBER for r in records)


def test_manual_progression(receiver: Receiver) -> None:
    with TwilioSandbox(progression="manual") as box:
        message = send(box, StatusCallback=receiver.url())
        other = send(box)
        sid = message["sid"]
        assert box.get_message(sid).status == "queued"  # type: ignore[union-attr]
        assert box.advance(sid) == 1
        assert box.get_message(sid).status == "sending"  # type: ignore[union-attr]
        assert box.get_message(other["sid"]).status == "queued"  # type: ignore[union-attr]
        assert box.advance() == 2
        assert fetch(box, sid)["status"] == "sent"
        assert box.advance() == 2
        assert box.advance() == 1  # the other message
        assert box.advance() == 0
        assert box.advance("SM" + "0" * 32) == 0
        assert fetch(box, sid)["status"] == "delivered"
        assert fetch(box, sid)["price"] == "-0.00790"
        records = box.wait_for_callbacks(3)
    assert [r.message_status for r in records] == ["sending", "sent", "delivered"]


def test_realtime_progression() -> None:
    with TwilioSandbox(progression="realtime", step_delay=0.02) as box:
        message = send(box)
        assert message["status"] == "queued"
        deadline = time.monotonic() + 2
        while box.get_message(message["sid"]).status != "delivered":  # type: ignore[union-attr]
            assert time.monotonic() < deadline, box.get_message(message["sid"])
            time.sleep(0.01)
        stored = box.get_message(message["sid"])
        assert stored is not None
        assert stored.status_history == ("queued", "sending", "sent", "delivered")
        assert stored.date_updated - stored.date_created >= timedelta(seconds=0.05)


def test_realtime_respects_the_senders_rate() -> None:
    with TwilioSandbox(progression="realtime", step_delay=0.01, messages_per_second=10) as box:
        first, second = send(box, Body="x" * 300), send(box)  # first takes 2 segments: 0.2 s
        deadline = time.monotonic() + 3
        while box.get_message(second["sid"]).status != "delivered":  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.01)
        a = box.get_message(first["sid"])
        b = box.get_message(second["sid"])
        assert a is not None and b is not None and a.date_sent and b.date_sent
        assert b.date_sent - a.date_sent >= timedelta(seconds=0.15)


def test_scheduled_message_canceled_posts_a_callback(receiver: Receiver) -> None:
    send_at = (datetime.now(timezone.utc) + timedelta(minutes=30)).isoformat()
    with TwilioSandbox() as box:
        message = send(box, From="", MessagingServiceSid=MG, ScheduleType="fixed", SendAt=send_at,
                       StatusCallback=receiver.url())
        assert message["status"] == "scheduled"
        with make_client(box) as client:
            client.post(f"/2010-04-01/Accounts/{box.account_sid}/Messages/{message['sid']}.json",
                        data={"Status": "canceled"})
        (record,) = box.wait_for_callbacks(1)
    assert record.message_status == "canceled"
    assert receiver.verify(receiver.requests[0], box.auth_token)


def test_callback_failures_are_recorded(receiver: Receiver) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    receiver.status = 500
    with TwilioSandbox(callback_timeout=2) as box:
        send(box, StatusCallback=f"http://127.0.0.1:{closed_port}/gone")
        send(box, StatusCallback=receiver.url())
        records = box.wait_for_callbacks(6)
        # the server thread survived: it still answers
        send(box)
    unreachable = [r for r in records if "/gone" in r.url]
    failing = [r for r in records if "/gone" not in r.url]
    assert len(unreachable) == 3 and len(failing) == 3
    assert all(r.status_code is None and r.error and not r.ok for r in unreachable)
    assert [r.message_status for r in unreachable] == ["sending", "sent", "delivered"]
    assert all(r.status_code == 500 and r.error == "HTTP 500" for r in failing)


def test_wait_for_callbacks_times_out() -> None:
    with TwilioSandbox() as box:
        send(box)
        with pytest.raises(TimeoutError, match="0 of 1"):
            box.wait_for_callbacks(1, timeout=0.05)


def test_reset_forgets_everything_but_credentials(receiver: Receiver) -> None:
    with TwilioSandbox(progression="manual") as box:
        key = box.create_api_key()
        send(box, StatusCallback=receiver.url())
        box.advance()
        box.wait_for_callbacks(1)
        box.reset()
        assert box.messages == [] and box.callbacks == []
        assert box.advance() == 0
        with httpx.Client(base_url=box.base_url, auth=key) as client:
            assert client.get(f"/2010-04-01/Accounts/{box.account_sid}/Messages.json").json()[
                "messages"] == []


# inbound ------------------------------------------------------------------------------------------


def test_send_inbound_posts_a_signed_webhook(receiver: Receiver) -> None:
    receiver.reply = b'<?xml version="1.0" encoding="UTF-8"?><Response />'
    receiver.content_type = "text/xml"
    with TwilioSandbox(inbound_webhook_url=receiver.url("/sms")) as box:
        delivery = box.send_inbound(from_="+15557654321", to=FROM, body="Hi there")
        stored = box.get_message(delivery.message_sid)
    assert delivery.ok and delivery.status_code == 200 and delivery.error is None
    assert delivery.body == receiver.reply.decode()
    assert delivery.replies == ()
    (request,) = receiver.requests
    assert request.path == "/sms"
    assert receiver.verify(request, box.auth_token)
    assert request.headers["x-twilio-signature"] == delivery.signature
    assert request.headers["user-agent"] == "TwilioProxy/1.1"
    assert request.headers["i-twilio-idempotency-token"]
    fields = dict(request.params)
    assert request.params == delivery.params
    assert fields["MessageSid"] == fields["SmsSid"] == fields["SmsMessageSid"]
    assert fields["MessageSid"].startswith("SM")
    assert fields["AccountSid"] == box.account_sid
    assert (fields["From"], fields["To"], fields["Body"]) == ("+15557654321", FROM, "Hi there")
    assert (fields["NumMedia"], fields["NumSegments"]) == ("0", "1")
    assert fields["ApiVersion"] == "2010-04-01"
    assert stored is not None
    assert (stored.direction, stored.status, stored.body) == ("inbound", "received", "Hi there")


def test_send_inbound_with_media_and_whatsapp_fields(receiver: Receiver) -> None:
    with TwilioSandbox() as box:
        delivery = box.send_inbound(
            from_="whatsapp:+15557654321",
            to="whatsapp:" + FROM,
            body="",
            media=[("https://example.com/a.jpg", "image/jpeg"),
                   ("https://example.com/b.pdf", "application/pdf")],
            url=receiver.url("/wa?x=1"),
            ProfileName="Ada",
            WaId="15557654321",
            MessageType="image",
        )
    (request,) = receiver.requests
    assert receiver.verify(request, box.auth_token)
    fields = dict(request.params)
    assert delivery.message_sid.startswith("MM")
    assert fields["NumMedia"] == "2"
    assert fields["MediaUrl0"] == "https://example.com/a.jpg"
    assert fields["MediaContentType0"] == "image/jpeg"
    assert fields["MediaUrl1"] == "https://example.com/b.pdf"
    assert fields["MediaContentType1"] == "application/pdf"
    assert (fields["ProfileName"], fields["WaId"], fields["MessageType"]) == (
        "Ada", "15557654321", "image")
    assert fields["To"] == "whatsapp:" + FROM


def test_twiml_replies_become_outbound_reply_messages(receiver: Receiver) -> None:
    receiver.content_type = "text/xml"
    receiver.reply = (
        b'<?xml version="1.0" encoding="UTF-8"?><Response>'
        b"<Message>Echo: hello</Message>"
        b"<Message><Body>With media</Body><Media>https://example.com/x.png</Media></Message>"
        b"</Response>"
    )
    with TwilioSandbox() as box:
        delivery = box.send_inbound("+15557654321", FROM, "hello", url=receiver.url("/sms"))
        messages = box.messages
    first, second = delivery.replies
    assert (first.direction, first.from_, first.to, first.body) == (
        "outbound-reply", FROM, "+15557654321", "Echo: hello")
    assert second.media_urls == ["https://example.com/x.png"] and second.sid.startswith("MM")
    assert [m.direction for m in messages] == ["inbound", "outbound-reply", "outbound-reply"]
    assert messages[1].status == "delivered"


def test_inbound_failures_are_reported_not_raised(receiver: Receiver) -> None:
    receiver.status = 403
    with TwilioSandbox() as box:
        delivery = box.send_inbound("+15557654321", FROM, "x", url=receiver.url())
        assert (delivery.status_code, delivery.error, delivery.ok) == (403, "HTTP 403", False)
        with pytest.raises(ValueError, match="inbound_webhook_url"):
            box.send_inbound("+15557654321", FROM, "x")
    with pytest.raises(RuntimeError, match="not running"):
        box.send_inbound("+15557654321", FROM, "x", url=receiver.url())


def test_send_inbound_async_does_not_block_the_callers_loop(receiver: Receiver) -> None:
    async def scenario(box: TwilioSandbox) -> list[str]:
        ticks: list[str] = []

        async def ticker() -> None:
            for _ in range(3):
                ticks.append("tick")
                await asyncio.sleep(0.01)

        receiver.delay = 0.1
        delivery, _ = await asyncio.gather(
            box.send_inbound_async("+15557654321", FROM, "async", url=receiver.url()), ticker()
        )
        assert delivery.ok
        return ticks

    with TwilioSandbox() as box:
        assert asyncio.run(scenario(box)) == ["tick"] * 3
    assert receiver.verify(receiver.requests[0], box.auth_token)
