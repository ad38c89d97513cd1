"""A batch's parts that do no I/O: pulling its input (``(index, item)`` pairs from an iterable
or async iterable) and pacing its sends (:class:`BatchPacer`)."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
)
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from attrs import define, field, frozen

from .._errors import ConnectorErrorCodes, ErrorInfo, MessagingErrorCodes
from .._models import Message
from .._results import BatchSendResult, Err, Result
from ._operation import Effect, Sleep, drive_async

if TYPE_CHECKING:
    import asyncio

    from ._base import Connector

_log = logging.getLogger("ratatosk.connector")
R = TypeVar("R")


def check_concurrency(concurrency: int) -> None:
    """Raise ``ValueError`` unless ``concurrency`` is a positive integer."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError("concurrency must be a positive integer")


@define(eq=False)
class BatchSource:
    """Pulls ``(index, item)`` pairs from an iterable or async iterable, one at a time."""

    items: Iterable[Any] | AsyncIterable[Any]
    concurrency: int = 16
    stop: Callable[[], bool] | None = None
    """Asked before each pull: true ends the input there (a campaign told to stop)."""
    _iterator: Iterator[Any] | None = field(init=False, default=None)
    _aiterator: AsyncIterator[Any] | None = field(init=False, default=None)
    _lock: asyncio.Lock | None = field(init=False, default=None)
    _index: int = field(init=False, default=0)
    _done: bool = field(init=False, default=False)
    _error: BaseException | None = field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        check_concurrency(self.concurrency)
        items = self.items
        if isinstance(items, AsyncIterable):
            import asyncio  # the async engine only: the blocking path never imports asyncio

            self._aiterator = items.__aiter__()
            self._lock = asyncio.Lock()
        elif isinstance(items, Iterable):
            self._iterator = iter(items)
        else:
            raise TypeError("send_batch takes an iterable or async iterable of messages, "
                            f"not {type(items).__name__}")

    async def next(self) -> tuple[int, Any] | None:
        """The next item and its index, or None when the input is exhausted (or failed)."""
        if self._done or self._stopped():
            return None
        if self._aiterator is None:
            return self.next_blocking()
        assert self._lock is not None
        async with self._lock:
            if self._done:
                return None
            try:
                item = await self._aiterator.__anext__()
            except StopAsyncIteration:
                self._done = True
                return None
            except Exception as exc:
                self.fail(exc)
                return None
        return self._numbered(item)

    @property
    def is_async(self) -> bool:
        """Whether the input is an async iterable (pulled with :meth:`next`)."""
        return self._aiterator is not None

    @property
    def exhausted(self) -> bool:
        """Whether the input has ended (or failed): nothing more will be pulled."""
        return self._done

    def next_blocking(self) -> tuple[int, Any] | None:
        """:meth:`next` for a plain iterable (the thread-pool engine and the async one)."""
        if self._done or self._iterator is None or self._stopped():
            return None
        try:
            item = next(self._iterator)
        except StopIteration:
            self._done = True
            return None
        except Exception as exc:
            self.fail(exc)
            return None
        return self._numbered(item)

    def _stopped(self) -> bool:
        if self.stop is not None and self.stop():
            self._done = True
        return self._done

    def _numbered(self, item: Any) -> tuple[int, Any]:
        index = self._index
        self._index = index + 1
        return index, item

    def fail(self, exc: BaseException) -> None:
        self._done = True
        if self._error is None:
            self._error = exc

    def raise_error(self) -> None:
        if self._error is not None:
            raise self._error


EVERY_ROW_CODES = frozenset({
    MessagingErrorCodes.INVALID_CREDENTIALS, MessagingErrorCodes.MISSING_CREDENTIALS,
    MessagingErrorCodes.ACCOUNT_SUSPENDED, MessagingErrorCodes.INSUFFICIENT_FUNDS,
    ConnectorErrorCodes.AUTHENTICATION_FAILED,
})
"""Errors that concern every message of a batch (credentials, the account): a batch stops
taking messages at the first one. So does a connection that could not be made."""


def concerns_every_row(error: ErrorInfo | None) -> bool:
    """Whether ``error`` would fail every other message too (bad credentials, a suspended or
    empty account, an unreachable provider: a connection that could not even be made)."""
    if error is None:
        return False
    if error.code in EVERY_ROW_CODES:
        return True
    return (error.code == MessagingErrorCodes.CONNECTION_FAILED and not error.outcome_unknown
            and error.details.get("request_sent") is False)


MAX_AGAIN = 8
"""How many times a batch sends a message again after it ended ``RATE_LIMITED``."""


@frozen(slots=True)
class BatchJob:
    """One send of a batch: the input's ``index`` and ``item``, the how-many-th try it is
    (``tries``: 0 the first time), its submission number (``seq``) and, when it goes again, the
    outcome of its last try (``last``)."""

    seq: int
    index: int
    item: Any
    tries: int = 0
    last: Any = None


