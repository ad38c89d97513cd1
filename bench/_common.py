"""What every benchmark case shares: the message sent, the budget, and the timing loops.

A *budget* is either time-bounded (``duration`` seconds, the real run) or count-bounded (``count``
messages, the ``--quick`` smoke run). Either way a warm-up of ``warmup`` messages runs first,
untimed, so connection set-up is not measured.

The loops start no new request after the budget is spent and wait for the ones in flight; the rate
is successes divided by the wall time from the first start to the last completion.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar
from urllib.parse import urlencode

from attrs import define, frozen

T = TypeVar("T")

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
FROM = "+15005550006"
TO = "+15558675310"
BODY = "Hello from the benchmark"

FORM_BODY = urlencode({"To": TO, "From": FROM, "Body": BODY}).encode()
AUTHORIZATION = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
HEADERS = {
    "Authorization": AUTHORIZATION,
    "Content-Type": "application/x-www-form-urlencoded",
    "Accept": "application/json",
}


def messages_url(base_url: str) -> str:
    """The Messages resource of the benchmark account under ``base_url``."""
    return f"{base_url.rstrip('/')}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


@frozen
class Budget:
    """How much to run: ``duration`` seconds, or exactly ``count`` messages; ``warmup`` first."""

    duration: float | None = None
    count: int | None = None
    warmup: int = 50

    def gate(self) -> Callable[[], bool]:
        """A fresh "may I start another one?" function for one timed run."""
        if self.count is not None:
            remaining = [self.count]

            def by_count() -> bool:
                remaining[0] -= 1
                return remaining[0] >= 0

            return by_count
        deadline = time.perf_counter() + (self.duration or 1.0)
        clock = time.perf_counter
        return lambda: clock() < deadline

    def warmup_gate(self) -> Callable[[], bool]:
        return Budget(count=self.warmup).gate()


@define
class Measurement:
    """What a timed run saw: successes, failures, wall time."""

    ok: int = 0
    errors: int = 0
    elapsed: float = 0.0
    cpu: float = 0.0  # CPU seconds this process used while timed (less sensitive to load)
    first_error: str | None = None

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0

    def record_error(self, what: object) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = str(what)[:300]


def gated(gate: Callable[[], bool], item: T) -> Iterator[T]:
    """Yield ``item`` for as long as ``gate`` allows (the input of a send_batch)."""
    while gate():
        yield item


async def run_concurrent(
    send_one: Callable[[], Awaitable[bool]], concurrency: int, budget: Budget
) -> Measurement:
    """Keep ``concurrency`` calls of ``send_one`` in flight until the budget is spent."""
    await _drive(send_one, concurrency, budget.warmup_gate(), Measurement())
    result = Measurement()
    cpu, start = time.process_time(), time.perf_counter()
    await _drive(send_one, concurrency, budget.gate(), result)
    result.elapsed = time.perf_counter() - start
    result.cpu = time.process_time() - cpu
    return result


async def _drive(
    send_one: Callable[[], Awaitable[bool]], concurrency: int, gate: Callable[[], bool],
    result: Measurement,
) -> None:
    async def worker() -> None:
        while gate():
            try:
                ok = await send_one()
            except Exception as exc:
                result.record_error(repr(exc))
                continue
            if ok:
                result.ok += 1
            else:
                result.record_error("unsuccessful response")

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def run_sequential(send_one: Callable[[], bool], budget: Budget) -> Measurement:
    """Call ``send_one`` one after the other until the budget is spent."""
    _loop(send_one, budget.warmup_gate(), Measurement())
    result = Measurement()
    cpu, start = time.process_time(), time.perf_counter()
    _loop(send_one, budget.gate(), result)
    result.elapsed = time.perf_counter() - start
    result.cpu = time.process_time() - cpu
    return result


def _loop(send_one: Callable[[], bool], gate: Callable[[], bool], result: Measurement) -> None:
    while gate():
        try:
            ok = send_one()
        except Exception as exc:
            result.record_error(repr(exc))
            continue
        if ok:
            result.ok += 1
        else:
            result.record_error("unsuccessful response")
