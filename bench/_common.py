"""What every benchmark case shares: the message sent, the budget, sessions and timing loops.

A case is a *session*: set up once in its worker process (connector, pools, event loop), warmed up
untimed, then run in *slices*, each bounded by a budget: ``duration`` seconds (the real run) or
``count`` messages (the ``--quick`` smoke run). ``bench/run.py`` interleaves the slices of the cases
it compares, so a change in the machine's load hits all of them alike.

A slice starts no new request after its budget is spent and waits for the ones in flight; its rate
is successes divided by the wall time from the first start to the last completion.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

from attrs import define, field, frozen

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
    """How much one slice runs: ``duration`` seconds, or exactly ``count`` messages."""

    duration: float | None = None
    count: int | None = None

    def gate(self) -> Callable[[], bool]:
        """A fresh "may I start another one?" function for one slice."""
        if self.count is not None:
            remaining = [self.count]

            def by_count() -> bool:
                remaining[0] -= 1
                return remaining[0] >= 0

            return by_count
        deadline = time.perf_counter() + (self.duration or 1.0)
        clock = time.perf_counter
        return lambda: clock() < deadline


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


# -- sessions: a case set up once, then run in timed slices --------------------------------------
class Session(Protocol):
    """A case, set up (and warmed up) once; ``run`` is one timed slice, ``close`` cleans up and
    returns the case's extra figures (which transport ran, ...)."""

    def run(self, budget: Budget) -> Measurement: ...

    def close(self) -> dict[str, Any]: ...


@define(eq=False)
class SyncSession:
    """Calls ``send_one`` one after the other."""

    send_one: Callable[[], bool]
    cleanup: Callable[[], object] = lambda: None
    extra: dict[str, Any] = field(factory=dict)

    def run(self, budget: Budget) -> Measurement:
        result = Measurement()
        cpu, start = time.process_time(), time.perf_counter()
        _loop(self.send_one, budget.gate(), result)
        result.elapsed = time.perf_counter() - start
        result.cpu = time.process_time() - cpu
        return result

    def close(self) -> dict[str, Any]:
        self.cleanup()
        return self.extra


Drive = Callable[[Callable[[], bool], Measurement], Awaitable[None]]


@define(eq=False)
class AsyncSession:
    """Runs ``drive(gate, result)`` on its own event loop, which lives as long as the session
    (so pools and connections persist from slice to slice)."""

    loop: asyncio.AbstractEventLoop
    drive: Drive
    cleanup: Callable[[], Awaitable[object]]
    extra: dict[str, Any] = field(factory=dict)

    def run(self, budget: Budget) -> Measurement:
        result = Measurement()
        cpu, start = time.process_time(), time.perf_counter()
        self.loop.run_until_complete(self.drive(budget.gate(), result))
        result.elapsed = time.perf_counter() - start
        result.cpu = time.process_time() - cpu
        return result

    def close(self) -> dict[str, Any]:
        try:
            self.loop.run_until_complete(self.cleanup())
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()
        return self.extra


def async_session(setup: Callable[[], Awaitable[tuple[Drive, Callable[[], Awaitable[object]],
                                                      dict[str, Any]]]]) -> AsyncSession:
    """An :class:`AsyncSession` whose drive, cleanup and extra ``setup`` builds inside the loop."""
    loop = asyncio.new_event_loop()
    drive, cleanup, extra = loop.run_until_complete(setup())
    return AsyncSession(loop, drive, cleanup, extra)


def concurrent(send_one: Callable[[], Awaitable[bool]], concurrency: int) -> Drive:
    """A drive keeping ``concurrency`` calls of ``send_one`` in flight while the gate allows."""

    async def drive(gate: Callable[[], bool], result: Measurement) -> None:
        await _drive(send_one, concurrency, gate, result)

    return drive


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
