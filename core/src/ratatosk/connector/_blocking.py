"""The synchronous view of a connector, built from the operations the connector declares."""

from __future__ import annotations

import concurrent.futures
import inspect
from collections.abc import AsyncIterable, Callable, Generator, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from .._models import Message
from .._results import BatchSendResult, Err, Result
from ._base import Connector, ConnectorState
from ._batch import BatchJob, BatchPacer, BatchSource, item_id, report_after_close
from ._operation import drive_blocking, operations_of

if TYPE_CHECKING:
    from .._dedup import DeduplicationStore
    from .._optout import SuppressionStore
    from .._results import ConnectorHealth, ReceiveResult, SendResult, StatusInfo, StatusUpdate
    from .._settings import ConnectionSettings
    from .._source import MessageSource
    from .._status import StatusTracker
    from ..ratelimit import RateLimiter
    from ..schema import ChannelSchema

B = TypeVar("B", bound="BlockingConnector")


class BlockingConnector:
    """The synchronous view of a :class:`Connector`: the same operations, blocking.

    Every operation the connector declares (the standard ones and a provider's extras, such as
    Twilio's ``cancel_message``) is available here under the same name, run by the blocking
    driver over a blocking transport (``StdlibSyncTransport`` by default): the same generator as
    the async method, so validation, hooks, retries and mapping are shared. It never starts an
    event loop. Plain (non-operation) attributes of the connector are passed through.
    ``send_batch`` returns an iterator; with ``concurrency > 1`` it sends from a pool of worker
    threads (plugins' hooks then run in those threads), with ``concurrency=1`` one after the other
    in the calling thread.
    """

    def __init__(self, connector: Connector) -> None:
        self.connector = connector
        self._operations = operations_of(type(connector))

    def __getattr__(self, name: str) -> Any:
        op = self._operations.get(name)
        if op is not None:
            bound: Callable[..., Any] = op.blocking(self.connector)
            setattr(self, name, bound)  # cached: later lookups skip __getattr__
            return bound
        value = getattr(self.connector, name)
        if inspect.iscoroutinefunction(value) or inspect.isasyncgenfunction(value):
            raise AttributeError(f"{type(self.connector).__qualname__}.{name} is async-only; "
                                 "declare it with @operation to get a blocking form")
        return value

    def __repr__(self) -> str:
        return f"<blocking view of {self.connector!r}>"

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._operations))

    if TYPE_CHECKING:  # the standard operations, typed (they are found by __getattr__)
        schema: ChannelSchema
        settings: ConnectionSettings
        parameters: dict[str, Any]
        state: ConnectorState

        def initialize(self) -> Result[None]: ...
        def test_connection(self) -> Result[ConnectorHealth]: ...
        def send_message(self, message: Message) -> Result[SendResult]: ...
        def get_message_status(self, remote_id: str) -> Result[StatusUpdate]: ...
        def receive_messages(self, source: MessageSource) -> Result[ReceiveResult]: ...
        def receive_message_status(self, source: MessageSource) -> Result[StatusUpdate]: ...
        def get_status(self) -> Result[StatusInfo]: ...
        def get_health(self) -> Result[ConnectorHealth]: ...
        def shutdown(self) -> Result[None]: ...

    # the connector's settable parts: set on the view, they are the connector's
    @property
    def suppressions(self) -> SuppressionStore | None:
        """The connector's :attr:`Connector.suppressions` (read and set through the view)."""
        return self.connector.suppressions

    @suppressions.setter
    def suppressions(self, store: SuppressionStore | None) -> None:
        self.connector.suppressions = store

    @property
    def status_tracker(self) -> StatusTracker | None:
        """The connector's :attr:`Connector.status_tracker` (read and set through the view)."""
        return self.connector.status_tracker

    @status_tracker.setter
    def status_tracker(self, tracker: StatusTracker | None) -> None:
        self.connector.status_tracker = tracker

    @property
    def dedup_store(self) -> DeduplicationStore | None:
        """The connector's :attr:`Connector.dedup_store` (read and set through the view)."""
        return self.connector.dedup_store

    @dedup_store.setter
    def dedup_store(self, store: DeduplicationStore | None) -> None:
        self.connector.dedup_store = store

    @property
    def rate_limiter(self) -> RateLimiter | None:
        """The connector's :attr:`Connector.rate_limiter` (read and set through the view)."""
        return self.connector.rate_limiter

    @rate_limiter.setter
    def rate_limiter(self, limiter: RateLimiter | None) -> None:
        self.connector.rate_limiter = limiter

    def send_batch(
        self,
        messages: Iterable[Message],
        *,
        concurrency: int = 16,
        after_close: Callable[[BatchSendResult], object] | None = None,
        close_timeout: float = 30.0,
    ) -> Generator[BatchSendResult, None, None]:
        """See :meth:`Connector.send_batch`; returns an iterator. Closing it early takes no new
        message, waits up to ``close_timeout`` for the sends running in the pool and passes
        their results to ``after_close`` (a send still running then is reported as outcome
        unknown: a thread cannot be cancelled, it finishes in the background)."""
        if isinstance(messages, AsyncIterable) and not isinstance(messages, Iterable):
            raise TypeError("the blocking send_batch takes an iterable, not an async iterable")
        return self._send_batch(BatchSource(messages, concurrency), after_close, close_timeout)

    def _send_batch(
        self,
        source: BatchSource,
        after_close: Callable[[BatchSendResult], object] | None,
        close_timeout: float,
    ) -> Generator[BatchSendResult, None, None]:
        connector = self.connector
        error = connector.batch_refusal()
        if error is not None:
            while (pulled := source.next_blocking()) is not None:
                yield BatchSendResult(pulled[0], item_id(pulled[1]), Err(error))
        elif source.concurrency == 1:
            pacer: BatchPacer[BatchSendResult] = BatchPacer(connector, 1)
            try:
                while True:
                    if pacer.again:
                        job: BatchJob | BatchSendResult | None = pacer.again.popleft()
                    elif (pulled := source.next_blocking()) is not None:
                        job = pacer.admit(*pulled)
                    else:
                        break
                    if isinstance(job, BatchJob):
                        job = pacer.settle(job, drive_blocking(connector, pacer.flow(job)))
                    if job is not None:
                        yield job
            finally:
                for left in pacer.again:
                    report_after_close(after_close, pacer.cut_short(left))
        else:
            yield from self._send_batch_threads(source, after_close, close_timeout)
        source.raise_error()

    def _send_batch_threads(
        self,
        source: BatchSource,
        after_close: Callable[[BatchSendResult], object] | None,
        close_timeout: float,
    ) -> Generator[BatchSendResult, None, None]:
        futures = concurrent.futures
        connector = self.connector
        pacer: BatchPacer[BatchSendResult] = BatchPacer(connector, source.concurrency)
        pool = futures.ThreadPoolExecutor(source.concurrency, thread_name_prefix="ratatosk-batch")
        running: dict[concurrent.futures.Future[BatchSendResult], BatchJob] = {}

        def start(job: BatchJob) -> None:
            running[pool.submit(drive_blocking, connector, pacer.flow(job))] = job

        finished = False
        late: set[concurrent.futures.Future[BatchSendResult]] = set()
        try:
            while True:
                while len(running) < pacer.window():
                    if pacer.again:
                        start(pacer.again.popleft())
                    elif (pulled := source.next_blocking()) is None:
                        break
                    elif isinstance(job := pacer.admit(*pulled), BatchJob):
                        start(job)
                    elif job is not None:
                        yield job
                if not running:
                    break
                done, _ = futures.wait(running, return_when=futures.FIRST_COMPLETED)
                for future in done:
                    if (result := pacer.settle(running.pop(future), future.result())):
                        yield result
            finished = True
        finally:
            if not finished:
                done, late = futures.wait(running, timeout=close_timeout)
                for future, job in running.items():
                    report_after_close(after_close, future.result() if future in done
                                       else pacer.cut_short(job))
                for job in pacer.again:
                    report_after_close(after_close, pacer.cut_short(job))
            pool.shutdown(wait=not late, cancel_futures=True)

    def __enter__(self: B) -> B:
        if self.connector.state is ConnectorState.UNINITIALIZED:
            self.initialize()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()
