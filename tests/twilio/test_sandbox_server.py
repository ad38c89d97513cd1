"""The sandbox's HTTP layer and life cycle: malformed input, keep-alive, clean stops, the CLI."""

from __future__ import annotations

import base64
import gc
import os
import signal
import socket
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from ratatosk_twilio.sandbox import TwilioSandbox, main


@pytest.fixture
def sandbox() -> Iterator[TwilioSandbox]:
    with TwilioSandbox() as box:
        yield box


def _auth(box: TwilioSandbox) -> str:
    return "Basic " + base64.b64encode(f"{box.account_sid}:{box.auth_token}".encode()).decode()


def _create_request(box: TwilioSandbox, body: bytes | None = None, extra: str = "") -> bytes:
    if body is None:
        body = urlencode({"To": "+15551230001", "From": "+15005550006", "Body": "hi"}).encode()
    head = (
        f"POST /2010-04-01/Accounts/{box.account_sid}/Messages.json HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: {_auth(box)}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
        f"{extra}\r\n"
    )
    return head.encode() + body


def _exchange(box: TwilioSandbox, data: bytes, *, read_until_close: bool = True) -> bytes:
    assert box.port is not None
    with socket.create_connection(("127.0.0.1", box.port), timeout=5) as conn:
        conn.sendall(data)
        if not read_until_close:
            return conn.recv(65536)
        chunks: list[bytes] = []
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def _still_serves(box: TwilioSandbox) -> None:
    with httpx.Client(base_url=box.base_url, auth=(box.account_sid, box.auth_token)) as client:
        assert client.get(f"/2010-04-01/Accounts/{box.account_sid}.json").status_code == 200


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"GET /x HTTP/1.1 extra\r\n\r\n", b"400"),
        (b"get / HTTP/1.1\r\n\r\n", b"400"),
        (b"GET / HTTP/2.0\r\n\r\n", b"505"),
        (b"GET / FTP/1.0\r\n\r\n", b"400"),
        (b"GET http://example.com/ HTTP/1.1\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nNoColonHere\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nContent-Length: ten\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc", b"400"),
        (b"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", b"413"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", b"411"),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n", b"431"),
        (b"\xff\xfe\x00 / HTTP/1.1\r\n\r\n", b"400"),
    ],
)
def test_malformed_http_is_answered_and_closed(
    sandbox: TwilioSandbox, raw: bytes, status: bytes
) -> None:
    answer = _exchange(sandbox, raw)
    assert answer.startswith(b"HTTP/1.1 " + status + b" "), answer[:80]
    assert b"Connection: close" in answer
    _still_serves(sandbox)


def test_endless_head_without_terminator_is_431(sandbox: TwilioSandbox) -> None:
    answer = _exchange(sandbox, b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 20000)
    assert answer.startswith(b"HTTP/1.1 431 ")


@pytest.mark.parametrize(
    "body",
    [
        b"To=%2B15551230001&From=%2B15005550006&Body=\xff\xfe",  # raw invalid UTF-8
        b"To=%2B15551230001&From=%2B15005550006&Body=%FF%FE",  # percent-encoded invalid UTF-8
    ],
)
def test_invalid_utf8_bodies_are_400(sandbox: TwilioSandbox, body: bytes) -> None:
    answer = _exchange(sandbox, _create_request(sandbox, body, "Connection: close\r\n"))
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b'"code": 21619' in answer
    assert sandbox.messages == []


def test_odd_but_valid_form_bodies(sandbox: TwilioSandbox) -> None:
    body = b"&&To=%2b15551230001&From=+15005550006&Body=a+b%20c&flag&=empty&Body=last"
    answer = _exchange(sandbox, _create_request(sandbox, body, "Connection: close\r\n"))
    # "+" in a form value is a space: From " 15005550006" is no valid sender
    assert b'"code": 21212' in answer
    body = b"To=%2b15551230001&From=%2B15005550006&Body=a+b%20c&flag&=empty"
    answer = _exchange(sandbox, _create_request(sandbox, body, "Connection: close\r\n"))
    assert answer.startswith(b"HTTP/1.1 201 ")
    assert sandbox.messages[0].body == "a b c"


def test_keep_alive_and_pipelining(sandbox: TwilioSandbox) -> None:
    assert sandbox.port is not None
    request = _create_request(sandbox)
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=5) as conn:
        conn.sendall(b"\r\n" + request * 3)  # a stray empty line, then three pipelined creates
        received = b""
        while received.count(b"HTTP/1.1 201 Created") < 3:
            chunk = conn.recv(65536)
            assert chunk, received
            received += chunk
        conn.sendall(request)  # the connection is still open
        assert conn.recv(65536).startswith(b"HTTP/1.1 201 ")
    assert len(sandbox.messages) == 4
    assert b"Connection: close" not in received


def test_pipelining_waits_for_delayed_answers() -> None:
    with TwilioSandbox(latency=0.05) as box:
        assert box.port is not None
        get = (f"GET /2010-04-01/Accounts/{box.account_sid}/Messages.json HTTP/1.1\r\n"
               f"Authorization: {_auth(box)}\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", box.port), timeout=5) as conn:
            conn.sendall(_create_request(box) + get)
            received = b""
            while b'"messages": [{' not in received:
                chunk = conn.recv(65536)
                assert chunk
                received += chunk
        # answers in request order: the create first, then a list that already holds it
        assert received.index(b"201 Created") < received.index(b"200 OK")