def _batch_item(connector: Connector, index: int, item: Any) -> Generator[Effect, Any, Any]:
    return connector.batch_item(index, item)


def _send_result(outcome: Any) -> Result[Any] | None:
    return outcome.result  # type: ignore[no-any-return]


def item_id(item: Any) -> str:
    """A batch item's message id ("" for an item that is not a Message)."""
    return item.id if isinstance(item, Message) else ""


def _not_attempted(index: int, item: Any, cause: ErrorInfo) -> BatchSendResult:
    return BatchSendResult(index, item_id(item), Err(ErrorInfo(
        ConnectorErrorCodes.NOT_ATTEMPTED,
        f"not sent: the batch stopped at an error that concerns every message "
        f"({cause.code}: {cause.message})", details={"cause": str(cause.code)})))


def _cut_short(job: BatchJob) -> BatchSendResult:
    return BatchSendResult(job.index, item_id(job.item), Err(ErrorInfo(
        ConnectorErrorCodes.SEND_BATCH_ERROR,
        "the batch was closed before this send finished; the provider may have received it",
        outcome_unknown=True, details={"cut_short": True})))


@define(eq=False)
class BatchPacer(Generic[R]):
    """Everything about a batch that does no I/O, shared by the async and the thread-pool engine.

    * **How many in flight** (:meth:`window`): a slow start from one send (so a batch with bad
      credentials makes one request, not ``concurrency``), one more for every answer that was
      not throttling, up to ``ceiling``; halved when the provider throttles (a ``RATE_LIMITED``
      attempt, retried or not), at most once per round of sends, then grown back by about one
      per round (AIMD).
    * **Again, not failed:** a message that ended ``RATE_LIMITED`` (nothing was created) is sent
      again after the provider's ``retry_after`` (plus jitter) or a backoff, up to
      :data:`MAX_AGAIN` times, and only then yielded as failed.
    * **Stop at once:** after an error that :func:`concerns_every_row`, no new request leaves;
      every other message gets ``NOT_ATTEMPTED`` naming the cause (``stopped_by``).

    What one send is, is pluggable, so :func:`ratatosk.campaign.run_campaign` paces its
    ledger-backed deliveries with the same class and engine (:func:`run_paced`):
    ``start(connector, index, item)`` is its operation (default: the connector's
    ``batch_item``, giving a :class:`~ratatosk.BatchSendResult`); ``result_of(outcome)`` the
    send's ``Result`` in its outcome (None: nothing was sent, such as a campaign row an earlier
    run settled); ``refuse(index, item, cause)`` the outcome of an item taken after the stop
    (default ``NOT_ATTEMPTED``; None drops it: a campaign records nothing for it, so a rerun
    sends it); ``cut(job)`` the outcome of a send a closing batch did not wait for (default a
    ``SEND_BATCH_ERROR`` with ``outcome_unknown``).
    """

    connector: Connector
    ceiling: int
    start: Callable[[Connector, int, Any], Generator[Effect, Any, R]] = _batch_item
    result_of: Callable[[R], Result[Any] | None] = _send_result
    refuse: Callable[[int, Any, ErrorInfo], R] | None = _not_attempted  # type: ignore[assignment]
    cut: Callable[[BatchJob], R] = _cut_short  # type: ignore[assignment]
    limit: float = 1.0
    threshold: float = field(default=0.0)
    stopped_by: ErrorInfo | None = None
    again: deque[BatchJob] = field(factory=deque)
    _seq: int = 0
    _recovered_after: int = -1
    _throttles_seen: int = 0

    def __attrs_post_init__(self) -> None:
        if not self.threshold:
            self.threshold = float(self.ceiling)
        self.limit = min(self.limit, float(self.ceiling))
        self._throttles_seen = self.connector._throttles

    def window(self) -> int:
        """How many sends may be in flight now."""
        return max(1, int(self.limit))

    def admit(self, index: int, item: Any) -> BatchJob | R | None:
        """A job for the next input item; once the batch has stopped, its outcome (``refuse``),
        or None when it is dropped."""
        if self.stopped_by is not None:
            return None if self.refuse is None else self.refuse(index, item, self.stopped_by)
        self._seq += 1
        return BatchJob(self._seq, index, item)

    def flow(self, job: BatchJob) -> Generator[Effect, Any, R]:
        """The job's send (after the wait, when it goes again), as an operation to drive."""
        if job.last is not None:
            last = self.result_of(job.last)
            error = last.error if last is not None else None
            assert error is not None
            policy, random = self.connector._retry, self.connector.runtime.random
            wait = (policy.retry_after_delay(float(error.retry_after), random)
                    if error.retry_after is not None else policy.backoff(job.tries, random))
            yield Sleep(wait)
            if self.stopped_by is not None:
                return job.last  # type: ignore[no-any-return]  # stopped meanwhile: not again
        return (yield from self.start(self.connector, job.index, job.item))

    def settle(self, job: BatchJob, outcome: R) -> R | None:
        """Account for a finished job: the outcome to yield, or None when it goes again (it is
        then in :attr:`again`)."""
        result = self.result_of(outcome)
        error = result.error if result is not None else None
        throttles = self.connector._throttles
        throttled = throttles != self._throttles_seen or (
            error is not None and error.code == MessagingErrorCodes.RATE_LIMITED)
        self._throttles_seen = throttles
        if job.seq <= self._recovered_after:
            pass  # sent before the last slow-down: its news (good or bad) is already counted
        elif throttled:  # halve, once per round: the sends already out met the same burst
            self.threshold = self.limit = max(1.0, self.limit / 2)
            self._recovered_after = self._seq
        else:  # an answer (even a refusal of this message): the provider keeps up
            growth = 1.0 if self.limit < self.threshold else 1.0 / self.limit
            self.limit = min(float(self.ceiling), self.limit + growth)
        if error is None:
            return outcome
        if concerns_every_row(error) and self.stopped_by is None:
            self.stopped_by = error
        if (error.code == MessagingErrorCodes.RATE_LIMITED and not error.outcome_unknown
                and job.tries < MAX_AGAIN and self.stopped_by is None):
            self._seq += 1
            self.again.append(BatchJob(self._seq, job.index, job.item, job.tries + 1, outcome))
            return None
        return outcome

    def cut_short(self, job: BatchJob) -> R:
        """The outcome of a send a closing batch did not wait for: it may have been sent (one
        waiting to go again was not: its last outcome stands)."""
        return job.last if job.last is not None else self.cut(job)


