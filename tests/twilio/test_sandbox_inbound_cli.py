"""Inbound messages injected from the command line: `ratatosk twilio inbound` against a sandbox."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from ratatosk_twilio.sandbox import TwilioSandbox
from ratatosk_twilio.signature import validate_signature

RATATOSK = shutil.which("ratatosk", path=str(Path(sys.executable).parent)) or "ratatosk"
REPLY = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Thanks!</Message></Response>'


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
            answer = REPLY.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def sandbox() -> Iterator[TwilioSandbox]:
    with TwilioSandbox() as sb:
        yield sb


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
    return subprocess.run([RATATOSK, "twilio", "inbound", *args], capture_output=True, text=True,
                          timeout=60, env={**base, **(env or {})})


def test_an_inbound_message_reaches_the_webhook_signed(
    sandbox: TwilioSandbox, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    base, seen = receiver
    run = _run("--sandbox-url", sandbox.base_url, "--account-sid", sandbox.account_sid,
               "--auth-token", sandbox.auth_token, "--from", "whatsapp:+15550001111",
               "--to", "whatsapp:+15005550006", "--body", "Hi there",
               "--media", "https://example.com/a.png,image/png", "--url", f"{base}/hook",
               "--field", "ProfileName=Ada")
    assert run.returncode == 0, run.stderr
    assert f"delivered to {base}/hook, HTTP 200" in run.stdout
    assert "reply" in run.stdout and "'Thanks!'" in run.stdout
    [request] = seen
    params = parse_qsl(request["body"].decode(), keep_blank_values=True)
    fields = dict(params)
    assert fields["Body"] == "Hi there" and fields["NumMedia"] == "1"
    assert fields["MediaUrl0"] == "https://example.com/a.png"
    assert fields["MediaContentType0"] == "image/png"
    assert fields["ProfileName"] == "Ada"
    assert fields["From"] == "whatsapp:+15550001111"
    signature = request["headers"]["X-Twilio-Signature"]
    assert validate_signature(sandbox.auth_token, f"{base}/hook", params, signature)
    directions = [m.direction for m in sandbox.messages]
    assert directions == ["inbound", "outbound-reply"]
    assert sandbox.auth_token not in run.stdout + run.stderr


def test_credentials_from_twilios_environment_variables(
    sandbox: TwilioSandbox, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    base, seen = receiver
    env = {"TWILIO_BASE_URL": sandbox.base_url, "TWILIO_ACCOUNT_SID": sandbox.account_sid,
           "TWILIO_AUTH_TOKEN": sandbox.auth_token}
    run = _run("--from", "+15550001111", "--to", "+15005550006", "--body", "env",
               "--url", f"{base}/env", "--json", env=env)
    assert run.returncode == 0, run.stderr
    assert '"status_code": 200' in run.stdout
    assert seen[0]["path"] == "/env"


def test_errors_are_one_line_and_a_nonzero_exit(sandbox: TwilioSandbox) -> None:
    wrong = _run("--sandbox-url", sandbox.base_url, "--account-sid", sandbox.account_sid,
                 "--auth-token", "not-the-token", "--from", "+15550001111", "--to",
                 "+15005550006", "--url", "http://127.0.0.1:9/hook")
    assert wrong.returncode == 1 and "refused the message (401)" in wrong.stderr
    missing = _run("--from", "+15550001111", "--to", "+15005550006")
    assert missing.returncode == 2 and "--sandbox-url" in missing.stderr  # a missing argument
    bad_field = _run("--sandbox-url", sandbox.base_url, "--account-sid", sandbox.account_sid,
                     "--auth-token", sandbox.auth_token, "--from", "+15550001111", "--to",
                     "+15005550006", "--field", "NoEquals")
    assert bad_field.returncode == 2 and "--field expects K=V" in bad_field.stderr
    unreachable = _run("--sandbox-url", "http://127.0.0.1:9", "--account-sid", "AC" + "0" * 32,
                       "--auth-token", "x", "--from", "+1555", "--to", "+1555")
    assert unreachable.returncode == 1 and "cannot reach the sandbox" in unreachable.stderr
    for run in (wrong, missing, bad_field, unreachable):
        assert "Traceback" not in run.stderr and run.stderr.count("\n") == 1


def test_the_control_route_validates_and_authenticates(sandbox: TwilioSandbox) -> None:
    url = f"{sandbox.base_url}/sandbox/Accounts/{sandbox.account_sid}/Inbound.json"
    auth = (sandbox.account_sid, sandbox.auth_token)
    assert httpx.post(url, data={"From": "+1555", "To": "+1666"}).status_code == 401
    no_from = httpx.post(url, data={"To": "+15005550006", "Url": "http://127.0.0.1:9/"}, auth=auth)
    assert no_from.status_code == 400 and no_from.json()["code"] == 21604
    no_url = httpx.post(url, data={"From": "+1555", "To": "+1666"}, auth=auth)
    assert no_url.status_code == 400 and no_url.json()["code"] == 21609
    assert httpx.get(url, auth=auth).status_code == 405
    # the webhook is down: the sandbox answers, with the delivery error
    down = httpx.post(url, data={"From": "+1555", "To": "+1666", "Url": "http://127.0.0.1:9/"},
                      auth=auth)
    assert down.status_code == 200 and down.json()["error"]
