"""Operations, their effects, and the two drivers that run them.

An *operation* is written once, as a generator: it yields *effects* and returns a ``Result``.

* :class:`~ratatosk.HttpRequest` — send this request; the driver sends back the
  :class:`~ratatosk.HttpResponse`, or throws the :class:`~ratatosk.TransportError` into the
  generator (with the request attached as ``exc.request``).
* :class:`Sleep` — wait this many seconds (retry backoff, rate-limit waits).
* :class:`CloseTransports` — close the transports the connector created (``shutdown``).
* :class:`Via` — run the effect it carries on another connector's transports (a routing connector
  running a member's operation: :func:`run_on`).

Everything that does no I/O — state checks, validation, hooks, retries, rate limiting, request
building and response mapping — lives in the generator. Exactly two drivers run every operation:
:func:`drive_async` (``await connector.op(...)``) and :func:`drive_blocking`
(``connector.blocking().op(...)``); neither knows what the operation does.

A provider declares an extra operation with the :class:`operation` decorator and gets both forms
with no more code::

    class AcmeConnector(Connector):
        @operation
        def cancel_message(self, remote_id: str) -> Operation[StatusUpdate]:
            return (yield from self.run_flow(self.cancel_flow, remote_id))
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from attrs import frozen

from .._results import Result
from ..transports import HttpRequest, TransportError

if TYPE_CHECKING:
    from ._base import Connector

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")

_log = logging.getLogger("ratatosk.connector")


@frozen(slots=True)
class Sleep:
    """Effect: wait ``seconds`` (the async driver awaits, the blocking driver sleeps)."""

    seconds: float


@frozen(slots=True)
class CloseTransports:
    """Effect: close the transports the connector created (the driver returns what failed)."""


@frozen(slots=True)
class Via:
    """Effect: run ``effect`` on ``connector``'s transports and timing, not the driver's own.

    A connector that runs another connector's operation inside its own (a routing connector and
    its members) yields the member's effects wrapped in ``Via`` (see :func:`run_on`).
    """

    connector: Connector
    effect: Effect


Effect = HttpRequest | Sleep | CloseTransports | Via
"""What an operation may yield."""


def run_on(connector: Connector, name: str, *args: Any) -> Operation[Any]:
    """``connector``'s operation ``name`` as a step of another operation: ``yield from`` it.

    Its effects go out wrapped in :class:`Via`, so the driver sends them on ``connector``'s own
    transports (its base URL, proxy, timeout and injected transports) whichever connector's
    driver runs the outer operation.
    """
    declared = operations_of(type(connector)).get(name)
    if declared is None:
        raise AttributeError(f"{type(connector).__qualname__} has no operation {name!r}")
    op = declared.fn(connector, *args)
    value: Any = None
    error: TransportError | None = None
    try:
        while True:
            effect = op.send(value) if error is None else op.throw(error)
            value = error = None
            try:
                value = yield Via(connector, effect)
            except TransportError as exc:
                error = exc
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        op.close()

Operation = Generator[Effect, Any, Result[T]]
"""An operation: yields effects, receives their outcomes, returns a ``Result``."""


async def drive_async(connector: Connector, op: Generator[Effect, Any, R]) -> R:
    """Run ``op`` on the connector's async transport (no other logic lives here)."""
    runtime = connector.runtime
    value: Any = None
    error: BaseException | None = None
    try:
        while True:
            effect = op.send(value) if error is None else op.throw(error)
            value = error = None
            rt = runtime
            while isinstance(effect, Via):
                rt, effect = effect.connector.runtime, effect.effect
            if isinstance(effect, HttpRequest):
                try:
                    value = await rt.async_transport().send(effect, timeout=rt.timeout)
                except TransportError as exc:
                    exc.request = effect
                    error = exc
            elif isinstance(effect, Sleep):
                await rt.sleep(effect.seconds)
            else:
                value = await rt.aclose_transports()
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        op.close()


def drive_blocking(connector: Connector, op: Generator[Effect, Any, R]) -> R:
    """Run ``op`` on the connector's blocking transport (the twin of :func:`drive_async`)."""
    runtime = connector.runtime
    value: Any = None
    error: BaseException | None = None
    try:
        while True:
            effect = op.send(value) if error is None else op.throw(error)
            value = error = None
            rt = runtime
            while isinstance(effect, Via):
                rt, effect = effect.connector.runtime, effect.effect
            if isinstance(effect, HttpRequest):
                try:
                    value = rt.sync_transport().send(effect, timeout=rt.timeout)
                except TransportError as exc:
                    exc.request = effect
                    error = exc
            elif isinstance(effect, Sleep):
                rt.blocking_sleep(effect.seconds)
            else:
                value = rt.close_transports()
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        op.close()


class operation(Generic[P, T]):
    """Declare a connector operation once; it runs async and blocking.

    Decorate a generator method that returns ``Operation[T]``. On a connector the attribute is an
    async method returning ``Result[T]``; on ``connector.blocking()`` the same name is a plain
    method returning ``Result[T]``. Both run the very same generator.
    """

    def __init__(self, fn: Callable[Concatenate[Any, P], Operation[T]]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> operation[P, T]: ...

    @overload
    def __get__(
        self, instance: object, owner: type
    ) -> Callable[P, Coroutine[Any, Any, Result[T]]]: ...

    def __get__(self, instance: object | None, owner: type) -> Any:
        if instance is None:
            return self
        fn = self.fn

        async def run(*args: P.args, **kwargs: P.kwargs) -> Result[T]:
            return await drive_async(instance, fn(instance, *args, **kwargs))  # type: ignore[arg-type]

        run.__name__ = self.name
        run.__doc__ = self.__doc__
        return run

    def blocking(self, instance: Connector) -> Callable[P, Result[T]]:
        """The blocking form of this operation bound to ``instance``."""
        fn = self.fn

        def run(*args: P.args, **kwargs: P.kwargs) -> Result[T]:
            return drive_blocking(instance, fn(instance, *args, **kwargs))

        run.__name__ = self.name
        run.__doc__ = self.__doc__
        return run


def operations_of(cls: type) -> dict[str, operation[Any, Any]]:
    """Every operation a connector class declares (its own and inherited), by name."""
    found: dict[str, operation[Any, Any]] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, operation):
                found[name] = value
            elif name in found:
                del found[name]
    return found

