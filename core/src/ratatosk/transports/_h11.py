"""HTTP/1.1 framing for the default transports, through h11; no I/O and no asyncio here.

Both :class:`~ratatosk.AsyncioTransport` (asyncio) and
:class:`~ratatosk.transports._stdlib.StdlibSyncTransport` (blocking sockets) keep their own pools,
sockets, TLS set-up and timeouts, and hand every byte to one :class:`HttpConnection` per
connection: a small wrapper around an ``h11.Connection`` (client role) that turns a prepared
request into bytes to write, and bytes read into a :class:`~ratatosk.transports._http.HttpResponse`.

h11 does the HTTP/1.1 grammar: status line and header syntax (bare LF line ends accepted),
``Content-Length`` / chunked / close-delimited framing (a chunk size is hex digits only, so
``0x5`` is refused), interim 1xx answers, HEAD/204/304 without a body, keep-alive rules
(``Connection: close``, HTTP/1.0). Any ``Transfer-Encoding`` other than ``chunked`` (say
``gzip, chunked``) is refused by h11. This module adds what h11 leaves to its user: the 10 MiB
(default) body cap, content codings (``gzip``/``x-gzip``/``deflate``/``identity``, stacked in any
order; any other coding is an error, so compressed bytes never come back as the body), request
preparation (URL, IDNA host, default headers, Basic auth from the URL's userinfo), the proxy
variables and the default TLS trust store.
"""

from __future__ import annotations

import base64
import os
import re
import select
import ssl as _ssl
import zlib
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

import h11
from attrs import define, field

from .._headers import Headers
from ._http import HttpRequest, HttpResponse, TransportError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "MAX_RESPONSE_SIZE",
    "HttpConnection",
    "Key",
    "NoAnswer",
    "Prepared",
    "ProtocolError",
    "after_retry",
    "default_ssl_context",
    "env_proxies",
    "lost",
    "prepare",
    "proxied",
    "readable",
]

MAX_RESPONSE_SIZE = 10 * 2**20
"""The default cap on a response body (10 MiB): a larger one is a :class:`TransportError`."""

MAX_HEAD = 64 * 1024  # status line + headers (h11's max_incomplete_event_size)
CACHE_LIMIT = 256  # prepared requests remembered; a connector uses a handful
_LENGTHS_KEPT = 64  # h11 request events kept per prepared request (one per body length)
_LENGTH_METHODS = frozenset({"POST", "PUT", "PATCH"})  # send Content-Length: 0 when empty
_OWN_HEADERS = frozenset({"content-length", "transfer-encoding"})  # computed, never passed on
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SAFE_TARGET = "!#$%&'()*+,/:;=?@[]~"
_END = h11.EndOfMessage()
_BARE_LF_CHUNK_LINE = re.compile(rb"[0-9A-Fa-f]+[ \t]*(?:;[^\r\n]*)?\n")

Key = tuple[str, str, int]  # scheme, host (ASCII, IDNA-encoded), port


class ProtocolError(Exception):
    """The server's bytes are not a valid HTTP/1.1 response (or one we refuse)."""


class NoAnswer(TransportError):
    """The connection closed after the request was written and before any byte of an answer."""


def _user_agent() -> str:
    from .. import __version__

    return f"ratatosk/{__version__}"


# -- requests --------------------------------------------------------------------------------------
@define(slots=True, eq=False, repr=False)
class Prepared:
    """What a request needs on the wire, computed once per (method, URL, headers): the pool key
    and the h11 request event per body length (validated by h11 once, then reused)."""

    key: Key
    method: bytes
    target: bytes
    headers: list[tuple[bytes, bytes]]  # without Content-Length
    with_length: bool  # Content-Length even for an empty body
    keep_alive: bool  # the caller did not ask for Connection: close
    _events: dict[int, h11.Request] = field(factory=dict)

    def event(self, length: int) -> h11.Request:
        """The h11 request for a body of ``length`` bytes (-1: no body, no Content-Length)."""
        event = self._events.get(length)
        if event is None:
            headers = self.headers
            if length >= 0:
                headers = [*headers, (b"Content-Length", b"%d" % length)]
            try:
                event = h11.Request(method=self.method, target=self.target, headers=headers)
            except h11.LocalProtocolError:  # the details may quote a header's (secret) value
                raise TransportError("invalid request: h11 refused its head",
                                     request_sent=False) from None
            if len(self._events) >= _LENGTHS_KEPT:
                self._events.clear()
            self._events[length] = event
        return event


