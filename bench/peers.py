"""The peers Ratatosk is measured against: twilio-python and raw HTTP clients.

Every case sends the same request (``POST .../Messages.json``, form body To/From/Body, HTTP Basic)
to the loopback server, checks the 201 and reads the new message's sid from the JSON body, so the
raw clients do the least work a real caller must do. Peers are dev dependencies only.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Coroutine
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
    Budget,
    Measurement,
    messages_url,
    run_concurrent,
    run_sequential,
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


def twilio_sync(base_url: str, budget: Budget, concurrency: int) -> Measurement:
    """twilio-python's sync client (requests session, pooled), one message after the other."""
    from twilio.http.http_client import TwilioHttpClient

    client = _twilio_client(base_url, TwilioHttpClient())

    def send() -> bool:
        return bool(client.messages.create(to=TO, from_=FROM, body=BODY).sid)

    try:
        return run_sequential(send, budget)
    finally:
        client.http_client.session.close()


async def twilio_async(base_url: str, budget: Budget, concurrency: int) -> Measurement:
    """twilio-python's AsyncTwilioHttpClient (aiohttp), ``concurrency`` in flight."""
    from twilio.http.async_http_client import AsyncTwilioHttpClient

    http_client = AsyncTwilioHttpClient()
    client = _twilio_client(base_url, http_client)

    async def send() -> bool:
        message = await client.messages.create_async(to=TO, from_=FROM, body=BODY)
        return bool(message.sid)

    try:
        return await run_concurrent(send, concurrency, budget)
    finally:
        await http_client.close()


# -- raw HTTP ------------------------------------------------------------------------------------
def httpx_sync(base_url: str, budget: Budget, concurrency: int) -> Measurement:
    """A raw ``httpx.Client`` (default pool), one request after the other."""
    import httpx

    url = messages_url(base_url)
    with httpx.Client() as client:
        def send() -> bool:
            response = client.post(url, content=FORM_BODY, headers=HEADERS)
            return _sid(response.status_code, response.content)

        return run_sequential(send, budget)


def stdlib_sync(base_url: str, budget: Budget, concurrency: int) -> Measurement:
    """One keep-alive ``http.client.HTTPConnection``: the floor of a blocking Python client."""
    parts = urlsplit(messages_url(base_url))
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
    headers = {**HEADERS, "Content-Length": str(len(FORM_BODY))}

    def send() -> bool:
        connection.request("POST", parts.path, FORM_BODY, headers)
        response = connection.getresponse()
        return _sid(response.status, response.read())

    try:
        return run_sequential(send, budget)
    finally:
        connection.close()


def urllib3_sync(base_url: str, budget: Budget, concurrency: int) -> Measurement:
    """A raw ``urllib3.PoolManager`` (what requests, and so twilio-python, sits on)."""
    import urllib3

    url = messages_url(base_url)
    with urllib3.PoolManager() as pool:
        def send() -> bool:
            response = pool.request("POST", url, body=FORM_BODY, headers=HEADERS,
                                    redirect=False, retries=False)
            return _sid(response.status, response.data)

        return run_sequential(send, budget)


async def _httpx_async(base_url: str, budget: Budget, concurrency: int,
                       transport: Any = None) -> Measurement:
    import httpx

    url = messages_url(base_url)
    async with httpx.AsyncClient(transport=transport) as client:
        async def send() -> bool:
            response = await client.post(url, content=FORM_BODY, headers=HEADERS)
            return _sid(response.status_code, response.content)

        return await run_concurrent(send, concurrency, budget)


async def httpx_async(base_url: str, budget: Budget, concurrency: int) -> Measurement:
    """A raw ``httpx.AsyncClient`` (default pool: 100 connections, 20 kept alive)."""
    return await _httpx_async(base_url, budget, concurrency)


async def httpx_aiohttp(base_url: str, budget: Budget, concurrency: int) -> Measurement:
    """A raw ``httpx.AsyncClient`` on the httpx-aiohttp transport."""
    from httpx_aiohttp import AiohttpTransport

    return await _httpx_async(base_url, budget, concurrency, AiohttpTransport())


async def aiohttp_raw(base_url: str, budget: Budget, concurrency: int) -> Measurement:
    """A raw ``aiohttp.ClientSession`` (default connector: 100 connections)."""
    import aiohttp

    url = messages_url(base_url)
    async with aiohttp.ClientSession() as session:
        async def send() -> bool:
            async with session.post(url, data=FORM_BODY, headers=HEADERS) as response:
                return _sid(response.status, await response.read())

        return await run_concurrent(send, concurrency, budget)


SyncCase = Callable[[str, Budget, int], Measurement]
AsyncCase = Callable[[str, Budget, int], Coroutine[Any, Any, Measurement]]

SYNC_CASES: dict[str, SyncCase] = {
    "twilio_sync": twilio_sync,
    "httpx_sync": httpx_sync,
    "stdlib_sync": stdlib_sync,
    "urllib3_sync": urllib3_sync,
}
ASYNC_CASES: dict[str, AsyncCase] = {
    "twilio_async": twilio_async,
    "httpx_async": httpx_async,
    "httpx_aiohttp": httpx_aiohttp,
    "aiohttp_raw": aiohttp_raw,
}
