"""End to end: a FastAPI app under a real uvicorn server on 127.0.0.1 receives Twilio webhooks.

A signed POST (from the sandbox) is accepted, a tampered one is refused with 403, a replay is
handled once, and a request through a TLS-terminating proxy (X-Forwarded-Proto https in front of
plain http) is accepted only by the endpoint whose connector trusts the proxy. The seed webhook
example runs the way its docstring says (``uvicorn seed_webhook_fastapi:app``).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from ratatosk import Message
from ratatosk_contrib.starlette import webhook
from ratatosk_twilio import TwilioSmsConnector
from ratatosk_twilio.sandbox import TwilioSandbox
from ratatosk_twilio.signature import compute_signature
from ratatosk_twilio.twiml import TwiML

pytestmark = pytest.mark.slow

FORM = "application/x-www-form-urlencoded"
ROOT = Path(__file__).resolve().parents[2]


class Inbox:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[str, Message]] = []

    def handler(self, name: str) -> Any:
        def on_message(message: Message) -> Any:
            with self.lock:
                self.messages.append((name, message))
            return TwiML.message(f"pong: {message.text}")

        return on_message

    def ids(self, name: str) -> list[str]:
        with self.lock:
            return [m.id for n, m in self.messages if n == name]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def sandbox() -> Iterator[TwilioSandbox]:
    with TwilioSandbox() as box:
        yield box


@pytest.fixture(scope="module")
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture(scope="module")
def server(sandbox: TwilioSandbox, inbox: Inbox) -> Iterator[str]:
    settings = {"AccountSid": sandbox.account_sid, "AuthToken": sandbox.auth_token,
                "BaseUrl": sandbox.base_url}
    direct = TwilioSmsConnector(settings=settings)
    proxied = TwilioSmsConnector(settings={**settings, "TrustForwardedHeaders": "true"})
    app = FastAPI()
    app.add_route("/twilio", webhook(direct, on_message=inbox.handler("direct")),
                  methods=["POST"])
    app.add_route("/proxied", webhook(proxied, on_message=inbox.handler("proxied")),
                  methods=["POST"])
    # proxy_headers=False: uvicorn itself must not rewrite the scheme from X-Forwarded-Proto
    # (it trusts 127.0.0.1 by default); the connector's TrustForwardedHeaders decides.
    yield from _serve(app, proxy_headers=False)


def _serve(app: Any, **options: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1 in a thread; yield its base URL."""
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off", **options)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, name="uvicorn-e2e", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(10)
        assert not thread.is_alive(), "uvicorn did not shut down"


def test_a_sandbox_signed_post_is_accepted_and_answered(
    server: str, sandbox: TwilioSandbox, inbox: Inbox
) -> None:
    delivery = sandbox.send_inbound("+14155550100", "+15005550006", "ping",
                                    url=f"{server}/twilio?tenant=1")
    assert delivery.status_code == 200, delivery.body
    assert delivery.content_type is not None and delivery.content_type.startswith("text/xml")
    assert inbox.ids("direct")[-1] == delivery.message_sid
    # the TwiML reply became an outbound message in the sandbox
    assert [r.body for r in delivery.replies] == ["pong: ping"]


