"""``ratatosk demo`` side by side: the ``ratatosk_register_demo_sandboxes`` hook, the Vonage demo
sandbox, and the same application code sending through Twilio's and Vonage's sandboxes."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import ratatosk
from ratatosk import ChannelCapability, MessageBuilder
from ratatosk.plugins import get_plugin_manager
from ratatosk_twilio._demo import Timeline, demo_sandboxes, side_by_side
from ratatosk_vonage.sandbox import DELIVERED_TO
from ratatosk_vonage.sandbox._demo import demo_sandbox
from ratatosk_vonage.signature import verify_jwt

RATATOSK = Path(sys.executable).with_name("ratatosk")


class _Endpoint:
    def __init__(self) -> None:
        self.bodies: list[tuple[str, bytes, dict[str, str]]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                endpoint.bodies.append((self.path, body, dict(self.headers.items())))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/vonage"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()


@pytest.fixture
def endpoint() -> Iterator[_Endpoint]:
    e = _Endpoint()
    yield e
    e.server.shutdown()
    e.server.server_close()


def test_the_hook_offers_every_providers_sandbox() -> None:
    offered: list[str] = []
    get_plugin_manager().hook.ratatosk_register_demo_sandboxes(
        register=lambda name, start: offered.append(name))
    assert sorted(offered) == ["twilio", "vonage"]
    assert [name for name, _ in demo_sandboxes()] == ["twilio", "vonage"]


def test_the_vonage_demo_sandbox_connects_by_dsn_and_posts_to_the_hooks_url(
        endpoint: _Endpoint) -> None:
    with demo_sandbox(endpoint.url, step_delay=0.01) as box:
        assert box.recipient == "+" + DELIVERED_TO
        assert box.dsn.startswith(f"vonage://{box.sandbox.api_key}:")
        connector = ratatosk.connect(box.dsn).blocking()
        try:
            sent = connector.send_message(MessageBuilder().from_phone(box.sender)
                                          .to_phone(box.recipient).with_text("hi").build())
            assert sent.is_success, sent.error
        finally:
            connector.shutdown()
        box.sandbox.wait_for_callbacks(2)
        assert box.send_inbound("a reply") == 200
    statuses = [b for p, b, _ in endpoint.bodies if b"\"status\"" in b]
    assert len(statuses) == 2 and len(endpoint.bodies) == 3
    for _path, body, headers in endpoint.bodies:
        assert verify_jwt(headers["Authorization"][7:], [box.sandbox.signature_secret],
                          body=body) is None


def test_side_by_side_runs_the_same_application_on_both_sandboxes() -> None:
    timeline = Timeline()
    side_by_side(timeline, timeout=15)
    details = [e.detail for e in timeline.events]
    assert all(e.ok for e in timeline.events), [(e.detail, e.ok) for e in timeline.events]
    assert any(d.startswith("one application, one webhook endpoint, providers: twilio, vonage")
               for d in details)
    for name in ("twilio", "vonage"):
        assert any(d.startswith(f"{name}: SMS: ") for d in details), name
    assert any(d.startswith("twilio: ") and d.endswith("delivered -> DELIVERED")
               for d in details)
    vonage = ratatosk.connect("vonage://k:s@default")
    if vonage.supports(ChannelCapability.RECEIVE_MESSAGES):
        # the Vonage connector receives: its status webhooks and the reply came through the
        # same endpoint code as Twilio's
        assert any(d.startswith("vonage: ") and d.endswith("delivered -> DELIVERED")
                   for d in details)
        assert any(d.startswith("vonage: from ") for d in details)
    else:
        assert any(d.startswith("vonage: this version of its connector receives no webhooks")
                   for d in details)


def test_ratatosk_demo_shows_both_providers() -> None:
    run = subprocess.run([str(RATATOSK), "demo"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "twilio: SMS" in run.stdout and "vonage: SMS" in run.stdout
    assert "Demo finished: every step succeeded." in run.stdout
    assert "FAILED" not in run.stdout
