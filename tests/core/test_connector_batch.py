"""send_batch: any (async) iterable, bounded concurrency, exactly-once results, bounded memory,
per-message errors, early close; the blocking twin's thread-pool batches; and pacing (a slow
start, stop at once on errors that concern every message, slow down under throttling and send
throttled messages again: BatchPacer) on both engines.

The real-server twins (the Twilio sandbox answering 401 and 429, closing early) are in
tests/scale/test_bulk_adaptive.py."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
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
    Endpoint,
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
    TextContent,
    TransportError,
    hookimpl,
)
from ratatosk.connector import MAX_AGAIN, BatchJob, BatchPacer, concerns_every_row
from ratatosk.provider import error_from_response

BULK = ChannelSchema(
    "bulk", "sms", "1.0",
    capabilities=ChannelCapability.SEND_MESSAGES | ChannelCapability.BULK_MESSAGING,
    content_types=(MessageContentType.PLAIN_TEXT,),
    endpoints=(ChannelEndpoint(EndpointType.PHONE_NUMBER),),
    parameters=(ChannelParameter("BaseUrl", default="http://bulk.test"), *COMMON_PARAMETERS),
)
OK = HttpResponse(201, {}, b"")


class Bulk(Connector):
    """A throwaway connector: sends the text as the body; the remote id echoes it; HTTP errors
    are mapped the standard way."""

    default_schema = BULK

    def send_message_flow(self, message: Message) -> Flow[SendResult]:
        text = message.text or ""
        if text == "raise":
            raise RuntimeError("flow bug")
        response = yield HttpRequest("POST", "http://bulk.test/send", content=text.encode())
        if response.status_code >= 400:
            return Err(error_from_response(response, provider="Bulk"))
        return Ok(SendResult(message.id, text, MessageStatus.SENT))


class Gate:
    """An async transport that measures how many requests are in flight at once."""

    def __init__(
        self, *, hold: asyncio.Event | None = None, pass_first: int = 0, spins: int = 3
    ) -> None:
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.cancelled = 0
        self.hold = hold
        self.pass_first = pass_first
        self.spins = spins

    async def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse:
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            body = request.content.decode()
            # past pass_first, or when the body starts with "wait", a request waits for hold
            if self.hold is not None and (self.calls > self.pass_first
                                          or body.startswith("wait")):
                await self.hold.wait()
            # a request whose body is "slowN" takes N extra loop turns
            extra = int(body[4:]) if body.startswith("slow") else 0
            for _ in range(self.spins + extra):
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1
        return OK

    async def aclose(self) -> None:
        pass


class ThreadGate:
    """A blocking transport that measures concurrent requests across threads."""

    def __init__(self, delay: float = 0.002) -> None:
        self.lock = threading.Lock()
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.threads: set[int] = set()
        self.delay = delay

    def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse:
        with self.lock:
            self.calls += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.threads.add(threading.get_ident())
        try:
            time.sleep(self.delay)
        finally:
            with self.lock:
                self.in_flight -= 1
        return OK

    def close(self) -> None:
        pass


def fresh_pm() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("ratatosk")
    pm.add_hookspecs(ratatosk.hookspecs)
    return pm


def msg(text: str) -> Message:
    return MessageBuilder().to_phone("+15550002222").with_text(text).build()


def bulk(transport: Any = None, *, pm: pluggy.PluginManager | None = None) -> Bulk:
    if isinstance(transport, ThreadGate):
        return Bulk(sync_transport=transport, plugin_manager=pm or fresh_pm())
    return Bulk(async_transport=transport or Gate(), plugin_manager=pm or fresh_pm())


def check_exactly_once(results: list[BatchSendResult], messages: list[Message]) -> None:
    assert sorted(r.index for r in results) == list(range(len(messages)))
    for r in results:
        assert r.message_id == messages[r.index].id
        assert r.result.unwrap().remote_message_id == messages[r.index].text


# -- async -------------------------------------------------------------------------------------


async def test_a_list_gives_one_result_per_message() -> None:
    messages = [msg(f"m{i}") for i in range(40)]
    results = [r async for r in bulk().send_batch(messages, concurrency=4)]
    check_exactly_once(results, messages)


async def test_an_async_iterable_gives_one_result_per_message() -> None:
    messages = [msg(f"m{i}") for i in range(40)]

    async def produce() -> AsyncIterator[Message]:
        for m in messages:
            await asyncio.sleep(0)
            yield m

    results = [r async for r in bulk().send_batch(produce(), concurrency=7)]
    check_exactly_once(results, messages)


async def test_an_empty_input_yields_nothing() -> None:
    c = bulk()
    assert [r async for r in c.send_batch([])] == []
    assert [r async for r in c.send_batch(iter([]))] == []


@pytest.mark.parametrize("concurrency", [1, 3, 16])
async def test_at_most_concurrency_sends_are_in_flight(concurrency: int) -> None:
    gate = Gate()
    messages = (msg(f"m{i}") for i in range(100))
    count = 0
    async for _ in bulk(gate).send_batch(messages, concurrency=concurrency):
        count += 1
    assert count == 100
    assert gate.max_in_flight == concurrency


async def test_results_come_in_completion_order() -> None:
    # the first send goes alone (slow start), then the window opens: the slow one ends last
    messages = [msg("a"), msg("slow50"), msg("b"), msg("c")]
    results = [r async for r in bulk().send_batch(messages, concurrency=3)]
    assert [r.index for r in results] == [0, 2, 3, 1]


async def test_the_input_is_pulled_lazily() -> None:
    pulled = 0

    def produce() -> Iterator[Message]:
        nonlocal pulled
        for i in range(1000):
            pulled += 1
            yield msg(f"m{i}")

    batch = bulk().send_batch(produce(), concurrency=4)
    first = await anext(batch)
    assert first.is_success
    # the workers (4), the bounded result queue (4) and the one being handed over
    assert pulled <= 9
    await batch.aclose()
    assert pulled <= 9


async def test_ten_thousand_messages_each_get_exactly_one_result() -> None:
    messages = [msg(str(i)) for i in range(10_000)]
    results = [r async for r in bulk(Gate(spins=1)).send_batch(messages, concurrency=32)]
    assert len(results) == 10_000
    check_exactly_once(results, messages)


async def test_memory_stays_bounded_for_a_large_generator() -> None:
    receiver = Endpoint.phone("+15550002222")

    def produce(n: int) -> Iterator[Message]:
        for i in range(n):  # fresh, small messages (tracemalloc makes building them slow)
            yield Message(str(i), None, receiver, TextContent(str(i)))

    async def peak_for(n: int) -> tuple[int, int]:
        c = bulk(Gate(spins=0))
        async for _ in c.send_batch(produce(10)):  # warm up: initialize, caches
            pass
        gc.collect()
        tracemalloc.start()
        try:
            count = 0
            async for item in c.send_batch(produce(n), concurrency=16):
                count += item.is_success
            return count, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small_count, small_peak = await peak_for(1_000)
    count, peak = await peak_for(20_000)
    assert (small_count, count) == (1_000, 20_000)
    # holding 20,000 messages or results would take megabytes; bounded, the peak does not grow
    assert peak < 1_000_000
    assert peak < small_peak * 2 + 100_000


def held_batch(hold: asyncio.Event) -> tuple[Gate, list[Message]]:
    """A slow start sends "a" alone, then "b" and "wait" together: when "b" has been yielded,
    "wait" is on the wire (until ``hold`` is set) and nothing else has left."""
    gate = Gate(hold=hold, pass_first=10**9)
    return gate, [msg("a"), msg("b"), msg("wait"), *(msg(str(i)) for i in range(20))]


async def test_closing_early_finishes_the_sends_in_flight_and_reports_them() -> None:
    hold = asyncio.Event()
    gate, messages = held_batch(hold)
    before = asyncio.all_tasks()
    late: list[BatchSendResult] = []
    async with contextlib.aclosing(
            bulk(gate).send_batch(messages, concurrency=5, after_close=late.append)) as results:
        seen = [await anext(results), await anext(results)]
        assert gate.in_flight == 1
        asyncio.get_running_loop().call_later(0.02, hold.set)  # it answers while closing
    assert [r.index for r in seen] == [0, 1]
    assert gate.in_flight == 0 and gate.cancelled == 0
    assert gate.calls == 3  # nothing new left after the close
    assert [(r.index, r.message_id, r.is_success) for r in late] == [(2, messages[2].id, True)]
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == before


async def test_a_send_still_running_at_close_timeout_is_cancelled_and_reported_unknown() -> None:
    gate, messages = held_batch(asyncio.Event())  # "wait" never gets its answer
    late: list[BatchSendResult] = []
    batch = bulk(gate).send_batch(messages, concurrency=5, after_close=late.append,
                                  close_timeout=0.05)
    await anext(batch), await anext(batch)
    await batch.aclose()
    assert gate.cancelled == 1 and gate.in_flight == 0
    assert [r.index for r in late] == [2]
    error = late[0].result.error
    assert error is not None and error.outcome_unknown
    assert error.code == ConnectorErrorCodes.SEND_BATCH_ERROR
    assert error.details["cut_short"] is True


async def test_cancelling_the_consumer_does_not_wait_for_the_sends_in_flight() -> None:
    gate = Gate(hold=asyncio.Event(), pass_first=1)
    late: list[BatchSendResult] = []

    async def consume() -> None:
        async for _ in bulk(gate).send_batch([msg(str(i)) for i in range(9)], concurrency=4,
                                             after_close=late.append):
            pass

    task = asyncio.ensure_future(consume())
    while gate.in_flight < 2:
        await asyncio.sleep(0)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 1  # not the 30 s close_timeout
    assert gate.cancelled == 2
    assert len(late) == 2 and all(r.result.error and r.result.error.outcome_unknown for r in late)


async def test_a_raising_hook_or_flow_fails_only_that_message() -> None:
    class Picky:
        @hookimpl
        def ratatosk_before_send(self, connector: Connector, message: Message) -> None:
            if message.text == "hook":
                raise ValueError("hook bug")

    pm = fresh_pm()
    pm.register(Picky())
    c = bulk(pm=pm)
    items: list[Any] = [msg("a"), msg("hook"), msg("raise"), "not a message", msg(""), msg("b")]
    results = {r.index: r async for r in c.send_batch(items, concurrency=3)}
    assert sorted(results) == list(range(6))
    assert results[0].is_success and results[5].is_success
    for index in (1, 2, 3):
        error = results[index].result.error
        assert error is not None
        assert error.code == ConnectorErrorCodes.SEND_BATCH_ERROR
        assert error.domain == ConnectorErrorCodes.DOMAIN
    assert results[3].message_id == ""
    assert results[1].message_id == items[1].id
    invalid = results[4].result.error
    assert invalid is not None and invalid.code == ConnectorErrorCodes.MESSAGE_VALIDATION_FAILED


async def test_an_input_that_raises_finishes_what_was_taken_then_raises() -> None:
    def produce() -> Iterator[Message]:
        for i in range(5):
            yield msg(str(i))
        raise LookupError("input broke")

    async def aproduce() -> AsyncIterator[Message]:
        for i in range(5):
            yield msg(str(i))
        raise LookupError("input broke")

    for source in (produce(), aproduce()):
        seen: list[int] = []
        with pytest.raises(LookupError):
            async for item in bulk().send_batch(source, concurrency=2):
                seen.append(item.index)
        assert sorted(seen) == [0, 1, 2, 3, 4]


async def test_an_initialization_failure_gives_each_item_the_error() -> None:
    c = Bulk(settings={"Timeout": "never"}, async_transport=Gate(), plugin_manager=fresh_pm())
    messages = [msg("a"), msg("b")]
    results = [r async for r in c.send_batch(iter(messages))]
    assert [r.index for r in results] == [0, 1]
    assert [r.message_id for r in results] == [m.id for m in messages]
    assert all(r.result.error is not None and r.result.error.code == "INVALID_CONFIGURATION"
               for r in results)


async def test_a_non_iterable_input_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        async for _ in bulk().send_batch(42):  # type: ignore[arg-type]
            pass


# -- blocking ----------------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [2, 6])
def test_blocking_batches_use_at_most_concurrency_threads(concurrency: int) -> None:
    gate = ThreadGate()
    messages = [msg(str(i)) for i in range(60)]
    results = list(bulk(gate).blocking().send_batch(iter(messages), concurrency=concurrency))
    check_exactly_once(results, messages)
    assert 1 < gate.max_in_flight <= concurrency
    assert threading.get_ident() not in gate.threads


def test_a_blocking_batch_with_concurrency_one_runs_in_the_calling_thread() -> None:
    gate = ThreadGate(delay=0)
    messages = [msg(str(i)) for i in range(20)]
    results = list(bulk(gate).blocking().send_batch(messages, concurrency=1))
    assert [r.index for r in results] == list(range(20))
    check_exactly_once(results, messages)
    assert gate.threads == {threading.get_ident()}


def test_a_blocking_batch_gives_exactly_once_results_for_many_messages() -> None:
    gate = ThreadGate(delay=0)
    messages = [msg(str(i)) for i in range(3_000)]
    results = list(bulk(gate).blocking().send_batch(m for m in messages))
    check_exactly_once(results, messages)


def test_closing_a_blocking_batch_early_stops_sending_and_reports_what_was_running() -> None:
    gate = ThreadGate(delay=0.005)
    before = threading.active_count()
    late: list[BatchSendResult] = []
    messages = [msg(str(i)) for i in range(500)]
    batch = bulk(gate).blocking().send_batch(iter(messages), concurrency=4,
                                             after_close=late.append)
    seen = [next(batch) for _ in range(5)]
    assert all(r.is_success for r in seen)
    batch.close()
    calls = gate.calls
    assert calls < 20
    time.sleep(0.02)
    assert gate.calls == calls  # nothing more is sent after close
    assert gate.in_flight == 0
    assert threading.active_count() <= before
    # every send that left is accounted for: yielded, or handed to after_close
    assert sorted(r.index for r in seen + late) == list(range(calls))
    assert all(r.is_success for r in late)


def test_a_blocking_batch_reports_item_errors_and_input_failures() -> None:
    def produce() -> Iterator[Any]:
        yield msg("a")
        yield "oops"
        yield msg("raise")
        raise LookupError("input broke")

    for concurrency in (1, 3):
        seen: dict[int, BatchSendResult] = {}
        with pytest.raises(LookupError):
            for item in bulk(ThreadGate(delay=0)).blocking().send_batch(
                    produce(), concurrency=concurrency):
                seen[item.index] = item
        assert sorted(seen) == [0, 1, 2]
        assert seen[0].is_success
        for index in (1, 2):
            error = seen[index].result.error
            assert error is not None and error.code == ConnectorErrorCodes.SEND_BATCH_ERROR
    with pytest.raises(TypeError):
        list(bulk(ThreadGate()).blocking().send_batch(42))  # type: ignore[arg-type]


# -- pacing (BatchPacer) -----------------------------------------------------------------------

FAST_RETRIES = {"MaxRetries": "0", "RetryBaseDelay": "0.001", "RetryMaxDelay": "0.01"}


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


def messages(n: int) -> Iterator[Message]:
    return (msg(f"m{i}") for i in range(n))


async def run_batch(engine: str, provider_kw: dict[str, Any], n: int,
                    concurrency: int = 16) -> tuple[Provider, list[BatchSendResult]]:
    """The batch's results on the async engine or the blocking (thread-pool) one."""
    if engine == "async":
        answering = AsyncProvider(**provider_kw)
        c = Bulk(settings=FAST_RETRIES, async_transport=answering, plugin_manager=fresh_pm())
        return answering, [r async for r in c.send_batch(messages(n), concurrency=concurrency)]
    provider = SyncProvider(**provider_kw)
    c = Bulk(settings=FAST_RETRIES, sync_transport=provider, plugin_manager=fresh_pm())
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


def pacer(ceiling: int) -> tuple[BatchPacer[Any], Any]:
    c = Bulk(settings=FAST_RETRIES, plugin_manager=fresh_pm())
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