def test_a_tampered_post_is_403(server: str, sandbox: TwilioSandbox, inbox: Inbox) -> None:
    url = f"{server}/twilio"
    params = [("MessageSid", "SM" + "7" * 32), ("From", "+14155550100"),
              ("To", "+15005550006"), ("Body", "transfer $10")]
    signature = compute_signature(sandbox.auth_token, url, params)
    tampered = [*params[:3], ("Body", "transfer $10000")]
    response = httpx.post(url, content=urlencode(tampered),
                          headers={"Content-Type": FORM, "X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert "SM" + "7" * 32 not in inbox.ids("direct")


def test_a_replay_is_handled_once(server: str, sandbox: TwilioSandbox, inbox: Inbox) -> None:
    url = f"{server}/twilio"
    sid = "SM" + "8" * 32
    params = [("MessageSid", sid), ("From", "+14155550100"), ("To", "+15005550006"),
              ("Body", "once"), ("NumMedia", "0")]
    headers = {"Content-Type": FORM, "I-Twilio-Idempotency-Token": "e2e-replay-1",
               "X-Twilio-Signature": compute_signature(sandbox.auth_token, url, params)}
    with httpx.Client() as client:
        answers = [client.post(url, content=urlencode(params), headers=headers)
                   for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert "pong: once" in answers[0].text
    assert answers[1].text == TwiML.EMPTY.body  # a retry is acknowledged, not handled again
    assert inbox.ids("direct").count(sid) == 1


@pytest.mark.parametrize(("path", "accepted"), [("/twilio", False), ("/proxied", True)])
def test_through_a_tls_terminating_proxy(
    server: str, sandbox: TwilioSandbox, inbox: Inbox, path: str, accepted: bool
) -> None:
    public = f"https://hooks.example.com{path}"  # what Twilio called, and signed
    sid = "SM" + ("5" if accepted else "6") * 32
    params = [("MessageSid", sid), ("From", "+14155550100"), ("To", "+15005550006"),
              ("Body", "via proxy")]
    headers = {  # what the proxy forwards to the plain-http app
        "Content-Type": FORM,
        "Host": "hooks.example.com",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": "203.0.113.9",
        "X-Twilio-Signature": compute_signature(sandbox.auth_token, public, params),
    }
    response = httpx.post(server + path, content=urlencode(params), headers=headers)
    assert response.status_code == (200 if accepted else 403)
    name = "proxied" if accepted else "direct"
    assert (sid in inbox.ids(name)) is accepted


@pytest.mark.parametrize(("cwd", "target"), [
    ("examples", "seed_webhook_fastapi:app"),  # as the example's docstring says
    (".", "examples.seed_webhook_fastapi:app"),  # from the repository's root
])
def test_the_seed_webhook_example_runs_under_uvicorn(cwd: str, target: str) -> None:
    token = "seed-example-token-0001"
    port = _free_port()
    env = {**os.environ, "TWILIO_ACCOUNT_SID": "AC" + "4" * 32, "TWILIO_AUTH_TOKEN": token}
    env.pop("PYTHONPATH", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=ROOT / cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/webhooks/twilio/sms"
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.communicate()[0].decode(errors="replace")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.05)
        params = [("MessageSid", "SM" + "3" * 32), ("AccountSid", "AC" + "4" * 32),
                  ("From", "+14155550100"), ("To", "+15005550006"), ("Body", "seed"),
                  ("NumMedia", "0")]
        headers = {"Content-Type": FORM,
                   "X-Twilio-Signature": compute_signature(token, url, params)}
        response = httpx.post(url, content=urlencode(params), headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/xml")
        assert response.text == TwiML.EMPTY.body
        tampered = [*params[:4], ("Body", "changed"), params[5]]
        refused = httpx.post(url, content=urlencode(tampered), headers=headers)
        assert refused.status_code == 403
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a hung server
            process.kill()
            process.wait(10)


@pytest.fixture(scope="module")
def proxied_server(sandbox: TwilioSandbox) -> Iterator[str]:
    """uvicorn with --proxy-headers for a proxy at 127.0.0.1 (its defaults), and a connector that
    does not trust forwarded headers itself."""
    connector = TwilioSmsConnector(settings={"AccountSid": sandbox.account_sid,
                                             "AuthToken": sandbox.auth_token})
    app = FastAPI()
    app.add_route("/twilio", webhook(connector), methods=["POST"])
    yield from _serve(app, proxy_headers=True, forwarded_allow_ips="127.0.0.1")


def test_uvicorn_proxy_headers_take_the_scheme_but_not_the_host(
    proxied_server: str, sandbox: TwilioSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """What docs/webhooks.md says: uvicorn honours X-Forwarded-Proto, not X-Forwarded-Host;
    the 403 log shows the URL checked."""
    public = "https://hooks.example.com/twilio"
    params = [("MessageSid", "SM" + "2" * 32), ("From", "+14155550100"),
              ("To", "+15005550006"), ("Body", "via proxy"), ("NumMedia", "0")]
    signature = compute_signature(sandbox.auth_token, public, params)
    forwarded = {"Content-Type": FORM, "X-Twilio-Signature": signature,
                 "X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.example.com"}
    with caplog.at_level(logging.WARNING, logger="ratatosk_contrib._webhook"):
        # the proxy rewrote Host: X-Forwarded-Host alone does not make uvicorn use the public host
        refused = httpx.post(proxied_server + "/twilio", content=urlencode(params),
                             headers={**forwarded, "Host": "internal:8000"})
    assert refused.status_code == 403
    [record] = [r for r in caplog.records if getattr(r, "http_status", None) == 403]
    assert record.url == "https://internal:8000/twilio"  # type: ignore[attr-defined]
    assert record.forwarded_headers_ignored == [  # type: ignore[attr-defined]
        "X-Forwarded-Proto", "X-Forwarded-Host"]
    # the proxy passes the public Host through: uvicorn's scheme + Host make the public URL
    accepted = httpx.post(proxied_server + "/twilio", content=urlencode(params),
                          headers={**forwarded, "Host": "hooks.example.com"})
    assert accepted.status_code == 200
