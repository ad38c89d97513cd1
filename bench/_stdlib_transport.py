"""PROTOTYPE (benchmarks only): a blocking ``SyncTransport`` on the standard library's http.client.

Measures how fast ``connector.blocking()`` sends when the client underneath is the leanest one
Python ships. Not shipped; the starting point of a core transport if the numbers justify it.

Keep-alive connections pooled per (scheme, host, port) behind a lock (the blocking view may be
used from several threads), TLS through ``ssl`` (the default context verifies), http.client's own
framing (Content-Length, chunked, close). A connect failure or timeout is "never sent"; anything
after the request started going out may have reached the server.
"""

from __future__ import annotations

import http.client
import socket
import ssl as _ssl
import threading
from urllib.parse import urlsplit

from ratatosk._http import HttpRequest, HttpResponse, TransportError

_CACHE_LIMIT = 256


class StdlibSyncTransport:
    """A pooled keep-alive ``SyncTransport`` on http.client (see the module docstring)."""

    def __init__(self, *, ssl: _ssl.SSLContext | None = None, max_idle: int = 32) -> None:
        self._ssl = ssl
        self._max_idle = max_idle
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._targets: dict[str, tuple[tuple[str, str, int], str]] = {}
        self._closed = False

    def _target(self, url: str) -> tuple[tuple[str, str, int], str]:
        cached = self._targets.get(url)
        if cached is None:
            try:
                parts = urlsplit(url)
                scheme, host = parts.scheme.lower(), parts.hostname
                port = parts.port or (443 if scheme == "https" else 80)
            except ValueError as exc:
                raise TransportError(f"invalid URL: {exc}", request_sent=False) from exc
            if scheme not in ("http", "https") or not host:
                raise TransportError(f"unsupported URL {url!r}", request_sent=False)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            if len(self._targets) >= _CACHE_LIMIT:
                self._targets.clear()
            cached = self._targets[url] = ((scheme, host, port), target)
        return cached

    def _new(self, key: tuple[str, str, int], timeout: float | None) -> http.client.HTTPConnection:
        scheme, host, port = key
        connection: http.client.HTTPConnection
        if scheme == "https":
            context = self._ssl or _ssl.create_default_context()
            connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            connection.connect()
        except TimeoutError as exc:
            connection.close()
            raise TransportError(f"timed out connecting to {host}:{port}",
                                 request_sent=False, timeout=True) from exc
        except OSError as exc:
            connection.close()
            raise TransportError(f"cannot connect to {host}:{port}: {exc}",
                                 request_sent=False) from exc
        if connection.sock is not None:
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse:
        """Send ``request``; failures raise :class:`TransportError`."""
        if self._closed:
            raise RuntimeError("this StdlibSyncTransport is closed")
        key, target = self._target(request.url)
        with self._lock:
            idle = self._idle.get(key)
            connection = idle.pop() if idle else None
        if connection is None:
            connection = self._new(key, timeout)
        elif connection.sock is not None:
            connection.sock.settimeout(timeout)
        try:
            connection.putrequest(request.method, target, skip_accept_encoding=True)
            for name, value in request.headers:
                connection.putheader(name, value)
            content = request.content
            if content or request.method.upper() in ("POST", "PUT", "PATCH"):
                connection.putheader("Content-Length", str(len(content)))
            connection.endheaders(content or None)
            response = connection.getresponse()
            body = response.read()
        except TimeoutError as exc:
            connection.close()
            raise TransportError("timed out waiting for the response",
                                 request_sent=True, timeout=True) from exc
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise TransportError(f"{type(exc).__name__}: {exc}", request_sent=True) from exc
        headers = {name.lower(): value for name, value in response.getheaders()}
        if response.will_close:
            connection.close()
        else:
            with self._lock:
                idle = self._idle.setdefault(key, [])
                if len(idle) < self._max_idle and not self._closed:
                    idle.append(connection)
                    connection = None
            if connection is not None:
                connection.close()
        return HttpResponse(response.status, headers, body)

    def close(self) -> None:
        """Close the idle connections; later sends raise ``RuntimeError``."""
        with self._lock:
            self._closed = True
            pools, self._idle = self._idle, {}
        for idle in pools.values():
            for connection in idle:
                connection.close()