def prepare(request: HttpRequest) -> Prepared:
    """Validate a request's method, URL and headers and build what h11 needs (callers cache it).

    Raises :class:`TransportError` (``request_sent=False``) for what cannot be sent: a scheme
    other than http/https, no host, a bad port, a host that is not a valid IDNA name, a method
    or header name that is not a token, CR/LF/NUL in a header value, a header that is not
    Latin-1. An internationalised host is IDNA-encoded (the ``Host`` header, the DNS lookup and
    TLS's server name all use the ASCII form)."""
    method = request.method.upper()
    if not method or not set(method) <= _TOKEN:
        raise TransportError(f"invalid HTTP method {request.method[:20]!r}",
                             request_sent=False)
    try:
        parts = urlsplit(request.url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        explicit_port = parts.port
    except ValueError as exc:
        raise TransportError(f"invalid URL: {exc}", request_sent=False) from None
    if scheme not in ("http", "https") or not host:
        raise TransportError(f"unsupported URL {url_for_message(request.url)!r} (http or "
                             "https with a host)", request_sent=False)
    port = explicit_port or (443 if scheme == "https" else 80)
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise TransportError(f"invalid host name in {url_for_message(request.url)!r}",
                                 request_sent=False) from None
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    if not target.isascii() or any(c <= " " or c == "\x7f" for c in target):
        target = quote(target, safe=_SAFE_TARGET)
    userinfo = parts.netloc.rpartition("@")[0]
    names = {name.lower() for name, _ in request.headers}
    lines: list[tuple[str, str]] = []
    if "host" not in names:
        authority = f"[{host}]" if ":" in host else host
        lines.append(("Host", authority if explicit_port is None
                      else f"{authority}:{explicit_port}"))
    keep_alive = True
    for name, value in request.headers:
        lowered = name.lower()
        if not name or not set(name) <= _TOKEN:
            raise TransportError(f"invalid header name {name[:40]!r}", request_sent=False)
        if "\r" in value or "\n" in value or "\0" in value:
            raise TransportError(f"invalid value for header {name!r}", request_sent=False)
        if lowered in _OWN_HEADERS:
            continue
        if lowered == "connection" and "close" in value.lower():
            keep_alive = False
        lines.append((name, value.strip(" \t")))  # surrounding whitespace is not the value
    if userinfo and "authorization" not in names:
        user, _, password = userinfo.partition(":")
        token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
        lines.append(("Authorization", f"Basic {token}"))
    if "user-agent" not in names:
        lines.append(("User-Agent", _user_agent()))
    try:
        headers = [(name.encode("ascii"), value.encode("latin-1")) for name, value in lines]
    except UnicodeEncodeError:
        raise TransportError("a header is not Latin-1 text", request_sent=False) from None
    prepared = Prepared((scheme, host, port), method.encode("ascii"), target.encode("ascii"),
                        headers, method in _LENGTH_METHODS, keep_alive)
    prepared.event(0 if prepared.with_length else -1)  # h11 validates the head now
    return prepared


def url_for_message(url: str) -> str:
    """A URL without its userinfo (no credentials in error messages)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url[:80]
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"[:200]


# -- one connection's HTTP state -------------------------------------------------------------------
class HttpConnection:
    """The HTTP/1.1 state of one connection (an ``h11.Connection``, client role), shared by the
    async and the blocking transport: :meth:`request` gives the bytes to write, :meth:`feed`
    takes the bytes read (``b""`` for the peer's close) and returns the response once complete.
    Invalid answers raise :class:`ProtocolError`; a close before any byte of an answer raises
    :class:`NoAnswer`, a close in the middle of one :class:`TransportError`. ``reusable`` says
    whether the connection may carry another request (keep-alive, nothing extra received)."""

    __slots__ = (
        "_chunked",
        "_codings",
        "_h11",
        "_head_only",
        "_headers",
        "_parts",
        "_size",
        "_status",
        "max_size",
        "received",
        "reusable",
    )

    def __init__(self, max_size: int) -> None:
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        self.max_size = max_size
        self.received = False  # a byte of the current answer arrived
        self.reusable = True
        self._parts: list[bytes] = []
        self._size = 0
        self._status = 0
        self._headers: tuple[tuple[str, str], ...] = ()
        self._codings: str | None = None  # the current answer's Content-Encoding values
        self._chunked = False  # the current answer has a chunked body
        self._head_only = False  # the current request is a HEAD: its answer has no body

    def request(self, prepared: Prepared, content: bytes) -> bytes:
        """The bytes of the next request; the connection then waits for its answer."""
        conn = self._h11
        self.received = False
        self.reusable = False  # until its answer is complete
        self._head_only = prepared.method == b"HEAD"
        length = len(content) if content or prepared.with_length else -1
        data = conn.send(prepared.event(length))
        assert data is not None
        if content:
            body = conn.send(h11.Data(data=content))
            assert body is not None
            data += body
        end = conn.send(_END)
        assert end is not None
        return data + end

    def feed(self, data: bytes) -> HttpResponse | None:
        """Take in bytes read (``b""``: the peer closed); the response once complete."""
        conn = self._h11
        if data:
            self.received = True
        elif not self.received:
            raise lost(None, False)
        try:
            conn.receive_data(data)
            while True:
                event = conn.next_event()
                kind = type(event)
                if kind is h11.Data:
                    chunk = event.data  # type: ignore[union-attr]
                    self._size += len(chunk)
                    if self._size > self.max_size:
                        raise self._too_large()
                    self._parts.append(chunk)
                elif event is h11.NEED_DATA:
                    if not data:  # h11 waits for more after the close: cannot happen
                        raise lost(None, True)
                    if self._chunked and _BARE_LF_CHUNK_LINE.match(conn.trailing_data[0]):
                        # h11 reads chunk-size lines up to CRLF only: it would wait forever
                        raise ProtocolError("a chunk-size line ends with a bare LF")
                    return None
                elif kind is h11.Response:
                    self._head(event)  # type: ignore[arg-type]
                elif kind is h11.EndOfMessage:
                    return self._complete()
                elif kind is h11.InformationalResponse:
                    if event.status_code == 101:  # type: ignore[union-attr]
                        raise ProtocolError("unexpected 101 Switching Protocols")
                else:  # ConnectionClosed or PAUSED before the end of the answer
                    raise lost(None, True)
        except h11.RemoteProtocolError as exc:
            self.reusable = False
            if not data:  # the close cut the body short
                raise lost(None, True) from None
            raise ProtocolError(str(exc) or type(exc).__name__) from None

    def _too_large(self) -> ProtocolError:
        self.reusable = False
        return ProtocolError(f"the response body is larger than {self.max_size} bytes")

    def _head(self, event: h11.Response) -> None:
        headers: list[tuple[str, str]] = []
        chunked = False
        declared = codings = None
        for raw_name, raw_value in event.headers:  # h11 gives names in lower case
            name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
            headers.append((name, value))
            if name == "transfer-encoding":
                chunked = True
            elif name == "content-length":
                declared = value  # h11 refused lengths that differ
            elif name == "content-encoding":
                codings = value if codings is None else f"{codings}, {value}"
        self._status, self._headers = event.status_code, tuple(headers)
        self._chunked, self._codings = chunked, codings
        if (declared is not None and not self._head_only and event.status_code not in (204, 304)
                and int(declared.partition(",")[0]) > self.max_size):
            raise self._too_large()  # refused at once, before the body arrives

    def _complete(self) -> HttpResponse:
        conn = self._h11
        body = b"".join(self._parts)  # bytes (h11 hands out bytearrays)
        status, headers = self._status, self._headers
        self._parts, self._size, self._chunked = [], 0, False
        if (conn.our_state is h11.DONE and conn.their_state is h11.DONE
                and not conn.trailing_data[0]):  # anything more: out of step
            conn.start_next_cycle()
            self.reusable = True
        codings = self._codings
        if codings is not None:
            body = decode(body, codings, self.max_size)
        return HttpResponse(status, Headers._of_pairs(headers), body)


def decode(body: bytes, codings: str, limit: int) -> bytes:
    """``body`` with its content codings undone, last applied first (within ``limit``).

    ``gzip``/``x-gzip``, ``deflate`` (zlib or raw) and ``identity`` are known; any other
    coding raises :class:`ProtocolError`, so encoded bytes never pass for the body."""
    for name in reversed([c.strip().lower() for c in codings.split(",")]):
        if name in ("", "identity") or not body:
            continue
        if name in ("gzip", "x-gzip"):
            wbits = 16 + zlib.MAX_WBITS
        elif name == "deflate":
            wbits = zlib.MAX_WBITS if body[:1] == b"\x78" else -zlib.MAX_WBITS
        else:
            raise ProtocolError(f"unsupported content coding {name[:40]!r}")
        decoder = zlib.decompressobj(wbits)
        try:
            out = decoder.decompress(body, limit + 1)
        except zlib.error as exc:
            raise ProtocolError(f"cannot decode the {name} body: {exc}") from None
        if len(out) > limit:
            raise ProtocolError(f"the decoded response body is larger than {limit} bytes")
        body = out
    return body


# -- failures --------------------------------------------------------------------------------------
def after_retry(error: TransportError, retrying: bool = True) -> TransportError:
    """``error`` as the outcome of a retry: the first attempt was written, so the request may
    have reached the server even when the retry itself never left."""
    if not retrying or error.request_sent:
        return error
    return TransportError(f"{error} (retrying; the first attempt may have reached the server)",
                          request_sent=True, timeout=error.timeout)


def lost(exc: BaseException | None, received: bool) -> TransportError:
    """The error for a connection lost while waiting for an answer (a :class:`NoAnswer` when
    no byte of it arrived)."""
    reason = f"{type(exc).__name__}: {exc}" if exc else "the server closed the connection"
    if not received:
        return NoAnswer(f"{reason} before answering", request_sent=True)
    return TransportError(f"{reason} in the middle of the response", request_sent=True)


def readable(fd: int) -> bool:
    """Whether the socket ``fd`` has something to read right now (bytes or the peer's close);
    an error counts as readable. On an idle keep-alive connection, either means: do not reuse."""
    try:
        if _poll is not None:
            poller = _poll()
            poller.register(fd, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([fd], (), (), 0)[0])  # pragma: no cover - Windows
    except (OSError, ValueError):
        return True


_poll = getattr(select, "poll", None)


# -- TLS -------------------------------------------------------------------------------------------
_contexts: dict[tuple[str | None, str | None], _ssl.SSLContext] = {}


def default_ssl_context() -> _ssl.SSLContext:
    """The verifying client context both transports use for ``https`` unless given one.

    Its trust store is the system's default (:func:`ssl.create_default_context`), plus the
    file named by ``SSL_CERT_FILE`` and the directories in ``SSL_CERT_DIR`` when set; certifi's
    bundle is loaded only when the system store holds no CA certificate. Built once per value
    of those two variables."""
    cafile = os.environ.get("SSL_CERT_FILE") or None
    capath = os.environ.get("SSL_CERT_DIR") or None
    context = _contexts.get((cafile, capath))
    if context is None:
        # the platform's store, and OpenSSL reads SSL_CERT_FILE / SSL_CERT_DIR here itself...
        context = _ssl.create_default_context()
        paths = _ssl.get_default_verify_paths()
        # ...*instead of* its default file and directory: add those back
        if cafile and _usable(paths.openssl_cafile, cafile, os.path.isfile):
            context.load_verify_locations(cafile=paths.openssl_cafile)
        if capath and _usable(paths.openssl_capath, capath, os.path.isdir):
            context.load_verify_locations(capath=paths.openssl_capath)
        if not _system_has_cas(context, paths, bool(cafile or capath)):
            try:
                import certifi
            except ImportError:  # pragma: no cover - httpx depends on certifi
                pass
            else:
                context.load_verify_locations(cafile=certifi.where())
        context.set_alpn_protocols(["http/1.1"])
        _contexts[(cafile, capath)] = context
    return context


def _usable(default: str | None, given: str, exists: Callable[[str], bool]) -> bool:
    """Whether OpenSSL's ``default`` location exists and is not what the variable names."""
    if not default or not exists(default):
        return False
    given_paths = {os.path.realpath(p) for p in given.split(os.pathsep) if p}
    return os.path.realpath(default) not in given_paths


def _system_has_cas(context: _ssl.SSLContext, paths: _ssl.DefaultVerifyPaths,
                    overridden: bool) -> bool:
    """Whether the system's own store (not the variables') holds a CA certificate."""
    if not overridden:
        return bool(context.cert_store_stats().get("x509_ca", 0))  # any platform's store
    cafile = paths.openssl_cafile
    if cafile and os.path.isfile(cafile):
        try:
            with open(cafile, "rb") as file:
                if b"-----BEGIN CERTIFICATE-----" in file.read():
                    return True
        except OSError:
            pass
    directory = paths.openssl_capath  # read lazily by OpenSSL, so counted by its hashed names
    try:
        return bool(directory) and any(name[-2:-1] == "." and name[-1:].isdigit()
                                       for name in os.listdir(directory))
    except OSError:
        return False


# -- proxies ---------------------------------------------------------------------------------------
def env_proxies(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{scheme: proxy URL, "no": NO_PROXY}`` from ``*_proxy`` variables (lower case wins),
    as :func:`urllib.request.getproxies_environment` reads them."""
    if environ is None:
        environ = os.environ
    proxies: dict[str, str] = {}
    for name, value in environ.items():  # any case first, then lower case overrides
        if value and name.lower().endswith("_proxy"):
            proxies[name.lower()[:-6]] = value
    for name, value in environ.items():
        if name.islower() and name.endswith("_proxy"):
            if value:
                proxies[name[:-6]] = value
            else:
                proxies.pop(name[:-6], None)
    if "REQUEST_METHOD" in environ:  # CGI: HTTP_PROXY is a request header (httpoxy)
        proxies.pop("http", None)
    return proxies


def proxied(url: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the proxy environment variables send ``url`` through a proxy.

    True when ``HTTP_PROXY`` / ``HTTPS_PROXY`` (for the URL's scheme) or ``ALL_PROXY`` is set,
    in upper or lower case, and ``NO_PROXY`` does not exclude the URL's host (the standard
    library's matching, as requests applies it). ``environ``: default ``os.environ``.
    """
    proxies = env_proxies(environ)
    if not proxies:
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if not (proxies.get(scheme) or proxies.get("all")):
        return False
    target = host if port is None else f"{host}:{port}"
    import urllib.request

    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    return not bypass(target, proxies)