def test_half_closed_client_still_gets_a_delayed_answer() -> None:
    with TwilioSandbox(latency=0.05) as box:
        assert box.port is not None
        with socket.create_connection(("127.0.0.1", box.port), timeout=5) as conn:
            conn.sendall(_create_request(box))
            conn.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 201 ")


def test_http_10_closes_unless_keep_alive(sandbox: TwilioSandbox) -> None:
    raw = f"GET /2010-04-01/Accounts/{sandbox.account_sid}.json HTTP/1.0\r\n" \
          f"Authorization: {_auth(sandbox)}\r\n\r\n"
    answer = _exchange(sandbox, raw.encode())
    assert answer.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in answer
    keep = raw.replace("\r\n\r\n", "\r\nConnection: keep-alive\r\n\r\n").encode()
    answer = _exchange(sandbox, keep, read_until_close=False)
    assert answer.startswith(b"HTTP/1.1 200 ") and b"Connection: close" not in answer


def test_expect_100_continue(sandbox: TwilioSandbox) -> None:
    assert sandbox.port is not None
    request = _create_request(sandbox, extra="Expect: 100-continue\r\nConnection: close\r\n")
    head, _, body = request.partition(b"\r\n\r\n")
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=5) as conn:
        conn.sendall(head + b"\r\n\r\n")
        assert conn.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        conn.sendall(body)
        assert conn.recv(65536).startswith(b"HTTP/1.1 201 ")


def test_body_split_across_packets(sandbox: TwilioSandbox) -> None:
    assert sandbox.port is not None
    request = _create_request(sandbox, extra="Connection: close\r\n")
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=5) as conn:
        for i in range(0, len(request), 7):
            conn.sendall(request[i : i + 7])
        assert conn.recv(65536).startswith(b"HTTP/1.1 201 ")


def test_client_disconnect_mid_request(sandbox: TwilioSandbox) -> None:
    assert sandbox.port is not None
    for partial in (b"POST /2010-04-01/Acc", _create_request(sandbox)[:-3]):
        with socket.create_connection(("127.0.0.1", sandbox.port), timeout=5) as conn:
            conn.sendall(partial)
    _still_serves(sandbox)
    assert sandbox.messages == []


# life cycle ---------------------------------------------------------------------------------------


def test_stop_is_clean() -> None:
    before = threading.active_count()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        box = TwilioSandbox(progression="realtime", step_delay=10)
        box.start()
        assert box.running
        with httpx.Client(base_url=box.base_url, auth=(box.account_sid, box.auth_token)) as c:
            c.post(f"/2010-04-01/Accounts/{box.account_sid}/Messages.json",
                   data={"To": "+15551230001", "From": "+15005550006", "Body": "x",
                         "StatusCallback": "http://127.0.0.1:9/never"})
            assert box.port is not None
            idle = socket.create_connection(("127.0.0.1", box.port))  # an open keep-alive
            box.stop()
            idle.close()
        gc.collect()
    assert not box.running
    assert threading.active_count() == before
    box.stop()  # idempotent
    assert box.messages[0].status == "queued"  # still inspectable after stop


def test_restart_and_misuse() -> None:
    box = TwilioSandbox()
    with pytest.raises(RuntimeError, match="not started"):
        _ = box.base_url
    with box:
        with pytest.raises(RuntimeError, match="already started"):
            box.start()
        first_port = box.port
    with box:
        _still_serves(box)
    assert first_port is not None
    assert "stopped" in repr(box)


def test_port_in_use_raises_at_start(sandbox: TwilioSandbox) -> None:
    with pytest.raises(OSError):
        TwilioSandbox(port=sandbox.port or 0).start()


def test_public_base_url() -> None:
    with TwilioSandbox(public_base_url="https://sandbox.example.test/") as box:
        assert box.base_url == "https://sandbox.example.test"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"progression": "slow"},
        {"account_sid": "AC123"},
        {"auth_token": ""},
        {"step_delay": -1},
        {"messages_per_second": 0},
        {"max_concurrency": 0},
        {"latency": -0.1},
    ],
)
def test_bad_constructor_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        TwilioSandbox(**kwargs)  # type: ignore[arg-type]


# CLI ----------------------------------------------------------------------------------------------


def test_cli_serves_until_sigterm() -> None:
    sid, token = "AC" + "12" * 16, "cli-token"
    process = subprocess.Popen(
        [sys.executable, "-m", "ratatosk_twilio.sandbox",
         "--account-sid", sid, "--auth-token", token, "--progression", "immediate"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(6)]
        text = "".join(lines)
        assert "listening on http://127.0.0.1:" in lines[0]
        base_url = lines[0].rsplit(" ", 1)[1].strip()
        assert sid in text and token in text and "sandbox token" in text
        with httpx.Client(base_url=base_url, auth=(sid, token)) as client:
            response = client.post(f"/2010-04-01/Accounts/{sid}/Messages.json",
                                   data={"To": "+15551230001", "From": "+15005550006",
                                         "Body": "from the CLI test"})
            assert response.status_code == 201
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "stopped" in out


def test_cli_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--progression", "sometimes"])
    assert exit_info.value.code == 2
    capsys.readouterr()
    assert main(["--max-concurrency", "0"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("ratatosk twilio sandbox: error: max_concurrency")
    with pytest.raises(SystemExit) as exit_info:
        main(["--port", "99999"])  # was served on 99999 % 65536
    assert exit_info.value.code == 2
    assert "a port is 0..65535" in capsys.readouterr().err


def test_cli_reports_a_busy_port(
    sandbox: TwilioSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--port", str(sandbox.port)]) == 1
    assert "cannot listen" in capsys.readouterr().err
