"""The peers Ratatosk is measured against: twilio-python and raw HTTP clients.

Every case sends the same request (``POST .../Messages.json``, form body To/From/Body, HTTP Basic)
to the loopback server, checks the 201 and reads the new message's sid from the JSON body, so the
raw clients do the least work a real caller must do. Peers are dev dependencies only.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from _common import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BODY,
    FORM_BODY,
    FROM,
    HEADERS,
    TO,
    Drive,
    Session,
    SyncSession,
    async_session,
    concurrent,
    messages_url,
)


def _sid(status: int, content: bytes) -> bool:
    return status == 201 and bool(json.loads(content)["sid"])


# -- twilio-python -------------------------------------------------------------------------------
def _twilio_client(base_url: str, http_client: Any) -> Any:
    from twilio.rest import Client

    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http_client)
    # The cleanest redirect twilio-python offers: its `api` domain joins every URI to base_url.
    client.api.base_url = base_url.rstrip("/")
    return client


def twilio_sync(base_url: str, concurrency: int) -> Session:
    """twilio-python's sync client (requests session, pooled), one message after the other."""
    from twilio.http.http_client import TwilioHttpClient

    client = _twilio_client(base_url, TwilioHttpClient())

    def send() -> bool:
        return bool(client.messages.create(to=TO, from_=FROM, body=BODY).sid)

    return SyncSession(send, client.http_client.session.close)


def twilio_async(base_url: str, concurrency: int) -> Session:
    """twilio-python's AsyncTwilioHttpClient (aiohttp), ``concurrency`` in flight."""

    async def setup() -> tuple[Drive, Callable[[], Awaitable[object]], dict[str, Any]]:
        from twilio.http.async_http_client import AsyncTwilioHttpClient

        http_client = AsyncTwilioHttpClient()
        client = _twilio_client(base_url, http_client)

        async def send() -> bool:
            message = await client.messages.create_async(to=TO, from_=FROM, body=BODY)
            return bool(message.sid)

        return concurrent(send, concurrency), http_client.close, {}

    return async_session(setup)


# -- raw HTTP ------------------------------------------------------------------------------------
def httpx_sync(base_url: str, concurrency: int) -> Session:
    """A raw ``httpx.Client`` (default pool), one request after the other."""
    import httpx

    url = messages_url(base_url)
    client = httpx.Client()

    def send() -> bool:
        response = client.post(url, content=FORM_BODY, headers=HEADERS)
        return _sid(response.status_code, response.content)

    return SyncSession(send, client.close)


def stdlib_sync(base_url: str, concurrency: int) -> Session:
    """One keep-alive ``http.client.HTTPConnection``: the floor of a blocking Python client."""
    parts = urlsplit(messages_url(base_url))
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
    headers = {**HEADERS, "Content-Length": str(len(FORM_BODY))}

    def send() -> bool:
        connection.request("POST", parts.path, FORM_BODY, headers)
        response = connection.getresponse()
        return _sid(response.status, response.read())

    return SyncSession(send, connection.close)


def urllib3_sync(base_url: str, concurrency: int) -> Session:
    """A raw ``urllib3.PoolManager`` (what requests, and so twilio-python, sits on)."""
    import urllib3

    url = messages_url(base_url)
    pool = urllib3.PoolManager()

    def send() -> bool:
        response = pool.request("POST", url, body=FORM_BODY, headers=HEADERS,
                                redirect=False, retries=False)
        return _sid(response.status, response.data)

    return SyncSession(send, pool.clear)


def _httpx_async(base_url: str, concurrency: int, aiohttp_transport: bool = False) -> Session:
    async def setup() -> tuple[Drive, Callable[[], Awaitable[object]], dict[str, Any]]:
        import httpx

        transport = None
        if aiohttp_transport:
            from httpx_aiohttp import AiohttpTransport

            transport = AiohttpTransport()
        url = messages_url(base_url)
        client = httpx.AsyncClient(transport=transport)

        async def send() -> bool:
            response = await client.post(url, content=FORM_BODY, headers=HEADERS)
            return _sid(response.status_code, response.content)

        return concurrent(send, concurrency), client.aclose, {}

    return async_session(setup)


def httpx_async(base_url: str, concurrency: int) -> Session:
    """A raw ``httpx.AsyncClient`` (default pool: 100 connections, 20 kept alive)."""
    return _httpx_async(base_url, concurrency)


def httpx_aiohttp(base_url: str, concurrency: int) -> Session:
    """A raw ``httpx.AsyncClient`` on the httpx-aiohttp transport."""
    return _httpx_async(base_url, concurrency, aiohttp_transport=True)


def aiohttp_raw(base_url: str, concurrency: int) -> Session:
    """A raw ``aiohttp.ClientSession`` (default connector: 100 connections)."""

    async def setup() -> tuple[Drive, Callable[[], Awaitable[object]], dict[str, Any]]:
        import aiohttp

        url = messages_url(base_url)
        session = aiohttp.ClientSession()

        async def send() -> bool:
            async with session.post(url, data=FORM_BODY, headers=HEADERS) as response:
                return _sid(response.status, await response.read())

        return concurrent(send, concurrency), session.close, {}

    return async_session(setup)


CASES: dict[str, Callable[[str, int], Session]] = {
    "twilio_sync": twilio_sync,
    "httpx_sync": httpx_sync,
    "stdlib_sync": stdlib_sync,
    "urllib3_sync": urllib3_sync,
    "twilio_async": twilio_async,
    "httpx_async": httpx_async,
    "httpx_aiohttp": httpx_aiohttp,
    "aiohttp_raw": aiohttp_raw,
}
