"""A connector's ``rate_limiter`` charges every send its segments before the request leaves, on
the async and the blocking driver alike (against the Twilio sandbox over loopback), and two
processes sending through one ``SharedRateLimiter`` on the real Redis stay within its limit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from ratatosk import Message
from ratatosk.ratelimit import SharedRateLimiter
from ratatosk_twilio import TwilioSmsConnector
from ratatosk_twilio.sandbox import TwilioSandbox

REDIS = os.environ.get("RATATOSK_TEST_REDIS", "redis://127.0.0.1:6379/0")
US = "+15005550006"
THEM = "+14155550100"


class Turnstile:
    """A limiter that makes the first ask of every send wait ``wait`` seconds."""

    def __init__(self, wait: float) -> None:
        self.wait = wait
        self.asks: list[int] = []
        self.charged: list[int] = []

    def reserve(self, cost: int = 1) -> float:
        self.asks.append(cost)
        if len(self.asks) % 2:
            return self.wait
        self.charged.append(cost)
        return 0.0


@pytest.fixture
def sandbox() -> Iterator[TwilioSandbox]:
    with TwilioSandbox() as box:
        yield box


def _connector(sandbox: TwilioSandbox) -> TwilioSmsConnector:
    return TwilioSmsConnector(settings={"AccountSid": sandbox.account_sid,
                                        "AuthToken": sandbox.auth_token,
                                        "BaseUrl": sandbox.base_url})


def test_each_send_is_charged_its_segments_and_waits_on_the_blocking_path(
        sandbox: TwilioSandbox) -> None:
    connector = _connector(sandbox)
    sleeps: list[float] = []
    connector.configure_timing(blocking_sleep=sleeps.append)
    limiter = connector.rate_limiter = Turnstile(0.25)
    blocking = connector.blocking()
    blocking.send_message(Message.text("x" * 200, to=THEM, sender=US)).unwrap()  # 2 segments
    blocking.send_message(Message.text("short", to=THEM, sender=US)).unwrap()
    assert limiter.charged == [2, 1] and sleeps == [0.25, 0.25]
    assert len(sandbox.messages) == 2
    blocking.shutdown()


async def test_the_async_path_waits_too(sandbox: TwilioSandbox) -> None:
    connector = _connector(sandbox)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    connector.configure_timing(sleep=sleep)
    limiter = connector.rate_limiter = Turnstile(0.5)
    async with connector:
        results = [r async for r in connector.send_batch(
            [Message.text(f"m{i}", to=THEM, sender=US) for i in range(3)])]
    assert all(r.result.is_success for r in results)
    assert limiter.charged == [1, 1, 1] and slept == [0.5, 0.5, 0.5]


def test_a_limiter_that_is_down_fails_the_send_before_any_request(
        sandbox: TwilioSandbox) -> None:
    connector = _connector(sandbox)
    connector.rate_limiter = SharedRateLimiter("redis://127.0.0.1:1/0", account="a", sender=US,
                                               limit="5/second")
    result = connector.blocking().send_message(Message.text("Hi", to=THEM, sender=US))
    assert result.error is not None and sandbox.messages == []
    connector.blocking().shutdown()


WORKER = textwrap.dedent("""
    import sys, time
    from ratatosk import Message
    from ratatosk.ratelimit import SharedRateLimiter
    from ratatosk_twilio import TwilioSmsConnector
    base, sid, token, redis_url, account, count = sys.argv[1:7]
    connector = TwilioSmsConnector(settings={"AccountSid": sid, "AuthToken": token,
                                             "BaseUrl": base})
    connector.rate_limiter = SharedRateLimiter(redis_url, account=account,
                                               sender="+15005550006", limit="20 per 2 seconds")
    blocking = connector.blocking()
    for i in range(int(count)):
        blocking.send_message(Message.text("hi", to="+14155550100",
                                           sender="+15005550006")).unwrap()
    blocking.shutdown()
""")


@pytest.mark.redis
def test_two_processes_share_one_limit_within_five_percent(sandbox: TwilioSandbox) -> None:
    account = f"rtk-wiring-{uuid.uuid4().hex[:10]}"
    args = [sandbox.base_url, sandbox.account_sid, sandbox.auth_token, REDIS, account, "30"]
    started = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, *args]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert time.monotonic() - started < 60
    created = sorted(m.date_created.timestamp() for m in sandbox.messages)
    assert len(created) == 60
    # 20 at once, then more as each leaves the two-second window: 60 take 4 s plus that window
    # (a window of two absorbs a process that stalls for a moment, as on a loaded CI machine)
    rate = len(created) / (created[-1] - created[0] + 2.0)
    assert abs(rate / 10 - 1) <= 0.05, rate
    client = redis.Redis.from_url(REDIS)
    keys = list(client.scan_iter(match=f"*{account}*"))
    if keys:
        client.delete(*keys)
    client.close()
