"""A client that trickles its body (one byte every half second) cannot hold a webhook endpoint
open: under a real uvicorn server on 127.0.0.1 the Starlette endpoint answers 408 once
``read_timeout`` has passed, and a body larger than the limit is answered 413 before it is read
whole."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.applications import Starlette

from ratatosk import Message
from ratatosk_contrib.starlette import webhook_route
from ratatosk_twilio import TwilioSmsConnector

pytestmark = pytest.mark.slow

handled: list[Message] = []


def _app() -> Starlette:
    connector = TwilioSmsConnector(settings={"AccountSid": "AC" + "1" * 32,
                                             "AuthToken": "a" * 32})
    return Starlette(routes=[
        webhook_route("/fast", connector, on_message=handled.append, read_timeout=1.0),
        webhook_route("/small", connector, on_message=handled.append, max_body_size=1024,
                      read_timeout=5.0),
    ])


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    config = uvicorn.Config(_app(), host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield port
    instance.should_exit = True
    thread.join(10)


def _status_line(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0]


def test_a_body_trickled_byte_by_byte_is_cut_off_with_408(server: int) -> None:
    body = b"MessageSid=SM" + b"a" * 32 + b"&Body=hi"
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock:
        sock.sendall(b"POST /fast HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        started = time.monotonic()
        sock.setblocking(False)
        answer = b""
        for byte in body:  # 50 bytes at 0.5 s each would take 25 s
            try:
                sock.send(bytes([byte]))
            except OSError:
                break
            time.sleep(0.5)
            try:
                answer += sock.recv(4096)
            except BlockingIOError:
                continue
            if answer:
                break
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert elapsed < 4, elapsed
    assert handled == []


def test_an_oversized_body_is_refused_before_it_is_read_whole(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock:
        sock.sendall(b"POST /small HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        sock.sendall(b"800\r\n" + b"a" * 0x800 + b"\r\n")  # 2 KiB of a body that never ends
        assert _status_line(sock) == b"HTTP/1.1 413 Request Entity Too Large"
    assert handled == []


def test_a_bad_read_timeout_is_a_programming_error() -> None:
    connector = TwilioSmsConnector(settings={"AccountSid": "AC" + "1" * 32})
    with pytest.raises(ValueError):
        webhook_route("/x", connector, read_timeout=0)
