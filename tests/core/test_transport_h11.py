"""The default transports (AsyncioTransport and StdlibSyncTransport) against odd and hostile
servers on 127.0.0.1: the cases the hand-written HTTP/1.1 parser got wrong before the framing
moved to h11 (issue 9, item 6).

The server here is a plain socket server in a thread of its own (one thread per connection), so
it behaves the same for the async client and for the blocking one, and writes exactly the bytes a
test gives it. The TLS files are a test CA (``CN=Ratatosk Test CA``, CA:TRUE) and a leaf it signed
for 127.0.0.1, localhost and xn--bcher-kva.localhost, made for these tests with the ``openssl``
CLI (``openssl req -x509 ...`` then ``openssl x509 -req ...``, valid 100 years) and embedded, so
the tests need neither ``openssl`` nor ``cryptography`` at run time.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from ratatosk import (
    AsyncioTransport,
    Headers,
    HttpRequest,
    HttpResponse,
    StdlibSyncTransport,
    TransportError,
)
from ratatosk.transports import _h11 as _h11conn

CA_CERT = """-----BEGIN CERTIFICATE-----
MIIBnTCCAUOgAwIBAgIUYf6qo2N2+E006uej6AZGS3tnr7kwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQUmF0YXRvc2sgVGVzdCBDQTAgFw0yNjEyMDQyMTIxMTBaGA8y
MTI2MTExMDIxMjExMFowGzEZMBcGA1UEAwwQUmF0YXRvc2sgVGVzdCBDQTBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABNbDjC14cBDPW3EhbpIAkH8fwFRHGXaJp4DP
GKAJNcMilS5sH1u4/wvviVmKjOvm8uKS1BpfySiCT2TxKtZLuwyjYzBhMB0GA1Ud
DgQWBBTmr573eDJeLsdpBUzjYcHrf+jf2TAfBgNVHSMEGDAWgBTmr573eDJeLsdp
BUzjYcHrf+jf2TAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAKBggq
hkjOPQQDAgNIADBFAiEAz3E5oSm2c8k/8tlGmVppCW2hE/8nZ1dIkd+EcoMK27YC
IDUZ4EK02X1jAUR4z4AMyyNXajzUD5mp52PpL9ehRXgg
-----END CERTIFICATE-----
"""
LEAF_CERT = """-----BEGIN CERTIFICATE-----
MIIB4DCCAYWgAwIBAgIUVAQoyggLCSLn3knL9+qgtIUiZ04wCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQUmF0YXRvc2sgVGVzdCBDQTAgFw0yNjEyMDQyMTIxMTBaGA8y
MTI2MTExMDIxMjExMFowFDESMBAGA1UEAwwJbG9jYWxob3N0MFkwEwYHKoZIzj0C
AQYIKoZIzj0DAQcDQgAEFwZZimnWAt9TsDHsZSfWxIKphX4yXuNcHlF0sMZpLXS4
gOEbzwaZUEmV6PdxpJuRbdN5xE2IbeXAYAyeniPy6qOBqzCBqDAzBgNVHREELDAq
hwR/AAABgglsb2NhbGhvc3SCF3huLS1iY2hlci1rdmEubG9jYWxob3N0MAwGA1Ud
EwEB/wQCMAAwDgYDVR0PAQH/BAQDAgeAMBMGA1UdJQQMMAoGCCsGAQUFBwMBMB0G
A1UdDgQWBBS408a2JUm0CvyoZ7OFBzB963laijAfBgNVHSMEGDAWgBTmr573eDJe
LsdpBUzjYcHrf+jf2TAKBggqhkjOPQQDAgNJADBGAiEA8HCs5Ux/mngcCnrZRtbv
fLbDXJZ/B1cSntdQ+gLh/UcCIQDhx1HT3PEZY4HzWvexHCApe/KnESWF1O2bUzmY
rCP8dQ==
-----END CERTIFICATE-----
"""
LEAF_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjpCK67l5PSzvC76S
NYYrcpzcNVHZY7wPKNaf5kjlOLihRANCAAQXBlmKadYC31OwMexlJ9bEgqmFfjJe
41weUXSwxmktdLiA4RvPBplQSZXo93Gkm5Ft03nETYht5cBgDJ6eI/Lq
-----END PRIVATE KEY-----
"""
CA_HASH = "3d3ba1ef"  # openssl x509 -hash: the file name SSL_CERT_DIR wants ("<hash>.0")
IDN_HOST = "b\u00fccher.localhost"
IDN_ASCII = "xn--bcher-kva.localhost"

