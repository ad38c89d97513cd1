"""The Ratatosk side of the benchmark: send_batch, blocking sends, the webhook path, memory.

Each case returns ``(Measurement, extra)`` where ``extra`` holds case-specific figures (peak memory,
which transport ran). The connector is the real ``TwilioSmsConnector`` with ``BaseUrl`` pointing at
the loopback server; only the transport differs between the rows of one kind.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from _common import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BODY,
    FROM,
    TO,
    Budget,
    Measurement,
    gated,
)

if TYPE_CHECKING:
    from ratatosk import Message, MessageSource
    from ratatosk._connector import Connector

WEBHOOK_URL = "https://bench.example.com/twilio/sms"
CHUNK = 2_000  # webhook inputs built per untimed round

Case = Callable[[str, Budget, int, str], "tuple[Measurement, dict[str, Any]]"]


def _settings(base_url: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "AuthToken": AUTH_TOKEN,
        "BaseUrl": base_url.rstrip("/"),
        "WebhookUrl": WEBHOOK_URL,
    }


def _async_transport(name: str) -> Any:
    """``default`` (None: the connector's own), ``httpx``, ``aiohttp``, ``httpx-aiohttp``,
    ``protocol`` (the prototype in ``bench/_protocol_transport.py``)."""
    if name == "default":
        return None
    if name == "httpx":
        from ratatosk._http import HttpxAsyncTransport

        return HttpxAsyncTransport()
    if name == "aiohttp":
        from ratatosk._aiohttp import AiohttpTransport

        return AiohttpTransport()
    if name == "protocol":  # the bench-only prototype (bench/_protocol_transport.py)
        from _protocol_transport import ProtocolTransport

        return ProtocolTransport()
    if name == "httpx-aiohttp":
        import httpx_aiohttp

        from ratatosk._http import HttpxAsyncTransport

        return HttpxAsyncTransport(transport=httpx_aiohttp.AiohttpTransport())
    raise SystemExit(f"unknown transport {name!r}")


class _Connected:
    """``async with _Connected(url, transport) as connector``: also closes an injected transport
    (a connector never closes transports it was given)."""

    def __init__(self, base_url: str, transport: str = "default") -> None:
        from ratatosk_twilio import TwilioSmsConnector

        self.transport = _async_transport(transport)
        self.connector: Connector = TwilioSmsConnector(None, _settings(base_url),
                                                       async_transport=self.transport)

    async def __aenter__(self) -> Connector:
        return self.connector

    async def __aexit__(self, *exc: object) -> None:
        await self.connector.shutdown()
        if self.transport is not None:
            await self.transport.aclose()


def _connector(base_url: str, sync_transport: Any = None) -> Connector:
    from ratatosk_twilio import TwilioSmsConnector

    return TwilioSmsConnector(None, _settings(base_url), sync_transport=sync_transport)


def _message(text: str = BODY) -> Message:
    from ratatosk import MessageBuilder

    return MessageBuilder().from_phone(FROM).to_phone(TO).with_text(text).build()


def _transport_name(connector: Connector) -> str:
    """The class of the async transport the connector ended up with (best effort, for labels)."""
    transport = getattr(connector, "_async_transport", None)
    return type(transport).__name__ if transport is not None else "?"


# -- sending -------------------------------------------------------------------------------------
async def _batch(connector: Connector, messages: Iterator[Message], concurrency: int,
                 result: Measurement) -> None:
    async for item in connector.send_batch(messages, concurrency=concurrency):
        if item.result.is_success:
            result.ok += 1
        else:
            result.record_error(item.result.error)


def send_batch(base_url: str, budget: Budget, concurrency: int,
               transport: str) -> tuple[Measurement, dict[str, Any]]:
    """``send_batch`` over a generator that yields for as long as the budget allows."""

    async def run() -> tuple[Measurement, dict[str, Any]]:
        message = _message()
        async with _Connected(base_url, transport) as connector:
            warm = Measurement()
            await _batch(connector, gated(budget.warmup_gate(), message),
                         concurrency, warm)
            result = Measurement()
            cpu, start = time.process_time(), time.perf_counter()
            await _batch(connector, gated(budget.gate(), message),
                         concurrency, result)
            result.elapsed = time.perf_counter() - start
            result.cpu = time.process_time() - cpu
            if warm.errors and not result.first_error:
                result.first_error = warm.first_error
            return result, {"transport_class": _transport_name(connector)}

    return asyncio.run(run())


def blocking(base_url: str, budget: Budget, concurrency: int,
             transport: str) -> tuple[Measurement, dict[str, Any]]:
    """``connector.blocking().send_message`` one after the other (no event loop).

    ``transport``: ``default`` (the connector's own) or ``stdlib`` (the bench-only prototype in
    ``bench/_stdlib_transport.py``)."""
    from _common import run_sequential

    injected = None
    if transport == "stdlib":
        from _stdlib_transport import StdlibSyncTransport

        injected = StdlibSyncTransport()
    base = _connector(base_url, injected)
    connector = base.blocking()
    message = _message()

    def send() -> bool:
        return connector.send_message(message).is_success

    try:
        used = getattr(base, "_sync_transport", None)
        return run_sequential(send, budget), {
            "transport_class": type(getattr(base, "_sync_transport", used)).__name__}
    finally:
        connector.shutdown()
        if injected is not None:
            injected.close()


def memory(base_url: str, budget: Budget, concurrency: int,
           transport: str) -> tuple[Measurement, dict[str, Any]]:
    """Peak RSS of ``send_batch`` over a generator of ``budget.count`` distinct messages."""
    count = budget.count or 100_000

    def messages() -> Iterator[Message]:
        for i in range(count):
            yield _message(f"Hello #{i} from the benchmark")

    async def run() -> tuple[Measurement, dict[str, Any]]:
        baseline = _rss_mb()
        async with _Connected(base_url, transport) as connector:
            result = Measurement()
            cpu, start = time.process_time(), time.perf_counter()
            await _batch(connector, messages(), concurrency, result)
            result.elapsed = time.perf_counter() - start
            result.cpu = time.process_time() - cpu
            return result, {"baseline_rss_mb": baseline, "messages": count,
                            "transport_class": _transport_name(connector)}

    return asyncio.run(run())


def _rss_mb() -> float:
    """The current resident set size, from /proc (Linux); 0 when unavailable."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def transport_alone(base_url: str, budget: Budget, concurrency: int,
                    transport: str) -> tuple[Measurement, dict[str, Any]]:
    """The async transport alone, sending a prebuilt ``HttpRequest`` (no connector around it)."""
    from _common import FORM_BODY, HEADERS, messages_url, run_concurrent

    from ratatosk._http import HttpRequest

    request = HttpRequest("POST", messages_url(base_url), tuple(HEADERS.items()), FORM_BODY)

    async def run() -> tuple[Measurement, dict[str, Any]]:
        sender = _async_transport(transport if transport != "default" else "httpx")

        async def send() -> bool:
            response = await sender.send(request, timeout=30.0)
            return response.status_code == 201 and bool(response.json()["sid"])

        try:
            return await run_concurrent(send, concurrency, budget), {
                "transport_class": type(sender).__name__}
        finally:
            await sender.aclose()

    return asyncio.run(run())


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