def report_after_close(after_close: Callable[[R], object] | None, result: R) -> None:
    """Hand a result the closed batch could not yield to ``after_close`` (a raising callback is
    logged: the other results still reach it)."""
    if after_close is None:
        return
    try:
        after_close(result)
    except Exception:
        _log.exception("a batch's after_close callback raised (the other results still reach "
                       "it)")


async def run_paced(
    connector: Connector,
    source: BatchSource,
    pacer: BatchPacer[R],
    *,
    after_close: Callable[[R], object] | None = None,
    close_timeout: float = 30.0,
) -> AsyncGenerator[R, None]:
    """The async batch engine (``send_batch``, ``run_campaign``): fill the pacer's window, wait
    for the first send to finish, settle it, yield its outcome; an async input is read
    concurrently with the sends, so a slow input never holds back a finished result.

    Closed early, it waits up to ``close_timeout`` (0 when the consumer was cancelled) for the
    sends in flight and hands each outcome, and those of the jobs waiting to go again, to
    ``after_close``; a send still running then is cancelled and reported as ``pacer.cut``.
    """
    import asyncio  # the async engine only: the blocking path never imports asyncio

    running: dict[asyncio.Future[R], BatchJob] = {}
    pull: asyncio.Future[tuple[int, Any] | None] | None = None  # an async input's next
    ready: tuple[int, Any] | None = None  # what it gave, not yet taken
    finished = False
    try:
        while True:
            while len(running) < pacer.window():  # fill the window: again, then new
                if pacer.again:
                    admitted: BatchJob | R | None = pacer.again.popleft()
                elif ready is not None:
                    admitted, ready = pacer.admit(*ready), None
                elif source.is_async or (pulled := source.next_blocking()) is None:
                    break
                else:
                    admitted = pacer.admit(*pulled)
                if isinstance(admitted, BatchJob):
                    running[asyncio.ensure_future(
                        drive_async(connector, pacer.flow(admitted)))] = admitted
                elif admitted is not None:
                    yield admitted
            if (pull is None and ready is None and source.is_async and not source.exhausted
                    and len(running) < pacer.window()):
                pull = asyncio.ensure_future(source.next())
            waiting: set[asyncio.Future[Any]] = set(running)
            if pull is not None:
                waiting.add(pull)
            if not waiting:
                break
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if pull is not None and pull in done:
                ready, pull = pull.result(), None
            for task in done:
                job = running.pop(task, None)
                if job is not None and (outcome := pacer.settle(job, task.result())) is not None:
                    yield outcome
        finished = True
    except asyncio.CancelledError:
        close_timeout = 0.0  # the consumer was cancelled: do not hold it up
        raise
    finally:
        if pull is not None:
            pull.cancel()
        if not finished:
            if running:
                _, late = (await asyncio.wait(running, timeout=close_timeout)
                           if close_timeout > 0 else (set(), set(running)))
                for task in late:
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)
            for task, job in running.items():
                failed = task.cancelled() or task.exception() is not None
                report_after_close(after_close,
                                   pacer.cut_short(job) if failed else task.result())
            for job in pacer.again:
                report_after_close(after_close, pacer.cut_short(job))
    source.raise_error()
