"""send_batch adapts: a slow start, stop at once on errors that concern every message, slow down
under throttling and send throttled messages again (BatchPacer), on both engines.

The real-server twins (the Twilio sandbox answering 401 and 429, closing early) are in
tests/scale/test_bulk_adaptive.py."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pluggy
import pytest

import ratatosk.hookspecs
from ratatosk import (
    COMMON_PARAMETERS,
    BatchSendResult,
    ChannelCapability,
    ChannelEndpoint,
    ChannelParameter,
    ChannelSchema,
    Connector,
    ConnectorErrorCodes,
    EndpointType,
    Err,
    ErrorInfo,
    Flow,
    HttpRequest,
    HttpResponse,
    Message,
    MessageBuilder,
    MessageContentType,
    MessageStatus,
    MessagingErrorCodes,
    Ok,
    SendResult,
    TransportError,
)
from ratatosk.connector import MAX_AGAIN, BatchJob, BatchPacer, concerns_every_row
from ratatosk.provider import error_from_response

SCHEMA = ChannelSchema(
    "paced", "sms", "1.0",
    capabilities=ChannelCapability.SEND_MESSAGES | ChannelCapability.BULK_MESSAGING,
    content_types=(MessageContentType.PLAIN_TEXT,),
    endpoints=(ChannelEndpoint(EndpointType.PHONE_NUMBER),),
    parameters=(ChannelParameter("BaseUrl", default="http://paced.test"), *COMMON_PARAMETERS),
)
FAST_RETRIES = {"MaxRetries": "0", "RetryBaseDelay": "0.001", "RetryMaxDelay": "0.01"}


class Paced(Connector):
    """Sends the text as the body; maps HTTP errors the standard way."""

    default_schema = SCHEMA

    def send_message_flow(self, message: Message) -> Flow[SendResult]:
        response = yield HttpRequest("POST", "http://paced.test/send",
                                     content=(message.text or "").encode())
        if response.status_code >= 400:
            return Err(error_from_response(response, provider="Paced"))
        return Ok(SendResult(message.id, message.text, MessageStatus.SENT))


class Provider:
    """What the fake provider answers: ``status`` to everything, or 429 (Retry-After: 0) to a
    request beyond ``cap`` in flight; ``unreachable`` makes every connection fail."""

    def __init__(self, *, status: int = 201, cap: int | None = None,
                 unreachable: bool = False, latency: float = 0.002) -> None:
        self.status, self.cap, self.unreachable, self.latency = status, cap, unreachable, latency
        self.lock = threading.Lock()
        self.calls = self.throttled = self.in_flight = self.max_accepted = 0
        self.accepted_after: list[int] = []  # in flight at each accepted request

    def enter(self) -> HttpResponse | None:
        with self.lock:
            self.calls += 1
            if self.unreachable:
                raise TransportError("connection refused", request_sent=False)
            if self.cap is not None and self.in_flight >= self.cap:
                self.throttled += 1
                return HttpResponse(429, {"retry-after": "0"}, b"")
            self.in_flight += 1
            self.max_accepted = max(self.max_accepted, self.in_flight)
            self.accepted_after.append(self.in_flight)
            return None

    def leave(self) -> HttpResponse:
        with self.lock:
            self.in_flight -= 1
        return HttpResponse(self.status, {}, b"")


class AsyncProvider(Provider):
    async def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse:
        refused = self.enter()
        if refused is not None:
            return refused
        try:
            await asyncio.sleep(self.latency)
        finally:
            answer = self.leave()
        return answer

    async def aclose(self) -> None:
        pass


class SyncProvider(Provider):
    def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse:
        refused = self.enter()
        if refused is not None:
            return refused
        try:
            time.sleep(self.latency)
        finally:
            answer = self.leave()
        return answer

    def close(self) -> None:
        pass


def fresh_pm() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("ratatosk")
    pm.add_hookspecs(ratatosk.hookspecs)
    return pm


def messages(n: int) -> Iterator[Message]:
    return (MessageBuilder().to_phone("+15550002222").with_text(f"m{i}").build()
            for i in range(n))


async def run_batch(engine: str, provider_kw: dict[str, Any], n: int,
                    concurrency: int = 16) -> tuple[Provider, list[BatchSendResult]]:
    """The batch's results on the async engine or the blocking (thread-pool) one."""
    if engine == "async":
        provider: Provider = AsyncProvider(**provider_kw)
        c = Paced(settings=FAST_RETRIES, async_transport=provider, plugin_manager=fresh_pm())
        return provider, [r async for r in c.send_batch(messages(n), concurrency=concurrency)]
    provider = SyncProvider(**provider_kw)
    c = Paced(settings=FAST_RETRIES, sync_transport=provider, plugin_manager=fresh_pm())
    batch = c.blocking().send_batch(messages(n), concurrency=concurrency)
    return provider, await asyncio.to_thread(list, batch)


ENGINES = pytest.mark.parametrize("engine", ["async", "blocking"])


