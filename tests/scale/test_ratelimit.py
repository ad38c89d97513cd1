"""Rate limiters that fit operations: the in-process one, and the one shared through real Redis.

The Redis tests use the server on 127.0.0.1:6379 and fail (never skip) if it does not answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import types
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ratatosk import Sleep
from ratatosk._ratelimit import TokenBucket
from ratatosk.connector._operation import drive_async, drive_blocking
from ratatosk.ratelimit import (
    LocalRateLimiter,
    RateLimiter,
    RateLimiterUnavailable,
    SharedRateLimiter,
    wait_for,
)

REDIS = os.environ.get("RATATOSK_TEST_REDIS", "redis://127.0.0.1:6379/0")
WORKER = Path(__file__).with_name("limiter_worker.py")


def _runtime() -> Any:
    """What the drivers use of a connector: its runtime's sleeps (the real ones here)."""
    import asyncio

    return types.SimpleNamespace(runtime=types.SimpleNamespace(
        sleep=asyncio.sleep, blocking_sleep=time.sleep))


async def _drive_async(op: Any) -> float:
    return await drive_async(_runtime(), op)


async def _drive_blocking(op: Any) -> float:
    return drive_blocking(_runtime(), op)


both_drivers = pytest.mark.parametrize("drive", [_drive_async, _drive_blocking],
                                       ids=["async", "blocking"])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- in process -----------------------------------------------------------------------------------


def test_the_local_limiter_charges_units_or_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(bucket=TokenBucket(2, burst=4, clock=clock))
    assert isinstance(limiter, RateLimiter)
    assert limiter.reserve(3) == 0.0
    assert limiter.reserve(1) == 0.0
    assert limiter.reserve(2) == 1.0  # nothing charged: 2 units need 1 s at 2 units/s
    assert limiter.reserve(2) == 1.0  # asking again charges nothing either
    clock.now += 1.0
    assert limiter.reserve(2) == 0.0
    assert limiter.reserve(1) == 0.5


def test_a_cost_above_the_burst_goes_once_the_bucket_is_full_and_is_paid_back() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(bucket=TokenBucket(1, burst=2, clock=clock))
    assert limiter.reserve(1) == 0.0
    assert limiter.reserve(5) == 1.0  # waits for a full bucket, never refused forever
    clock.now += 1.0
    assert limiter.reserve(5) == 0.0  # charged: the bucket now owes 3 units
    assert limiter.reserve(1) == 4.0
    with pytest.raises(ValueError):
        limiter.reserve(0)


def test_the_local_limiter_shares_a_connector_bucket_and_rejects_mixed_settings() -> None:
    bucket = TokenBucket(1, clock=Clock())
    limiter = LocalRateLimiter(bucket=bucket)
    assert limiter.reserve() == 0.0
    assert bucket.reserve() == 1.0  # the same tokens
    assert LocalRateLimiter(10).bucket.burst == 10
    with pytest.raises(ValueError):
        LocalRateLimiter()
    with pytest.raises(ValueError):
        LocalRateLimiter(5, bucket=bucket)


def test_wait_for_yields_sleeps_until_the_units_are_charged() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(bucket=TokenBucket(2, burst=2, clock=clock))
    assert limiter.reserve(2) == 0.0
    op = wait_for(limiter, 2)
    first = next(op)
    assert first == Sleep(1.0)
    clock.now += 0.5  # woke early (or another caller took the units): it asks again
    second = op.send(None)
    assert second == Sleep(0.5)
    clock.now += 0.5
    with pytest.raises(StopIteration) as stop:
        op.send(None)
    assert stop.value.value == 1.5
    assert limiter.reserve(1) == 0.5  # the 2 units were charged
    assert list(wait_for(LocalRateLimiter(bucket=TokenBucket(1, clock=Clock())))) == []


# -- shared through Redis ------------------------------------------------------------------------