BODY = b'{"sid": "SM123", "status": "queued"}'
Request = dict[str, Any]
Respond = Callable[[Request], bytes]


def answer(body: bytes = BODY, *extra: str, status: int = 201, eol: str = "\r\n") -> bytes:
    head = [f"HTTP/1.1 {status} Created", "Content-Type: application/json",
            f"Content-Length: {len(body)}", *extra]
    return (eol.join(head) + eol + eol).encode() + body


# -- a socket server in a thread -------------------------------------------------------------------
class RawServer:
    """``with RawServer(respond) as base_url``: answers every request with ``respond(request)``
    (raw bytes). ``close_after``: close each connection right after its first answer, with the
    answer and the close leaving together (TCP_CORK), as a server that does not keep
    connections alive does. ``tls``: a server context. Counts connections, keeps requests."""

    def __init__(self, respond: Respond, *, close_after: bool = False,
                 tls: ssl.SSLContext | None = None) -> None:
        self.respond, self.close_after, self.tls = respond, close_after, tls
        self.requests: list[Request] = []
        self.connections = 0
        self.server_names: list[str | None] = []
        self._listener = socket.socket()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        if tls is not None:
            tls.sni_callback = lambda sock, name, context: self.server_names.append(name)

    def __enter__(self) -> str:
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.05)
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        port = self._listener.getsockname()[1]
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(5.0)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, raw: socket.socket) -> None:
        conn = raw
        try:
            conn.settimeout(0.05)
            if self.tls is not None:
                raw.settimeout(5.0)
                conn = self.tls.wrap_socket(raw, server_side=True)
                conn.settimeout(0.05)
            buffer = b""
            while not self._stop.is_set():
                request, buffer = self._read(conn, buffer)
                if request is None:
                    return
                self.requests.append(request)
                data = self.respond(request)
                if self.close_after:
                    if hasattr(socket, "TCP_CORK") and self.tls is None:
                        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
                    conn.sendall(data)
                    return  # the close in ``finally`` flushes the answer and the FIN at once
                conn.sendall(data)
        except (OSError, ssl.SSLError):
            return
        finally:
            conn.close()

    def _read(self, conn: socket.socket, buffer: bytes) -> tuple[Request | None, bytes]:
        while b"\r\n\r\n" not in buffer:
            if not self._more(conn, buffer):
                return None, b""
            buffer = self._received
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(buffer) < length:
            if not self._more(conn, buffer):
                return None, b""
            buffer = self._received
        request = {"method": method, "target": target, "headers": headers,
                   "body": buffer[:length]}
        return request, buffer[length:]

    def _more(self, conn: socket.socket, buffer: bytes) -> bool:
        while not self._stop.is_set():
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            if not data:
                return False
            self._received = buffer + data
            return True
        return False

    _received = b""


# -- driving either transport ----------------------------------------------------------------------
Outcome = HttpResponse | TransportError


def send_all(kind: str, requests: Sequence[HttpRequest], timeout: float = 5.0,
             **options: Any) -> list[Outcome]:
    """Send ``requests`` one after the other over one transport of ``kind``; each outcome."""
    if kind == "asyncio":

        async def run() -> list[Outcome]:
            transport = AsyncioTransport(**options)
            out: list[Outcome] = []
            try:
                for request in requests:
                    try:
                        out.append(await transport.send(request, timeout=timeout))
                    except TransportError as exc:
                        out.append(exc)
            finally:
                await transport.aclose()
            return out

        return asyncio.run(run())
    blocking = StdlibSyncTransport(**options)
    out: list[Outcome] = []
    try:
        for request in requests:
            try:
                out.append(blocking.send(request, timeout=timeout))
            except TransportError as exc:
                out.append(exc)
    finally:
        blocking.close()
    return out


def post(url: str, body: bytes = b"To=%2B15558675310&Body=Hi") -> HttpRequest:
    return HttpRequest("POST", url, (("Content-Type", "application/x-www-form-urlencoded"),),
                       body)


