"""Retries (backoff, full jitter, retry_after, what is never retried) and the token bucket."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pluggy
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ratatosk.hookspecs
from ratatosk import (
    COMMON_PARAMETERS,
    ChannelCapability,
    ChannelEndpoint,
    ChannelSchema,
    Connector,
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
    Result,
    SendResult,
    StatusUpdate,
    TransportError,
)
from ratatosk._ratelimit import TokenBucket
from ratatosk._retry import RetryPolicy

# -- RetryPolicy ---------------------------------------------------------------------------------


def error(*, retryable: bool = True, outcome_unknown: bool = False,
          retry_after: float | None = None) -> ErrorInfo:
    return ErrorInfo("X", "x", retryable=retryable, outcome_unknown=outcome_unknown,
                     retry_after=retry_after)


def test_only_retryable_known_outcome_errors_are_retried_within_the_limit() -> None:
    policy = RetryPolicy(max_retries=2)
    assert policy.max_attempts == 3
    assert policy.should_retry(error(), 1)
    assert policy.should_retry(error(), 2)
    assert not policy.should_retry(error(), 3)
    assert not policy.should_retry(error(retryable=False), 1)
    assert not policy.should_retry(error(outcome_unknown=True), 1)
    assert not RetryPolicy(max_retries=0).should_retry(error(), 1)


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    policy = RetryPolicy(max_retries=10, base_delay=0.5, max_delay=3.0)
    assert [policy.backoff(n, lambda: 1.0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert [policy.backoff(n, lambda: 0.5) for n in range(1, 4)] == [0.25, 0.5, 1.0]
    assert policy.backoff(1, lambda: 0.0) == 0.0
    assert policy.backoff(500, lambda: 1.0) == 3.0  # no overflow for absurd attempt numbers


def test_retry_after_is_honoured_and_capped() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)
    assert policy.delay(error(retry_after=7), 1, lambda: 0.0) == 7.0
    assert policy.delay(error(retry_after=120), 1, lambda: 0.0) == 30.0
    assert policy.delay(error(retry_after=-1), 1, lambda: 0.0) == 0.0
    assert policy.delay(error(), 2, lambda: 1.0) == 1.0


def test_retry_after_gets_a_random_extra_of_up_to_10_percent_or_base_delay() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)
    # 10% of Retry-After when that is more than base_delay ...
    assert policy.delay(error(retry_after=20), 1, lambda: 1.0) == 22.0
    assert policy.delay(error(retry_after=20), 3, lambda: 0.5) == 21.0
    # ... base_delay for short waits (Retry-After: 1 and 0 still spread the retries)
    assert policy.delay(error(retry_after=1), 1, lambda: 1.0) == 1.5
    assert policy.delay(error(retry_after=0), 1, lambda: 0.5) == 0.25
    # the cap still wins
    assert policy.delay(error(retry_after=29), 1, lambda: 1.0) == 30.0
    assert policy.retry_after_delay(float("nan"), lambda: 0.0) == 0.0


def test_messages_throttled_together_do_not_retry_at_the_same_instant() -> None:
    import random

    policy = RetryPolicy()
    rng = random.Random(12)
    waits = [policy.delay(error(retry_after=5), 1, rng.random) for _ in range(200)]
    assert all(5.0 <= w <= 5.5 for w in waits)
    assert len(set(waits)) == 200  # every one its own instant
    assert max(waits) - min(waits) > 0.4  # spread over the whole extra


@given(st.integers(1, 100), st.floats(0, 1, exclude_max=True), st.floats(0, 10), st.floats(0, 60),
       st.floats(0, 1000))
def test_a_retry_after_wait_is_never_shorter_than_asked_below_the_cap(
    retry: int, draw: float, base: float, cap: float, retry_after: float
) -> None:
    policy = RetryPolicy(base_delay=base, max_delay=cap)
    wait = policy.delay(error(retry_after=retry_after), retry, lambda: draw)
    assert wait == cap or retry_after <= wait <= cap
    assert wait <= retry_after + max(base, retry_after / 10) + 1e-9


@given(st.integers(1, 100), st.floats(0, 1, exclude_max=True), st.floats(0, 10), st.floats(0, 60),
       st.one_of(st.none(), st.floats(-5, 1000)))
def test_every_delay_is_between_zero_and_the_cap(
    retry: int, draw: float, base: float, cap: float, retry_after: float | None
) -> None:
    policy = RetryPolicy(base_delay=base, max_delay=cap)
    assert 0.0 <= policy.delay(error(retry_after=retry_after), retry, lambda: draw) <= cap


def test_negative_retry_settings_are_rejected() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=-0.1)


# -- TokenBucket ---------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_allows_a_burst_then_spaces_reservations() -> None:
    clock = Clock()
    bucket = TokenBucket(2, clock=clock)
    assert bucket.burst == 2
    assert [bucket.reserve() for _ in range(5)] == [0.0, 0.0, 0.5, 1.0, 1.5]
    clock.now += 10  # refills, but never beyond the burst
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.5]


def test_a_slow_bucket_has_a_burst_of_one() -> None:
    clock = Clock()
    bucket = TokenBucket(0.5, clock=clock)
    assert bucket.burst == 1
    assert [bucket.reserve() for _ in range(3)] == [0.0, 2.0, 4.0]
    clock.now += 2.0
    assert bucket.reserve() == 4.0


def test_a_refund_gives_back_the_slot() -> None:
    bucket = TokenBucket(1, clock=Clock())
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == 1.0
    bucket.refund()
    assert bucket.reserve() == 1.0


def test_invalid_buckets_are_rejected() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)
    with pytest.raises(ValueError):
        TokenBucket(5, burst=0.5)


def test_reservations_from_many_threads_each_get_their_own_slot() -> None:
    bucket = TokenBucket(10, clock=Clock())  # frozen clock: waits are the slots handed out
    waits: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(50):
            wait = bucket.reserve()
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = [0.0] * 10 + [k / 10 for k in range(1, 391)]
    assert sorted(waits) == pytest.approx(expected)


# -- the connector's retries -------------------------------------------------------------------

SCHEMA = ChannelSchema(
    "flaky", "sms", "1.0",
    capabilities=ChannelCapability.SEND_MESSAGES | ChannelCapability.MESSAGE_STATUS_QUERY,
    content_types=(MessageContentType.PLAIN_TEXT,),
    endpoints=(ChannelEndpoint(EndpointType.PHONE_NUMBER),),
    parameters=COMMON_PARAMETERS,
)

Step = int | TransportError | str


class Flaky(Connector):
    """Maps 201 to success, 429/503 to retryable errors (with Retry-After), 400 to a final one,
    and 299 to a retryable error whose outcome is unknown."""

    default_schema = SCHEMA
    flow_starts = 0

    def send_message_flow(self, message: Message) -> Flow[SendResult]:
        self.flow_starts += 1
        response = yield HttpRequest("POST", "http://flaky.test/send")
        if response.status_code == 201:
            return Ok(SendResult(message.id, "R", MessageStatus.SENT))
        header = response.header("retry-after")
        return Err(ErrorInfo(
            MessagingErrorCodes.RATE_LIMITED if response.status_code == 429
            else MessagingErrorCodes.SEND_MESSAGE_FAILED,
            f"HTTP {response.status_code}",
            retryable=response.status_code in (429, 503, 299),
            outcome_unknown=response.status_code == 299,
            retry_after=float(header) if header else None,
        ))

    def get_message_status_flow(self, remote_id: str) -> Flow[StatusUpdate]:
        response = yield HttpRequest("GET", f"http://flaky.test/status/{remote_id}")
        if response.status_code not in (200, 201):
            return Err(ErrorInfo(MessagingErrorCodes.MESSAGING_ERROR, "no",
                                         retryable=response.status_code == 503))
        return Ok(StatusUpdate(remote_id, MessageStatus.DELIVERED))


class Script:
    """A transport for both paths answering from a script of status codes / errors.

    A string step is ``"429:7"``: that status with ``Retry-After: 7``.
    """

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.calls = 0

    def _next(self) -> HttpResponse:
        self.calls += 1
        step = self.steps.pop(0) if self.steps else 201
        if isinstance(step, TransportError):
            raise step
        if isinstance(step, str):
            status, after = step.split(":")
            return HttpResponse(int(status), {"retry-after": after})
        return HttpResponse(step)

    def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse:
        return self._next()

    def close(self) -> None:
        pass


class AsyncScript:
    """The async face of a :class:`Script` (both paths share one script)."""

    def __init__(self, script: Script) -> None:
        self.script = script

    async def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse:
        return self.script._next()

    async def aclose(self) -> None:
        pass


def fresh_pm() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("ratatosk")
    pm.add_hookspecs(ratatosk.hookspecs)
    return pm


def msg() -> Message:
    return MessageBuilder().to_phone("+15550002222").with_text("hi").build()


class Timing:
    def __init__(self) -> None:
        self.slept: list[float] = []
        self.clock = Clock()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def blocking_sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def flaky(script: Script, timing: Timing, **settings: Any) -> Flaky:
    c = Flaky(settings=settings, async_transport=AsyncScript(script), sync_transport=script,
              plugin_manager=fresh_pm())
    return c.configure_timing(sleep=timing.sleep, blocking_sleep=timing.blocking_sleep,
                              random=lambda: 0.5, clock=timing.clock)


Send = Callable[[Flaky, Message], Awaitable[Result[SendResult]]]


async def send_async(c: Flaky, m: Message) -> Result[SendResult]:
    return await c.send_message(m)


async def send_blocking(c: Flaky, m: Message) -> Result[SendResult]:
    return c.blocking().send_message(m)


both_paths = pytest.mark.parametrize("send", [send_async, send_blocking], ids=["async", "blocking"])


@both_paths
async def test_retryable_errors_are_retried_with_jittered_backoff(send: Send) -> None:
    script, timing = Script(503, 503, 201), Timing()
    c = flaky(script, timing)
    result = await send(c, msg())
    assert result.is_success
    assert script.calls == 3
    assert c.flow_starts == 3  # the flow is re-run from the start
    assert timing.slept == [0.25, 0.5]  # 0.5 * min(30, 0.5 * 2**(n-1))


@both_paths
async def test_retry_after_is_honoured_and_capped_by_retry_max_delay(send: Send) -> None:
    script, timing = Script("429:7", "429:100", 201), Timing()
    result = await send(flaky(script, timing, RetryMaxDelay="20"), msg())
    assert result.is_success
    assert timing.slept == [7.35, 20.0]  # 7 + 0.5 (random) * 0.7 (10% of 7) jitter; then the cap


@both_paths
async def test_when_attempts_run_out_the_last_error_carries_the_attempts(send: Send) -> None:
    script, timing = Script(503, 503, "429:1"), Timing()
    result = await send(flaky(script, timing, MaxRetries="2"), msg())
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.RATE_LIMITED
    assert result.error.details["attempts"] == 3
    assert script.calls == 3
    assert len(timing.slept) == 2


@both_paths
async def test_max_retries_zero_tries_once(send: Send) -> None:
    script, timing = Script(503), Timing()
    result = await send(flaky(script, timing, MaxRetries=0), msg())
    assert result.error is not None and result.error.details["attempts"] == 1
    assert script.calls == 1 and timing.slept == []


@both_paths
async def test_non_retryable_errors_are_not_retried(send: Send) -> None:
    script, timing = Script(400), Timing()
    result = await send(flaky(script, timing), msg())
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.SEND_MESSAGE_FAILED
    assert "attempts" not in result.error.details
    assert script.calls == 1 and timing.slept == []


@both_paths
async def test_an_unknown_outcome_is_never_retried(send: Send) -> None:
    script, timing = Script(299), Timing()
    result = await send(flaky(script, timing), msg())
    assert result.error is not None and result.error.outcome_unknown
    assert script.calls == 1 and timing.slept == []


@both_paths
async def test_transport_errors_never_sent_are_retried(send: Send) -> None:
    script, timing = Script(TransportError("refused", request_sent=False), 201), Timing()
    assert (await send(flaky(script, timing), msg())).is_success
    assert script.calls == 2

    script = Script(*[TransportError("refused", request_sent=False)] * 4)
    result = await send(flaky(script, timing), msg())
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.CONNECTION_FAILED
    assert result.error.retryable and not result.error.outcome_unknown
    assert result.error.details["attempts"] == 4
    assert result.error.details["request_sent"] is False


@both_paths
async def test_a_post_that_may_have_been_sent_is_never_retried(send: Send) -> None:
    for exc, code in ((TransportError("read timeout", request_sent=True, timeout=True),
                       MessagingErrorCodes.TIMEOUT),
                      (TransportError("dropped", request_sent=True),
                       MessagingErrorCodes.CONNECTION_FAILED)):
        script, timing = Script(exc), Timing()
        result = await send(flaky(script, timing), msg())
        assert result.error is not None
        assert result.error.code == code
        assert result.error.outcome_unknown and not result.error.retryable
        assert script.calls == 1 and timing.slept == []


async def test_an_idempotent_request_that_may_have_been_sent_is_retried() -> None:
    script = Script(TransportError("read timeout", request_sent=True, timeout=True), 503, 200)
    timing = Timing()
    c = flaky(script, timing)
    assert (await c.get_message_status("R1")).is_success
    assert script.calls == 3
    script = Script(TransportError("read timeout", request_sent=True, timeout=True), 200)
    assert flaky(script, timing).blocking().get_message_status("R1").is_success
    assert script.calls == 2


@pytest.mark.parametrize("path", ["async", "blocking"])
async def test_httpx_errors_are_mapped_by_the_default_transports(path: str) -> None:
    cases = [
        (httpx.ConnectError("refused"), MessagingErrorCodes.CONNECTION_FAILED, False, 2),
        (httpx.ReadTimeout("slow"), MessagingErrorCodes.TIMEOUT, True, 1),
    ]
    for exc, code, unknown, calls in cases:
        seen: list[httpx.Request] = []

        def counting(request: httpx.Request, exc: Exception = exc,
                     seen: list[httpx.Request] = seen) -> httpx.Response:
            seen.append(request)
            raise exc

        c = Flaky(settings={"MaxRetries": 1}, http_transport=httpx.MockTransport(counting),
                  plugin_manager=fresh_pm())
        timing = Timing()
        c.configure_timing(sleep=timing.sleep, blocking_sleep=timing.blocking_sleep)
        result = (await c.send_message(msg()) if path == "async"
                  else c.blocking().send_message(msg()))
        assert result.error is not None
        assert result.error.code == code
        assert result.error.outcome_unknown is unknown
        assert len(seen) == calls
        await c.shutdown()


# -- the connector's rate limiter -----------------------------------------------------------


@both_paths
async def test_messages_per_second_spaces_sends(send: Send) -> None:
    script, timing = Script(), Timing()
    c = flaky(script, timing, MessagesPerSecond="2")
    for _ in range(5):
        assert (await send(c, msg())).is_success
    assert timing.slept == [0.5, 1.0, 1.5]  # burst of 2, then one slot every 0.5 s (frozen clock)
    timing.clock.now += 60
    timing.slept.clear()
    await send(c, msg())
    assert timing.slept == []


@both_paths
async def test_each_retry_takes_a_token_and_status_queries_take_none(send: Send) -> None:
    script, timing = Script(503, 201), Timing()
    c = flaky(script, timing, MessagesPerSecond="1")
    assert (await send(c, msg())).is_success
    assert timing.slept == [0.25, 1.0]  # backoff, then the wait for the second token (frozen clock)
    timing.slept.clear()
    assert (await c.get_message_status("R")).is_success
    assert c.blocking().get_message_status("R").is_success
    assert timing.slept == []


async def test_the_limiter_is_shared_by_the_async_and_blocking_paths() -> None:
    script, timing = Script(), Timing()
    c = flaky(script, timing, MessagesPerSecond="1")
    await c.send_message(msg())
    c.blocking().send_message(msg())
    await c.send_message(msg())
    assert timing.slept == [1.0, 2.0]


async def test_without_a_rate_nothing_waits() -> None:
    script, timing = Script(), Timing()
    c = flaky(script, timing)
    for _ in range(20):
        await c.send_message(msg())
    assert timing.slept == []
    assert c.parameters["MessagesPerSecond"] == 0


async def test_configure_timing_after_initialization_reaches_the_limiter() -> None:
    script, timing = Script(), Timing()
    c = Flaky(settings={"MessagesPerSecond": 1}, async_transport=AsyncScript(script),
              plugin_manager=fresh_pm())
    await c.initialize()
    c.configure_timing(sleep=timing.sleep, clock=timing.clock)
    await c.send_message(msg())
    await c.send_message(msg())
    assert timing.slept == [1.0]
    timing.clock.now += 5
    await c.send_message(msg())
    assert timing.slept == [1.0]