def _timed_chunks(budget: Budget, run_chunk: Callable[[int], Measurement]) -> Measurement:
    """Run chunk after chunk (inputs built untimed) until the budget's time or count is spent."""
    total = Measurement()
    run_chunk(0)  # warm-up
    start = CHUNK
    while True:
        part = run_chunk(start)
        start += CHUNK
        total.ok += part.ok
        total.errors += part.errors
        total.elapsed += part.elapsed
        total.cpu += part.cpu
        total.first_error = total.first_error or part.first_error
        if budget.count is not None and total.ok + total.errors >= budget.count:
            return total
        if budget.count is None and total.elapsed >= (budget.duration or 1.0):
            return total


def webhook(base_url: str, budget: Budget, concurrency: int,
            transport: str) -> tuple[Measurement, dict[str, Any]]:
    """``connector.receive_messages`` on signed sources: signature check + parse into a Message."""
    from ratatosk import MessageSource

    async def run() -> Measurement:
        async with _Connected(base_url) as connector:
            async def run_chunk(start: int) -> Measurement:
                sources: list[MessageSource] = [
                    MessageSource.url_post(body, url=WEBHOOK_URL,
                                           headers={"X-Twilio-Signature": signature})
                    for _, signature, body in _signed_chunk(start)
                ]
                limit = budget.count if budget.count is not None else len(sources)
                part = Measurement()
                cpu, began = time.process_time(), time.perf_counter()
                for source in sources[:limit]:
                    received = await connector.receive_messages(source)
                    if received.is_success and received.data and len(received.data.messages) == 1:
                        part.ok += 1
                    else:
                        part.record_error(received.error or received.data)
                part.elapsed = time.perf_counter() - began
                part.cpu = time.process_time() - cpu
                return part

            return await _timed_chunks_async(budget, run_chunk)

    return asyncio.run(run()), {}


async def _timed_chunks_async(budget: Budget, run_chunk: Any) -> Measurement:
    total = Measurement()
    await run_chunk(0)
    start = CHUNK
    while True:
        part = await run_chunk(start)
        start += CHUNK
        total.ok += part.ok
        total.errors += part.errors
        total.elapsed += part.elapsed
        total.cpu += part.cpu
        total.first_error = total.first_error or part.first_error
        if budget.count is not None and total.ok + total.errors >= budget.count:
            return total
        if budget.count is None and total.elapsed >= (budget.duration or 1.0):
            return total


def validator(base_url: str, budget: Budget, concurrency: int,
              transport: str) -> tuple[Measurement, dict[str, Any]]:
    """twilio-python's ``RequestValidator.validate`` alone, on already-parsed params."""
    from twilio.request_validator import RequestValidator

    check = RequestValidator(AUTH_TOKEN)

    def run_chunk(start: int) -> Measurement:
        inputs = _signed_chunk(start)
        limit = budget.count if budget.count is not None else len(inputs)
        part = Measurement()
        cpu, began = time.process_time(), time.perf_counter()
        for params, signature, _ in inputs[:limit]:
            if check.validate(WEBHOOK_URL, params, signature):
                part.ok += 1
            else:
                part.record_error("signature rejected")
        part.elapsed = time.perf_counter() - began
        part.cpu = time.process_time() - cpu
        return part

    return _timed_chunks(budget, run_chunk), {}


CASES: dict[str, Case] = {
    "ratatosk_batch": send_batch,
    "ratatosk_blocking": blocking,
    "ratatosk_memory": memory,
    "ratatosk_webhook": webhook,
    "transport_alone": transport_alone,
    "twilio_validator": validator,
}