@pytest.fixture
def account() -> str:
    return f"test:{uuid.uuid4().hex}"


@pytest.fixture
def shared(account: str) -> Iterator[SharedRateLimiter]:
    limiter = SharedRateLimiter(REDIS, account=account, sender="+15005550006", limit="5/second")
    yield limiter
    limiter.clear()


@pytest.mark.redis
def test_the_redis_server_answers() -> None:
    import redis

    client = redis.Redis.from_url(REDIS, socket_timeout=5)
    try:
        assert client.ping() is True
    finally:
        client.close()


@pytest.mark.redis
def test_the_shared_limiter_charges_segments_in_a_moving_window(
    shared: SharedRateLimiter, account: str
) -> None:
    assert isinstance(shared, RateLimiter)
    assert (shared.amount, shared.window) == (5, 1)
    assert shared.reserve(3) == 0.0
    assert shared.reserve(2) == 0.0
    wait = shared.reserve(1)
    assert 0.5 < wait <= 1.0  # nothing charged; the oldest charge leaves the window in ~1 s
    # another process's limiter for the same account and sender shares the budget ...
    twin = SharedRateLimiter(REDIS, account=account, sender="+15005550006", limit="5/second")
    assert twin.reserve(1) > 0
    # ... another sender of the account has its own
    other = SharedRateLimiter(REDIS, account=account, sender="+15005550007", limit="5/second")
    assert other.reserve(5) == 0.0
    other.clear()
    time.sleep(wait + 0.05)
    assert shared.reserve(5) == 0.0


@pytest.mark.redis
def test_a_cost_that_can_never_fit_is_refused(shared: SharedRateLimiter) -> None:
    with pytest.raises(ValueError, match="longer window"):
        shared.reserve(6)
    with pytest.raises(ValueError):
        shared.reserve(0)
    assert shared.reserve(5) == 0.0


def test_a_redis_that_does_not_answer_is_reported_not_ignored() -> None:
    limiter = SharedRateLimiter("redis://127.0.0.1:9/0", account="a", sender="s",
                                limit="5/second", socket_connect_timeout=2)
    with pytest.raises(RateLimiterUnavailable):
        limiter.reserve()


@pytest.mark.redis
@pytest.mark.slow
def test_two_processes_sharing_one_limit_stay_within_5_percent(account: str) -> None:
    rate, duration = 40, 4.0  # units (segments) per second, seconds
    start = time.time() + 2.0  # both processes are up by then and begin together
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), REDIS, account, "+15005550006", f"{rate}/second",
             repr(start), repr(duration), f"seed{n}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in range(2)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    SharedRateLimiter(REDIS, account=account, sender="+15005550006",
                      limit=f"{rate}/second").clear()
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    grants = [json.loads(out) for out, _ in outputs]
    assert time.time() >= start + duration
    charged = [(t, units) for mine in grants for t, units in mine]
    total = sum(units for _, units in charged)
    expected = rate * duration
    assert abs(total - expected) <= 0.05 * expected, (total, expected)
    # both workers had a fair share of the budget
    assert all(sum(units for _, units in mine) > 0.1 * expected for mine in grants), [
        sum(units for _, units in mine) for mine in grants]


@pytest.mark.redis
@both_drivers
async def test_both_drivers_wait_out_the_shared_limit(
    drive: Callable[[Any], Awaitable[float]], account: str
) -> None:
    limiter = SharedRateLimiter(REDIS, account=account, sender="+15005550006", limit="2/second")
    try:
        assert limiter.reserve(2) == 0.0
        started = time.monotonic()
        waited = await drive(wait_for(limiter, 1))  # real sleeps, through the real driver
        elapsed = time.monotonic() - started
        assert 0.5 < waited <= 1.1 and 0.5 < elapsed < 2.0
        assert limiter.reserve(2) > 0  # the unit was charged: only one is left in the window
    finally:
        limiter.clear()