@ENGINES
async def test_bad_credentials_stop_the_batch_after_one_request(engine: str) -> None:
    provider, results = await run_batch(engine, {"status": 401}, 200)
    assert provider.calls == 1  # the slow start sent one message; its 401 stopped the rest
    assert sorted(r.index for r in results) == list(range(200))
    codes = [r.result.error.code for r in results if r.result.error is not None]
    assert codes.count(MessagingErrorCodes.INVALID_CREDENTIALS) == 1
    assert codes.count(ConnectorErrorCodes.NOT_ATTEMPTED) == 199
    skipped = next(r.result.error for r in results
                   if r.result.error and r.result.error.code == ConnectorErrorCodes.NOT_ATTEMPTED)
    assert skipped is not None and not skipped.outcome_unknown and not skipped.retryable
    assert skipped.details["cause"] == "INVALID_CREDENTIALS"
    assert "INVALID_CREDENTIALS" in skipped.message


@ENGINES
async def test_an_unreachable_provider_stops_the_batch_after_one_connection(engine: str) -> None:
    provider, results = await run_batch(engine, {"unreachable": True}, 50)
    assert provider.calls == 1
    codes = sorted(str(r.result.error.code) for r in results if r.result.error is not None)
    assert codes == ["CONNECTION_FAILED"] + ["NOT_ATTEMPTED"] * 49


@ENGINES
async def test_a_per_message_refusal_does_not_stop_the_batch(engine: str) -> None:
    provider, results = await run_batch(engine, {"status": 400}, 40, concurrency=8)
    assert provider.calls == 40  # each message was tried: a 400 concerns that message only
    assert all(r.result.error and r.result.error.code == "SEND_MESSAGE_FAILED" for r in results)
    assert provider.max_accepted > 1  # the window opened on answers, not only on successes


@ENGINES
async def test_throttling_slows_the_batch_down_instead_of_failing_rows(engine: str) -> None:
    # the provider takes four at a time and answers 429 beyond; the connector itself does not
    # retry (MaxRetries 0), so every row that succeeds was sent again by the batch
    provider, results = await run_batch(engine, {"cap": 4}, 300, concurrency=16)
    assert sorted(r.index for r in results) == list(range(300))
    assert all(r.is_success for r in results)  # no row failed RATE_LIMITED
    assert provider.calls == 300 + provider.throttled  # each 429 was one message sent again
    # a fixed 16 in flight would be throttled on about 3 of every 4 requests; halving the window
    # at each burst keeps 429s a small fraction of the sends
    assert provider.throttled < 300 // 2
    assert provider.max_accepted <= 4


def pacer(ceiling: int) -> tuple[BatchPacer, Any]:
    c = Paced(settings=FAST_RETRIES, plugin_manager=fresh_pm())
    return BatchPacer(c, ceiling), c


def ok(job: BatchJob) -> BatchSendResult:
    return BatchSendResult(job.index, "", Ok(SendResult("", "r", MessageStatus.SENT)))


def throttled(job: BatchJob) -> BatchSendResult:
    return BatchSendResult(job.index, "", Err(ErrorInfo(
        MessagingErrorCodes.RATE_LIMITED, "slow down", retryable=True, retry_after=0.0)))


def test_the_window_starts_at_one_doubles_per_round_halves_per_burst_and_grows_back() -> None:
    p, c = pacer(16)
    assert p.window() == 1
    jobs: list[Any] = []

    def send(n: int) -> list[BatchJob]:
        out = [p.admit(len(jobs) + i, object()) for i in range(n)]
        jobs.extend(out)
        return out  # type: ignore[return-value]

    for expected in (1, 2, 4, 8):  # slow start: one more per answer, so doubling per round
        assert p.window() == expected
        for job in send(expected):
            assert p.settle(job, ok(job)) is not None
    assert p.window() == 16
    burst = send(16)
    first = burst[0]
    assert p.settle(first, throttled(first)) is None  # not failed: it goes again
    assert p.window() == 8 and [j.index for j in p.again] == [first.index]
    c._throttles += 1  # the other sends of the same round met throttling too (retried inside)
    for job in burst[1:]:
        p.settle(job, ok(job))
    assert p.window() == 8  # one burst halves the window once, not once per send
    answers = 0
    while p.window() < 9:  # then additive growth: about one more per round (of eight)
        job = send(1)[0]
        p.settle(job, ok(job))
        answers += 1
    assert answers == 9
    later = send(9)
    p.settle(later[0], throttled(later[0]))
    assert p.window() == 4  # a new burst after the recovery halves it again


def test_a_message_throttled_max_again_times_is_yielded_failed() -> None:
    p, _ = pacer(4)
    job: Any = p.admit(0, object())
    for tries in range(MAX_AGAIN):
        assert p.settle(job, throttled(job)) is None
        job = p.again.popleft()
        assert job.tries == tries + 1 and job.last is not None
    final = p.settle(job, throttled(job))
    assert final is not None and final.result.error is not None
    assert final.result.error.code == MessagingErrorCodes.RATE_LIMITED


def test_what_concerns_every_row() -> None:
    assert concerns_every_row(ErrorInfo(MessagingErrorCodes.INVALID_CREDENTIALS, "x"))
    assert concerns_every_row(ErrorInfo(MessagingErrorCodes.CONNECTION_FAILED, "x",
                                        details={"request_sent": False}))
    # a connection lost after the request left may be this message only (and it is unknown)
    assert not concerns_every_row(ErrorInfo(MessagingErrorCodes.CONNECTION_FAILED, "x",
                                            outcome_unknown=True,
                                            details={"request_sent": True}))
    assert not concerns_every_row(ErrorInfo(MessagingErrorCodes.INVALID_RECIPIENT, "x"))
    assert not concerns_every_row(None)
