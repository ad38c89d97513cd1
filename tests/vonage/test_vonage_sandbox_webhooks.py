"""The Vonage sandbox's webhooks, received by a real HTTP endpoint on 127.0.0.1: status webhooks
and delivery receipts (progressions, manual steps, duplicates, disorder, STOP replies) and
injected inbound messages, every one checked with ``ratatosk_vonage.signature`` and with the
official SDK (``vonage_jwt.verify_jwt.verify_signature``, ``vonage_http_client.auth.Auth``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs
import httpx
import jwt
import pytest
from vonage_http_client.auth import Auth
from vonage_jwt.verify_jwt import verify_signature

from ratatosk_vonage.sandbox import (
    DUPLICATE_TO,
    OUT_OF_ORDER_TO,
    READ_TO,
    REJECTED_TO,
    STOP_TO,
    UNDELIVERABLE_TO,
    VonageSandbox,
)
from ratatosk_vonage.signature import payload_hash, verify_jwt, verify_sms_signature

FROM = "15551230000"
TO = "15551239999"


@attrs.frozen
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def params(self) -> dict[str, str]:
        if self.method == "GET":
            return dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        if self.headers.get("Content-Type", "").startswith("application/json"):
            return {k: str(v) for k, v in self.json().items()}
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))


class Receiver:
    """The application's webhook endpoint: records what arrives, answers 200."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append(
                        Received(self.command, self.path, dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET = _record

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def on(self, prefix: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def sandbox(receiver: Receiver) -> Iterator[VonageSandbox]:
    with VonageSandbox(status_webhook_url=f"{receiver.url}/status",
                       inbound_webhook_url=f"{receiver.url}/inbound") as sb:
        yield sb


def _send(sb: VonageSandbox, to: str = TO, channel: str = "sms", **extra: Any) -> str:
    body = {"channel": channel, "message_type": "text", "to": to, "from": FROM, "text": "hi",
            **extra}
    response = httpx.post(f"{sb.base_url}/v1/messages", json=body, auth=(sb.api_key, sb.api_secret),
                          trust_env=False)
    assert response.status_code == 202, response.text
    message_uuid: str = response.json()["message_uuid"]
    return message_uuid


def _send_sms(sb: VonageSandbox, to: str = TO, **extra: str) -> list[str]:
    form = {"api_key": sb.api_key, "api_secret": sb.api_secret, "from": FROM, "to": to,
            "text": "hi", **extra}
    answer = httpx.post(f"{sb.base_url}/sms/json", data=form, trust_env=False).json()
    assert all(m["status"] == "0" for m in answer["messages"]), answer
    return [m["message-id"] for m in answer["messages"]]


def _assert_jwt_signed(request: Received, sb: VonageSandbox) -> dict[str, Any]:
    """What a careful receiver and the SDK check: HMAC, payload_hash of the raw body, iat."""
    auth = request.headers["Authorization"]
    assert auth.startswith("Bearer ")
    token = auth[7:]
    assert verify_jwt(token, [sb.signature_secret], body=request.body) is None
    assert verify_signature(token, sb.signature_secret) is True
    assert verify_signature(token, "another-secret-of-at-least-32-bytes!!") is False
    claims: dict[str, Any] = jwt.decode(token, sb.signature_secret, algorithms=["HS256"])
    assert claims["payload_hash"] == payload_hash(request.body)
    assert {"iat", "jti", "iss", "api_key"} <= set(claims)
    assert verify_jwt(token, [sb.signature_secret], body=request.body + b" ") is not None
    return claims


def _assert_sig_signed(params: dict[str, str], sb: VonageSandbox) -> None:
    assert verify_sms_signature(params, [sb.signature_secret],
                                method=sb.signature_method) is None
    sdk = Auth(api_key=sb.api_key, signature_secret=sb.signature_secret,
               signature_method=sb.signature_method)  # type: ignore[arg-type]
    assert sdk.check_signature(dict(params)) is True
    assert sdk.check_signature({**params, "status": "forged"}) is False


# -- Messages API status webhooks --------------------------------------------------------------


def test_status_webhooks_are_signed_jwts_in_order(
        sandbox: VonageSandbox, receiver: Receiver) -> None:
    message_uuid = _send(sandbox, client_ref="ref-1")
    sandbox.wait_for_callbacks(2)
    hooks = receiver.on("/status")
    assert [h.json()["status"] for h in hooks] == ["submitted", "delivered"]
    jtis = set()
    for hook in hooks:
        body = hook.json()
        assert body["message_uuid"] == message_uuid
        assert (body["to"], body["from"], body["channel"], body["client_ref"]) == (
            TO, FROM, "sms", "ref-1")
        assert body["timestamp"].endswith("Z") and body["usage"]["currency"] == "EUR"
        jtis.add(_assert_jwt_signed(hook, sandbox)["jti"])
    assert len(jtis) == 2
    assert all(c.ok for c in sandbox.callbacks)


def test_a_message_webhook_url_wins_over_the_configured_one(
        sandbox: VonageSandbox, receiver: Receiver) -> None:
    _send(sandbox, webhook_url=f"{receiver.url}/mine")
    sandbox.wait_for_callbacks(2)
    assert len(receiver.on("/mine")) == 2 and receiver.on("/status") == []


@pytest.mark.parametrize(("to", "channel", "statuses", "error"), [
    (UNDELIVERABLE_TO, "sms", ["submitted", "undeliverable"], "1320"),
    (REJECTED_TO, "sms", ["rejected"], "1340"),
    (READ_TO, "whatsapp", ["submitted", "delivered", "read"], None),
    (READ_TO, "sms", ["submitted", "delivered"], None),
])
def test_status_progressions_by_magic_number(
        sandbox: VonageSandbox, receiver: Receiver, to: str, channel: str,
        statuses: list[str], error: str | None) -> None:
    _send(sandbox, to, channel)
    sandbox.wait_for_callbacks(len(statuses))
    sandbox.wait_until_idle()
    bodies = [h.json() for h in receiver.on("/status")]
    assert [b["status"] for b in bodies] == statuses
    if error is not None:
        assert bodies[-1]["error"]["type"].endswith(f"#{error}")
        assert bodies[-1]["error"]["title"] == error


def test_manual_progression_moves_on_advance(receiver: Receiver) -> None:
    with VonageSandbox(progression="manual", status_webhook_url=f"{receiver.url}/status") as sb:
        message_uuid = _send(sb)
        assert sb.get_message(message_uuid).status == ""  # type: ignore[union-attr]
        assert sb.advance(message_uuid) == 1
        sb.wait_for_callbacks(1)
        assert sb.get_message(message_uuid).status == "submitted"  # type: ignore[union-attr]
        assert sb.advance() == 1
        sb.wait_for_callbacks(2)
        sb.wait_until_idle()
        assert sb.advance() == 0
        assert sb.get_message(message_uuid).status_history == (  # type: ignore[union-attr]
            "submitted", "delivered")


def test_realtime_progression_spaces_the_steps(receiver: Receiver) -> None:
    with VonageSandbox(progression="realtime", step_delay=0.2,
                       status_webhook_url=f"{receiver.url}/status") as sb:
        message_uuid = _send(sb)
        assert sb.callbacks == []
        sb.wait_for_callbacks(2, timeout=5)
        assert sb.get_message(message_uuid).status == "delivered"  # type: ignore[union-attr]


# -- realism: duplicates, disorder, STOP -------------------------------------------------------


def test_duplicate_status_webhooks_on_the_magic_number(
        sandbox: VonageSandbox, receiver: Receiver) -> None:
    _send(sandbox, DUPLICATE_TO)
    sandbox.wait_for_callbacks(4)
    hooks = receiver.on("/status")
    assert [h.json()["status"] for h in hooks] == ["submitted", "submitted", "delivered",
                                                   "delivered"]
    assert hooks[0].body == hooks[1].body  # the same event again...
    assert hooks[0].headers["Authorization"] != hooks[1].headers["Authorization"]  # re-signed
    for hook in hooks:
        _assert_jwt_signed(hook, sandbox)


def test_out_of_order_status_webhooks_on_the_magic_number_and_as_a_setting(
        sandbox: VonageSandbox, receiver: Receiver) -> None:
    first = _send(sandbox, OUT_OF_ORDER_TO)
    sandbox.wait_for_callbacks(2)
    assert [h.json()["status"] for h in receiver.on("/status")] == ["delivered", "submitted"]
    assert sandbox.get_message(first).status == "delivered"  # type: ignore[union-attr]
    sandbox.out_of_order_status_webhooks = True
    sandbox.duplicate_status_webhooks = True
    ids = _send_sms(sandbox)
    sandbox.wait_for_callbacks(6)
    receipts = [h.params() for h in receiver.on("/status")[2:]]
    assert [r["status"] for r in receipts] == ["delivered", "delivered", "accepted", "accepted"]
    assert {r["messageId"] for r in receipts} == set(ids)


def test_the_recipient_replies_stop(sandbox: VonageSandbox, receiver: Receiver) -> None:
    _send(sandbox, STOP_TO)
    sandbox.wait_for_inbound(1)
    (stop,) = receiver.on("/inbound")
    body = stop.json()
    assert (body["text"], body["from"], body["to"], body["message_type"]) == (
        "STOP", STOP_TO, FROM, "text")
    _assert_jwt_signed(stop, sandbox)
    # through the SMS API: an inbound SMS, signed with sig
    _send_sms(sandbox, STOP_TO)
    sandbox.wait_for_inbound(2)
    params = receiver.on("/inbound")[1].params()
    assert (params["text"], params["msisdn"], params["to"], params["keyword"]) == (
        "STOP", STOP_TO, FROM, "STOP")
    _assert_sig_signed(params, sandbox)


# -- SMS API delivery receipts -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "GET", "POST-JSON"])
def test_delivery_receipts_per_part_signed_with_sig(receiver: Receiver, method: str) -> None:
    with VonageSandbox(status_webhook_url=f"{receiver.url}/status", sms_webhook_method=method,
                       signature_method="sha512") as sb:
        ids = _send_sms(sb, text="z" * 200, **{"client-ref": "r9"})
        assert len(ids) == 2
        sb.wait_for_callbacks(4)
        hooks = receiver.on("/status")
        assert {h.method for h in hooks} == {"GET" if method == "GET" else "POST"}
        receipts = [h.params() for h in hooks]
        assert [(r["messageId"], r["status"]) for r in receipts] == [
            (ids[0], "accepted"), (ids[1], "accepted"), (ids[0], "delivered"),
            (ids[1], "delivered")]
        for receipt in receipts:
            assert (receipt["msisdn"], receipt["to"], receipt["client-ref"]) == (TO, FROM, "r9")
            assert receipt["err-code"] == "0" and "message-timestamp" in receipt
            _assert_sig_signed(receipt, sb)
        assert [c.params() for c in sb.callbacks] == receipts


def test_delivery_receipts_failure_codes_callback_and_opt_out(
        sandbox: VonageSandbox, receiver: Receiver) -> None:
    _send_sms(sandbox, UNDELIVERABLE_TO, callback=f"{receiver.url}/dlr")
    _send_sms(sandbox, REJECTED_TO, **{"status-report-req": "false"})
    sandbox.wait_for_callbacks(2)
    sandbox.wait_until_idle()
    receipts = [h.params() for h in receiver.on("/dlr")]
    assert [(r["status"], r["err-code"]) for r in receipts] == [("accepted", "0"),
                                                                ("failed", "12")]
    assert receiver.on("/status") == []  # no receipt asked for the second message


def test_a_failing_endpoint_is_recorded(receiver: Receiver) -> None:
    with VonageSandbox(status_webhook_url="http://127.0.0.1:1/nowhere") as sb:
        _send(sb)
        deliveries = sb.wait_for_callbacks(2)
        assert all(not d.ok and d.status_code is None and d.error for d in deliveries)


# -- inbound injection -------------------------------------------------------------------------


def test_inbound_whatsapp_text_with_profile_and_reply_context(
        sandbox: VonageSandbox, receiver: Receiver) -> None:
    (delivery,) = sandbox.send_inbound("+447700900001", FROM, "Yes please", channel="whatsapp",
                                       profile_name="Ada", context_message_uuid="abc-1")
    assert delivery.ok and delivery.kind == "inbound"
    (hook,) = receiver.on("/inbound")
    body = hook.json()
    assert body["channel"] == "whatsapp" and body["message_type"] == "text"
    assert (body["from"], body["to"], body["text"]) == ("447700900001", FROM, "Yes please")
    assert body["profile"] == {"name": "Ada"}
    assert body["context"]["message_uuid"] == "abc-1"
    _assert_jwt_signed(hook, sandbox)
    assert sandbox.get_message(body["message_uuid"]).direction == "inbound"  # type: ignore[union-attr]


def test_inbound_media_goes_to_the_given_url(sandbox: VonageSandbox, receiver: Receiver) -> None:
    sandbox.send_inbound(TO, FROM, "a cat", channel="mms", message_type="image",
                         media_url="https://example.com/cat.jpg", url=f"{receiver.url}/other")
    body = receiver.on("/other")[0].json()
    assert body["image"] == {"url": "https://example.com/cat.jpg", "caption": "a cat"}


def test_inbound_long_sms_arrives_as_signed_concat_parts(
        sandbox: VonageSandbox, receiver: Receiver) -> None:
    text = "Hello! " * 50  # 350 GSM characters: 3 parts of up to 153
    deliveries = sandbox.send_inbound(TO, FROM, text, api="sms")
    assert len(deliveries) == 3 and all(d.ok for d in deliveries)
    parts = [h.params() for h in receiver.on("/inbound")]
    assert [p["concat-part"] for p in parts] == ["1", "2", "3"]
    assert {p["concat-total"] for p in parts} == {"3"}
    assert len({p["concat-ref"] for p in parts}) == 1
    assert "".join(p["text"] for p in parts) == text
    for part in parts:
        assert part["msisdn"] == TO and part["type"] == "text" and part["nonce"]
        _assert_sig_signed(part, sandbox)
    unicode_parts = sandbox.send_inbound(TO, FROM, "ж" * 100, api="sms")
    assert len(unicode_parts) == 2
    assert unicode_parts[0].params()["type"] == "unicode"


def test_send_inbound_needs_a_url_and_a_running_sandbox() -> None:
    sb = VonageSandbox()
    with pytest.raises(ValueError, match="url"):
        sb.send_inbound(TO, FROM, "x")
    with pytest.raises(RuntimeError):
        sb.send_inbound(TO, FROM, "x", url="http://127.0.0.1:1/")
    with VonageSandbox() as running, pytest.raises(ValueError, match="api"):
        running.send_inbound(TO, FROM, "x", url="http://127.0.0.1:1/", api="fax")


def test_replay_sends_the_same_signed_request_again(
        sandbox: VonageSandbox, receiver: Receiver) -> None:
    _send(sandbox)
    first = sandbox.wait_for_callbacks(2)[1]
    again = sandbox.replay(first)
    assert again.ok and again.headers == first.headers and again.body == first.body
    hooks = receiver.on("/status")
    assert len(hooks) == 3 and hooks[2].body == hooks[1].body
    assert hooks[2].headers["Authorization"] == hooks[1].headers["Authorization"]
    assert len(sandbox.callbacks) == 3
    (inbound,) = sandbox.send_inbound(TO, FROM, "hello", api="sms")
    sandbox.replay(inbound)
    parts = receiver.on("/inbound")
    assert len(parts) == 2 and parts[0].params() == parts[1].params()
