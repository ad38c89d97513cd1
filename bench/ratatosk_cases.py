"""The Ratatosk side of the benchmark: send_batch, blocking sends, the webhook path, memory.

Each case builds a session (``_common.Session``): set up once, run in timed slices, closed with
its extra figures (which transport ran, memory). The connector is the real ``TwilioSmsConnector``
with ``BaseUrl`` pointing at the loopback server; only the transport differs between the rows of
one kind.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from _common import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BODY,
    FROM,
    TO,
    Budget,
    Drive,
    Measurement,
    Session,
    SyncSession,
    async_session,
    concurrent,
    gated,
)
from attrs import define, field

if TYPE_CHECKING:
    from ratatosk import Message, MessageSource
    from ratatosk.connector import Connector

WEBHOOK_URL = "https://bench.example.com/twilio/sms"
CHUNK = 2_000  # webhook inputs built per untimed round

Setup = tuple[Drive, Callable[[], Awaitable[object]], dict[str, Any]]


def _settings(base_url: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "AuthToken": AUTH_TOKEN,
        "BaseUrl": base_url.rstrip("/"),
        "WebhookUrl": WEBHOOK_URL,
    }


def _async_transport(name: str) -> Any:
    """``default`` (None: the connector's own), ``asyncio`` (AsyncioTransport), ``httpx``,
    ``aiohttp``, ``httpx-aiohttp``."""
    if name == "default":
        return None
    if name == "asyncio":
        from ratatosk._asynchttp import AsyncioTransport

        return AsyncioTransport()
    if name == "httpx":
        from ratatosk._http import HttpxAsyncTransport

        return HttpxAsyncTransport()
    if name == "aiohttp":
        from ratatosk._aiohttp import AiohttpTransport

        return AiohttpTransport()
    if name == "httpx-aiohttp":
        import httpx_aiohttp

        from ratatosk._http import HttpxAsyncTransport

        return HttpxAsyncTransport(transport=httpx_aiohttp.AiohttpTransport())
    raise SystemExit(f"unknown transport {name!r}")


def _async_connector(base_url: str, transport: str) -> tuple[Connector, Any]:
    """A Twilio connector (async use) and the transport injected into it (None: its own)."""
    from ratatosk_twilio import TwilioSmsConnector

    injected = _async_transport(transport)
    return TwilioSmsConnector(None, _settings(base_url), async_transport=injected), injected


def _closer(connector: Connector, injected: Any,
            extra: dict[str, Any]) -> Callable[[], Awaitable[object]]:
    """Shut the connector down, then close an injected transport (a connector never closes
    transports it was given); note which transport the connector used."""

    async def close() -> None:
        extra["transport_class"] = _transport_name(connector)
        await connector.shutdown()
        if injected is not None:
            await injected.aclose()

    return close


def _message(text: str = BODY) -> Message:
    from ratatosk import MessageBuilder

    return MessageBuilder().from_phone(FROM).to_phone(TO).with_text(text).build()


def _transport_name(connector: Connector) -> str:
    """The class of the async transport the connector ended up with (best effort, for labels)."""
    return type(connector.runtime.async_transport()).__name__


# -- sending -------------------------------------------------------------------------------------
async def _batch(connector: Connector, messages: Iterator[Message], concurrency: int,
                 result: Measurement) -> None:
    async for item in connector.send_batch(messages, concurrency=concurrency):
        if item.result.is_success:
            result.ok += 1
        else:
            result.record_error(item.result.error)


def send_batch(base_url: str, concurrency: int, transport: str) -> Session:
    """``send_batch`` over a generator that yields for as long as the slice's budget allows."""

    async def setup() -> Setup:
        connector, injected = _async_connector(base_url, transport)
        message = _message()

        async def drive(gate: Callable[[], bool], result: Measurement) -> None:
            await _batch(connector, gated(gate, message), concurrency, result)

        extra: dict[str, Any] = {}
        return drive, _closer(connector, injected, extra), extra

    return async_session(setup)


def blocking(base_url: str, concurrency: int, transport: str) -> Session:
    """``connector.blocking().send_message`` one after the other (no event loop).

    ``transport``: ``default`` (the connector's own) or ``httpx`` (``HttpxSyncTransport``, the
    previous default, kept as a measured comparison)."""
    from ratatosk_twilio import TwilioSmsConnector

    injected = None
    if transport == "httpx":
        from ratatosk._http import HttpxSyncTransport

        injected = HttpxSyncTransport()
    elif transport != "default":
        raise SystemExit(f"unknown blocking transport {transport!r}")
    base = TwilioSmsConnector(None, _settings(base_url), sync_transport=injected)
    connector = base.blocking()
    message = _message()
    extra: dict[str, Any] = {}

    def send() -> bool:
        return connector.send_message(message).is_success

    def close() -> None:
        extra["transport_class"] = type(base.runtime.sync_transport()).__name__
        connector.shutdown()
        if injected is not None:
            injected.close()

    return SyncSession(send, close, extra)


def memory(base_url: str, concurrency: int, transport: str) -> Session:
    """``send_batch`` over a generator of distinct messages (the budget's ``count`` of them);
    the worker reports the peak RSS, this case the RSS before the batch."""

    async def setup() -> Setup:
        connector, injected = _async_connector(base_url, transport)
        extra: dict[str, Any] = {"baseline_rss_mb": _rss_mb()}

        async def drive(gate: Callable[[], bool], result: Measurement) -> None:
            def messages() -> Iterator[Message]:
                for i in itertools.count():
                    if not gate():
                        return
                    yield _message(f"Hello #{i} from the benchmark")

            await _batch(connector, messages(), concurrency, result)

        return drive, _closer(connector, injected, extra), extra

    return async_session(setup)


def _rss_mb() -> float:
    """The current resident set size, from /proc (Linux); 0 when unavailable."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def transport_alone(base_url: str, concurrency: int, transport: str) -> Session:
    """The async transport alone, sending a prebuilt ``HttpRequest`` (no connector around it);
    also the sandbox's create throughput, when ``base_url`` is a sandbox."""
    from _common import FORM_BODY, HEADERS, messages_url

    from ratatosk._http import HttpRequest

    request = HttpRequest("POST", messages_url(base_url), tuple(HEADERS.items()), FORM_BODY)

    async def setup() -> Setup:
        sender = _async_transport(transport if transport != "default" else "httpx")

        async def send() -> bool:
            response = await sender.send(request, timeout=30.0)
            return response.status_code == 201 and bool(response.json()["sid"])

        return concurrent(send, concurrency), sender.aclose, {
            "transport_class": type(sender).__name__}

    return async_session(setup)


# -- webhooks ------------------------------------------------------------------------------------
def _inbound_params(i: int) -> dict[str, str]:
    """An inbound SMS webhook as Twilio posts it (the usual fields), with a unique MessageSid."""
    sid = f"SM{i:032x}"
    return {
        "ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": "0",
        "ToCity": "SAN FRANCISCO", "FromZip": "94105", "SmsSid": sid, "FromState": "CA",
        "SmsStatus": "received", "FromCity": "SAN FRANCISCO", "Body": f"Inbound message {i}",
        "FromCountry": "US", "To": FROM, "MessagingServiceSid": "MG" + "0" * 32,
        "ToZip": "94105", "NumSegments": "1", "MessageSid": sid, "AccountSid": ACCOUNT_SID,
        "From": TO, "ApiVersion": "2010-04-01",
    }


def _signed_chunk(start: int) -> list[tuple[dict[str, str], str, bytes]]:
    """CHUNK distinct webhooks: params, X-Twilio-Signature (twilio-python's), form body."""
    from urllib.parse import urlencode

    from twilio.request_validator import RequestValidator

    validator = RequestValidator(AUTH_TOKEN)
    out = []
    for i in range(start, start + CHUNK):
        params = _inbound_params(i)
        out.append((params, validator.compute_signature(WEBHOOK_URL, params),
                    urlencode(params).encode()))
    return out


@define(eq=False)
class _Chunked:
    """Runs ``run_chunk(start, limit)`` on chunks of inputs built untimed, until the slice's
    budget of timed seconds (or of items) is spent; distinct inputs from slice to slice."""

    run_chunk: Callable[[int, int], Measurement]
    cleanup: Callable[[], object] = lambda: None
    _next: int = field(init=False, default=0)

    def run(self, budget: Budget) -> Measurement:
        total = Measurement()
        while True:
            start, self._next = self._next, self._next + CHUNK
            left = CHUNK if budget.count is None else budget.count - total.ok - total.errors
            part = self.run_chunk(start, min(CHUNK, left))
            total.ok += part.ok
            total.errors += part.errors
            total.elapsed += part.elapsed
            total.cpu += part.cpu
            total.first_error = total.first_error or part.first_error
            if budget.count is not None and total.ok + total.errors >= budget.count:
                return total
            if budget.count is None and total.elapsed >= (budget.duration or 1.0):
                return total

    def close(self) -> dict[str, Any]:
        self.cleanup()
        return {}


def webhook(base_url: str, concurrency: int, transport: str) -> Session:
    """``connector.receive_messages`` on signed sources: signature check + parse into a Message."""
    from ratatosk import MessageSource
    from ratatosk_twilio import TwilioSmsConnector

    connector = TwilioSmsConnector(None, _settings(base_url))
    loop = asyncio.new_event_loop()

    async def timed(sources: list[MessageSource]) -> Measurement:
        part = Measurement()
        cpu, began = time.process_time(), time.perf_counter()
        for source in sources:
            received = await connector.receive_messages(source)
            if received.is_success and received.data and len(received.data.messages) == 1:
                part.ok += 1
            else:
                part.record_error(received.error or received.data)
        part.elapsed = time.perf_counter() - began
        part.cpu = time.process_time() - cpu
        return part

    def run_chunk(start: int, limit: int) -> Measurement:
        sources = [MessageSource.url_post(body, url=WEBHOOK_URL,
                                          headers={"X-Twilio-Signature": signature})
                   for _, signature, body in _signed_chunk(start)[:limit]]
        return loop.run_until_complete(timed(sources))

    def close() -> None:
        try:
            loop.run_until_complete(connector.shutdown())
        finally:
            loop.close()

    return _Chunked(run_chunk, close)


def validator(base_url: str, concurrency: int, transport: str) -> Session:
    """twilio-python's ``RequestValidator.validate`` alone, on already-parsed params."""
    from twilio.request_validator import RequestValidator

    check = RequestValidator(AUTH_TOKEN)

    def run_chunk(start: int, limit: int) -> Measurement:
        inputs = _signed_chunk(start)[:limit]
        part = Measurement()
        cpu, began = time.process_time(), time.perf_counter()
        for params, signature, _ in inputs:
            if check.validate(WEBHOOK_URL, params, signature):
                part.ok += 1
            else:
                part.record_error("signature rejected")
        part.elapsed = time.perf_counter() - began
        part.cpu = time.process_time() - cpu
        return part

    return _Chunked(run_chunk)


CASES: dict[str, Callable[[str, int, str], Session]] = {
    "ratatosk_batch": send_batch,
    "ratatosk_blocking": blocking,
    "ratatosk_memory": memory,
    "ratatosk_webhook": webhook,
    "transport_alone": transport_alone,
    "twilio_validator": validator,
}
