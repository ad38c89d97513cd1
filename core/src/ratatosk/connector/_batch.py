"""Pulling a batch's input: ``(index, item)`` pairs from an iterable or async iterable."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from attrs import define, field

if TYPE_CHECKING:
    import asyncio


def check_concurrency(concurrency: int) -> None:
    """Raise ``ValueError`` unless ``concurrency`` is a positive integer."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError("concurrency must be a positive integer")


@define(eq=False)
class BatchSource:
    """Pulls ``(index, item)`` pairs from an iterable or async iterable, one at a time."""

    items: Iterable[Any] | AsyncIterable[Any]
    concurrency: int = 16
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
        if self._done:
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

    def next_blocking(self) -> tuple[int, Any] | None:
        """:meth:`next` for a plain iterable (the thread-pool engine and the async one)."""
        if self._done or self._iterator is None:
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