@pytest.fixture(params=["asyncio", "stdlib"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def one(kind: str, respond: Respond, timeout: float = 5.0, **options: Any) -> Outcome:
    with RawServer(respond) as base:
        [outcome] = send_all(kind, [post(f"{base}/x")], timeout, **options)
    return outcome


# -- framing ---------------------------------------------------------------------------------------
def test_bare_lf_line_ends_are_read_at_once(kind: str) -> None:
    with RawServer(lambda r: answer(eol="\n")) as base:
        started = time.monotonic()
        outcomes = send_all(kind, [post(f"{base}/x"), post(f"{base}/y")], timeout=10.0)
        elapsed = time.monotonic() - started
    for outcome in outcomes:
        assert isinstance(outcome, HttpResponse), outcome
        assert outcome.status_code == 201 and outcome.json()["sid"] == "SM123"
        assert type(outcome.content) is bytes
    assert elapsed < 5.0  # read when it arrives, not at the timeout


def test_a_bare_lf_chunked_body_is_refused_at_once_not_left_to_time_out(kind: str) -> None:
    wire = b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n5\nhello\n0\n\n"
    started = time.monotonic()
    outcome = one(kind, lambda r: wire, timeout=10.0)
    assert time.monotonic() - started < 5.0
    assert isinstance(outcome, TransportError)  # h11 reads chunk lines up to CRLF only
    assert "bare LF" in str(outcome) and outcome.timeout is False


@pytest.mark.parametrize(("coding", "packed"), [
    ("gzip, gzip", gzip.compress(gzip.compress(BODY))),
    ("deflate, gzip", gzip.compress(zlib.compress(BODY))),
    ("gzip,deflate", zlib.compress(gzip.compress(BODY))),
    ("identity, GZIP", gzip.compress(BODY)),
    ("x-gzip", gzip.compress(BODY)),
    ("deflate", zlib.compress(BODY)[2:-4]),  # raw deflate, as some servers send it
    ("identity", BODY),
])
def test_stacked_and_known_content_codings_are_decoded(
    kind: str, coding: str, packed: bytes,
) -> None:
    outcome = one(kind, lambda r: answer(packed, f"Content-Encoding: {coding}"))
    assert isinstance(outcome, HttpResponse), outcome
    assert outcome.content == BODY


def test_codings_on_separate_header_lines_are_all_undone(kind: str) -> None:
    packed = gzip.compress(zlib.compress(BODY))  # deflate first, then gzip
    outcome = one(kind, lambda r: answer(packed, "Content-Encoding: deflate",
                                         "Content-Encoding: gzip"))
    assert isinstance(outcome, HttpResponse), outcome
    assert outcome.content == BODY
    assert outcome.headers.get_all("content-encoding") == ["deflate", "gzip"]


def test_repeated_answer_headers_keep_every_value_in_order(kind: str) -> None:
    outcome = one(kind, lambda r: answer(BODY, "Set-Cookie: a=1", "X-Id: 7", "Set-Cookie: b=2"))
    assert isinstance(outcome, HttpResponse), outcome
    assert isinstance(outcome.headers, Headers)
    assert outcome.headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert outcome.header("SET-COOKIE") == "a=1" and outcome.header("x-id") == "7"
    assert ("x-id", "7") in list(outcome.headers)  # names as h11 gives them: lower case


@pytest.mark.parametrize("coding", ["br", "gzip, br", "compress", "zstd, gzip"])
def test_an_unknown_content_coding_is_refused_not_handed_back(kind: str, coding: str) -> None:
    outcome = one(kind, lambda r: answer(gzip.compress(BODY), f"Content-Encoding: {coding}"))
    assert isinstance(outcome, TransportError)
    assert "unsupported content coding" in str(outcome)
    assert (outcome.request_sent, outcome.timeout) == (True, False)


def test_a_transfer_coding_other_than_chunked_is_refused(kind: str) -> None:
    packed = gzip.compress(BODY)
    wire = (b"HTTP/1.1 201 Created\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
            b"%x\r\n%s\r\n0\r\n\r\n" % (len(packed), packed))
    outcome = one(kind, lambda r: wire)
    assert isinstance(outcome, TransportError)  # never the still-compressed bytes
    assert "invalid HTTP response" in str(outcome)


@pytest.mark.parametrize("size", [b"0x5", b"+5", b"5_0", b"-5", b" 5"])
def test_chunk_sizes_are_hex_digits_only(kind: str, size: bytes) -> None:
    wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%s\r\nhello\r\n0\r\n\r\n" % size
    outcome = one(kind, lambda r: wire)
    assert isinstance(outcome, TransportError), outcome
    assert "invalid HTTP response" in str(outcome)


def test_a_valid_chunked_answer_with_extensions_and_trailers_still_reads(kind: str) -> None:
    wire = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n")
    outcome = one(kind, lambda r: wire)
    assert isinstance(outcome, HttpResponse), outcome
    assert outcome.content == b"hello0123456789"


# -- internationalised hosts -----------------------------------------------------------------------
@pytest.fixture
def idn_resolves(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``xn--bcher-kva.localhost`` resolves to 127.0.0.1; the names looked up are recorded."""
    looked_up: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(host.decode() if isinstance(host, bytes) else str(host))
        if host in (IDN_ASCII, IDN_ASCII.encode()):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return looked_up


def test_an_internationalised_host_goes_out_idna_encoded(
    kind: str, idn_resolves: list[str],
) -> None:
    server = RawServer(lambda r: answer())
    with server as base:
        port = base.rpartition(":")[2]
        [outcome] = send_all(kind, [post(f"http://{IDN_HOST}:{port}/x")])
    assert isinstance(outcome, HttpResponse), outcome
    assert server.requests[0]["headers"]["host"] == f"{IDN_ASCII}:{port}"
    assert idn_resolves == [IDN_ASCII]  # the DNS lookup used the ASCII form too


def test_an_invalid_international_host_is_never_sent(kind: str) -> None:
    label = "\u00fc" * 70  # longer than a DNS label may be
    [outcome] = send_all(kind, [post(f"http://{label}.example/x")])
    assert isinstance(outcome, TransportError)
    assert outcome.request_sent is False


# -- the TLS trust store ---------------------------------------------------------------------------
@pytest.fixture
def tls_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """The test CA and leaf on disk; SSL_CERT_FILE / SSL_CERT_DIR cleared, contexts rebuilt."""
    (tmp_path / "ca.pem").write_text(CA_CERT)
    (tmp_path / "leaf.pem").write_text(LEAF_CERT)
    (tmp_path / "leaf.key").write_text(LEAF_KEY)
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / f"{CA_HASH}.0").write_text(CA_CERT)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setattr(_h11conn, "_contexts", {})
    return {"ca": tmp_path / "ca.pem", "dir": tmp_path / "dir", "leaf": tmp_path / "leaf.pem",
            "key": tmp_path / "leaf.key"}


def _server_context(files: dict[str, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files["leaf"], files["key"])
    return context


def test_a_private_ca_is_not_trusted_by_default(kind: str, tls_files: dict[str, Path]) -> None:
    with RawServer(lambda r: answer(), tls=_server_context(tls_files)) as base:
        [outcome] = send_all(kind, [post(f"{base}/x")])
    assert isinstance(outcome, TransportError)
    assert outcome.request_sent is False and "CERTIFICATE_VERIFY_FAILED" in str(outcome)


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "SSL_CERT_DIR"])
def test_a_private_ca_given_by_ssl_cert_file_or_dir_is_trusted(
    kind: str, tls_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, variable: str,
) -> None:
    monkeypatch.setenv(variable, str(tls_files["ca" if variable == "SSL_CERT_FILE" else "dir"]))
    with RawServer(lambda r: answer(), tls=_server_context(tls_files)) as base:
        outcomes = send_all(kind, [post(f"{base}/x"), post(f"{base}/y")])
    for outcome in outcomes:
        assert isinstance(outcome, HttpResponse), outcome
        assert outcome.status_code == 201


def test_the_variables_add_to_the_system_store_rather_than_replace_it(
    tls_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    system = _h11conn.default_ssl_context().cert_store_stats()["x509_ca"]
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files["ca"]))
    with_ours = _h11conn.default_ssl_context().cert_store_stats()["x509_ca"]
    assert with_ours == system + 1  # everything the system trusts, and the private CA


def test_certifi_only_when_the_system_store_is_empty(
    tls_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    import certifi

    bundle = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    bundle.load_verify_locations(certifi.where())
    in_certifi = bundle.cert_store_stats()["x509_ca"]
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = str(empty / "none.pem")
    nowhere = ssl.DefaultVerifyPaths(missing, str(empty), "SSL_CERT_FILE", missing,
                                     "SSL_CERT_DIR", str(empty))
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: nowhere)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files["ca"]))  # OpenSSL loads only this one
    context = _h11conn.default_ssl_context()
    assert context.cert_store_stats()["x509_ca"] == in_certifi + 1


def test_tls_to_an_internationalised_host_uses_its_ascii_name(
    kind: str, tls_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
    idn_resolves: list[str],
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files["ca"]))
    server = RawServer(lambda r: answer(), tls=_server_context(tls_files))
    with server as base:
        port = base.rpartition(":")[2]
        [outcome] = send_all(kind, [post(f"https://{IDN_HOST}:{port}/x")])
    assert isinstance(outcome, HttpResponse), outcome  # the certificate names the ASCII form
    assert server.server_names == [IDN_ASCII]
    assert server.requests[0]["headers"]["host"] == f"{IDN_ASCII}:{port}"


# -- a server that closes right after answering ---------------------------------------------------
SENDS = 300


def test_no_request_is_written_on_a_connection_the_server_closed(kind: str) -> None:
    """Every answer comes with the server's close and no ``Connection: close``: the client pools
    the connection as keep-alive, and must see the close before it writes the next request on
    it. Counted over many sends: not one may come back "outcome unknown"."""
    server = RawServer(lambda r: answer(), close_after=True)
    with server as base:
        outcomes = send_all(kind, [post(f"{base}/x?n={n}") for n in range(SENDS)])
    unknown = [o for o in outcomes if isinstance(o, TransportError) and o.request_sent]
    failed = [o for o in outcomes if not isinstance(o, HttpResponse)]
    assert (len(unknown), len(failed)) == (0, 0), failed[:3]
    assert len(server.requests) == SENDS and server.connections == SENDS


# -- odds and ends ---------------------------------------------------------------------------------
def test_header_values_with_surrounding_whitespace_are_sent_trimmed(kind: str) -> None:
    server = RawServer(lambda r: answer())
    with server as base:
        request = HttpRequest("GET", f"{base}/x", (("X-Padded", "  value \t"), ("X-Empty", "")))
        [outcome] = send_all(kind, [request])
    assert isinstance(outcome, HttpResponse), outcome
    assert server.requests[0]["headers"]["x-padded"] == "value"


def test_a_head_or_304_answer_declaring_a_huge_length_is_not_over_the_cap(kind: str) -> None:
    def respond(request: Request) -> bytes:
        status = "304 Not Modified" if request["target"] == "/304" else "200 OK"
        return f"HTTP/1.1 {status}\r\nContent-Length: {11 * 2**20}\r\n\r\n".encode()

    server = RawServer(respond)
    with server as base:
        outcomes = send_all(kind, [HttpRequest("HEAD", f"{base}/x"),
                                   HttpRequest("GET", f"{base}/304")])
    for outcome in outcomes:
        assert isinstance(outcome, HttpResponse), outcome
        assert outcome.content == b""
    assert server.connections == 1  # no body: the connection stays in step


def test_the_blocking_transport_never_imports_asyncio() -> None:
    code = ("import sys; import ratatosk.transports._stdlib, ratatosk.transports._h11; "
            "sys.exit(1 if 'asyncio' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


async def test_an_asyncio_server_closing_after_each_answer_never_gets_a_write_on_it() -> None:
    """The same count for AsyncioTransport against an asyncio server on the same event loop that
    writes each answer and closes (no TCP_CORK): the close reaches the client's socket before
    the client's next send runs, but the loop has not handed it to the protocol yet."""
    accepted: list[int] = []

    class CloseAfterAnswer(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport, self.buffer = transport, b""
            accepted.append(1)

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            head, found, body = self.buffer.partition(b"\r\n\r\n")
            length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")]
            if found and len(body) >= (length[0] if length else 0):
                self.transport.write(answer())
                self.transport.close()

    loop = asyncio.get_running_loop()
    server = await loop.create_server(CloseAfterAnswer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = AsyncioTransport()
    outcomes: list[Outcome] = []
    try:
        for n in range(SENDS):
            try:
                outcomes.append(await transport.send(post(f"http://127.0.0.1:{port}/{n}"),
                                                     timeout=5.0))
            except TransportError as exc:
                outcomes.append(exc)
    finally:
        await transport.aclose()
        server.close()
        await server.wait_closed()
    failed = [o for o in outcomes if not isinstance(o, HttpResponse)]
    assert failed == []
    assert len(accepted) == SENDS
