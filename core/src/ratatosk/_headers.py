"""Headers: the one header type of HTTP requests, HTTP responses and inbound webhooks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Union

HeadersLike = Union["Headers", Mapping[str, str], Iterable[tuple[str, str]]]
"""What a ``headers=`` argument accepts: :class:`Headers`, a mapping or ``(name, value)`` pairs."""

_SECRET_NAMES = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


class Headers:
    """Immutable, ordered HTTP header lines; names compare case-insensitively, a name may repeat.

    Build it from a mapping or from ``(name, value)`` pairs (another ``Headers`` is reused as
    it is). Iterating gives the ``(name, value)`` pairs in order, names spelled as given;
    :meth:`get` the first value of a name, :meth:`get_all` every value. Two ``Headers`` are
    equal when their lines are, names compared case-insensitively. ``repr`` masks the values of
    credential headers (``Authorization``, ``Cookie``...).
    """

    __slots__ = ("_folded", "_hash", "_items")

    _items: tuple[tuple[str, str], ...]
    _folded: tuple[tuple[str, str], ...] | None
    _hash: int | None

    def __new__(cls, headers: HeadersLike | None = None) -> Headers:
        if type(headers) is Headers and cls is Headers:
            return headers  # immutable: nothing to copy
        self = object.__new__(cls)
        if headers is None:
            items: tuple[tuple[str, str], ...] = ()
        elif isinstance(headers, Headers):
            items = headers._items
        else:
            pairs = headers.items() if isinstance(headers, Mapping) else headers
            items = tuple(
                (name if isinstance(name, str) else str(name),
                 value if isinstance(value, str) else str(value))
                for name, value in pairs
            )
        self._items = items
        self._folded = None
        self._hash = None
        return self

    # -- reading ----------------------------------------------------------------------------
    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name`` (any case), or ``default``."""
        lowered = None
        for key, value in self._items:
            if key == name:
                return value
            if lowered is None:
                lowered = name.lower()
            if key.lower() == lowered:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of header ``name`` (any case), in order; empty when it is absent."""
        lowered = name.lower()
        return [value for key, value in self._items if key.lower() == lowered]

    def __getitem__(self, name: str) -> str:
        """The first value of header ``name``; KeyError when it is absent."""
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def items(self) -> tuple[tuple[str, str], ...]:
        """The ``(name, value)`` pairs, in order."""
        return self._items

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    # -- comparing ----------------------------------------------------------------------------
    def _fold(self) -> tuple[tuple[str, str], ...]:
        folded = self._folded
        if folded is None:
            folded = self._folded = tuple((key.lower(), value) for key, value in self._items)
        return folded

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._items == other._items or self._fold() == other._fold()

    def __hash__(self) -> int:
        value = self._hash
        if value is None:
            value = self._hash = hash(self._fold())
        return value

    def __repr__(self) -> str:
        shown = [(key, "********" if key.lower() in _SECRET_NAMES else value)
                 for key, value in self._items]
        return f"Headers({shown!r})"

    def __reduce__(self) -> tuple[type[Headers], tuple[tuple[tuple[str, str], ...]]]:
        return (Headers, (self._items,))

    @classmethod
    def _of_pairs(cls, items: tuple[tuple[str, str], ...]) -> Headers:
        """Headers made of ``items`` as they are (text pairs already: the transports' path)."""
        self = object.__new__(cls)
        self._items = items
        self._folded = None
        self._hash = None
        return self


EMPTY_HEADERS = Headers()
"""The empty :class:`Headers`."""
