"""A status model that never goes back: the order of statuses, multi-part folding, a status
store and the tracker that applies updates (and reconciles messages whose callback never came).

Statuses arrive out of order (a late ``sent`` after ``delivered``), twice (a provider retry, or
two callbacks for one status), and per part (the Vonage SMS API gives each part of a long
message its own id and its own receipt). :class:`StatusTracker` folds them into one status per
message that only moves forward; each update is reported as what it did to the message
(:class:`Applied`). See ``docs/statuses.md``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from attrs import evolve, field, frozen

from ._results import MessageStatus, SendResult, StatusUpdate
from .schema import ChannelCapability

if TYPE_CHECKING:
    from .connector import BlockingConnector, Connector
    from .ledger import Ledger

__all__ = [
    "Applied",
    "InMemoryStatusStore",
    "LedgerStatusStore",
    "ReconcileReport",
    "SqliteStatusStore",
    "StatusStore",
    "StatusTracker",
    "TrackedMessage",
    "fold_parts",
    "supersedes",
]

_S = MessageStatus

STATUS_RANKS: Mapping[MessageStatus, int] = {
    _S.UNKNOWN: 0,
    _S.SCHEDULED: 1,
    _S.QUEUED: 2,
    _S.ROUTED: 3,
    _S.SENT: 4,
    _S.DELIVERED: 5,
    _S.DELIVERY_FAILED: 5,
    _S.ROUTE_FAILED: 5,
    _S.CANCELED: 5,
    _S.DELETED: 5,
    _S.RECEIVED: 5,
    _S.READ: 6,
}
"""The order of statuses: UNKNOWN < SCHEDULED < QUEUED < ROUTED < SENT < the final statuses
(DELIVERED, DELIVERY_FAILED, ROUTE_FAILED, CANCELED, DELETED, RECEIVED) < READ."""

TERMINAL_MOVES: frozenset[tuple[MessageStatus, MessageStatus]] = frozenset({
    (_S.DELIVERED, _S.READ),
    (_S.DELIVERY_FAILED, _S.READ),
})
"""The only moves out of a final status: a read receipt proves delivery, so READ replaces
DELIVERED and DELIVERY_FAILED (a carrier's failure report that the handset contradicts)."""

_FAILED = (_S.DELIVERY_FAILED, _S.ROUTE_FAILED)


def status_rank(status: MessageStatus) -> int:
    """The status's place in the order (higher is later)."""
    return STATUS_RANKS[status]


def supersedes(new: MessageStatus, current: MessageStatus) -> bool:
    """Whether ``new`` may replace ``current``: a final status is replaced only by the moves in
    :data:`TERMINAL_MOVES`; any other status by a later one (never by itself or an earlier one)."""
    if current.is_final:
        return (current, new) in TERMINAL_MOVES
    return STATUS_RANKS[new] > STATUS_RANKS[current]


def fold_parts(parts: Iterable[MessageStatus]) -> MessageStatus:
    """One message status from the statuses of its parts.

    * any part canceled -> CANCELED; else any part failed -> DELIVERY_FAILED (ROUTE_FAILED when
      every failed part failed before the carrier);
    * every part read -> READ; every part delivered or read -> DELIVERED;
    * otherwise the earliest status of the parts that are not final yet (a message is as far
      as its slowest part).
    """
    statuses = list(parts)
    if not statuses:
        return _S.UNKNOWN
    if _S.CANCELED in statuses:
        return _S.CANCELED
    failed = [s for s in statuses if s in _FAILED]
    if failed:
        return _S.ROUTE_FAILED if all(s is _S.ROUTE_FAILED for s in failed) else _S.DELIVERY_FAILED
    if all(s is _S.READ for s in statuses):
        return _S.READ
    if all(s in (_S.DELIVERED, _S.READ) for s in statuses):
        return _S.DELIVERED
    open_parts = [s for s in statuses if not s.is_final] or statuses
    return min(open_parts, key=STATUS_RANKS.__getitem__)


def _parts(value: Mapping[str, MessageStatus]) -> dict[str, MessageStatus]:
    return {str(k): MessageStatus(v) for k, v in value.items()}


@frozen
class TrackedMessage:
    """What a :class:`StatusStore` keeps about one sent message.

    ``remote_message_id`` is the provider's id of the message (of its first part when the
    provider gives each part an id); ``parts`` maps each part's id to its status (one part, the
    message itself, for most providers). ``sender`` and ``recipient`` are the addresses the
    message was sent from and to, when known. ``version`` increases with every save (stores use
    it for compare-and-set). Times are seconds since the epoch.
    """

    remote_message_id: str
    status: MessageStatus
    parts: dict[str, MessageStatus] = field(factory=dict, converter=_parts)
    message_id: str | None = None
    connector: str | None = None
    provider_status: str | None = None
    sender: str | None = None
    recipient: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 0


@runtime_checkable
class StatusStore(Protocol):
    """Where a :class:`StatusTracker` keeps each message's status.

    Implementations: :class:`InMemoryStatusStore` (the default, one process) and
    :class:`LedgerStatusStore` (mirrors every change into a delivery ledger). A store shared by
    several processes must make :meth:`save` a compare-and-set on ``version``.
    """

    def load(self, remote_id: str) -> TrackedMessage | None:
        """The message whose id, or one of whose parts' ids, is ``remote_id``."""
        ...

    def save(self, record: TrackedMessage, expected_version: int | None) -> bool:
        """Store ``record`` if the stored version is ``expected_version`` (None: no record
        yet); False when another writer came first (the tracker then reads and tries again)."""
        ...

    def open_messages(self, updated_before: float, limit: int) -> list[TrackedMessage]:
        """Messages not in a final status whose last change is older than ``updated_before``,
        oldest first, at most ``limit``."""
        ...


class InMemoryStatusStore:
    """A thread-safe :class:`StatusStore` in memory (per process); ``max_messages`` bounds it:
    when it is exceeded, a tenth is dropped, the oldest messages in a final status first, then
    the oldest of all."""

    def __init__(self, max_messages: int = 100_000) -> None:
        if max_messages < 1:
            raise ValueError("max_messages must be >= 1")
        self.max_messages = max_messages
        self._records: dict[str, TrackedMessage] = {}
        self._parts: dict[str, str] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def load(self, remote_id: str) -> TrackedMessage | None:
        with self._lock:
            key = self._parts.get(remote_id, remote_id)
            return self._records.get(key)

    def save(self, record: TrackedMessage, expected_version: int | None) -> bool:
        with self._lock:
            key = record.remote_message_id
            current = self._records.get(key)
            if (current is None) != (expected_version is None):
                return False
            if current is not None and current.version != expected_version:
                return False
            self._records[key] = record
            for part in record.parts:
                self._parts[part] = key
            if len(self._records) > self.max_messages:
                self._evict()
            return True

    def open_messages(self, updated_before: float, limit: int) -> list[TrackedMessage]:
        with self._lock:
            found = [r for r in self._records.values()
                     if not r.status.is_final and r.updated_at < updated_before]
        found.sort(key=lambda r: r.updated_at)
        return found[:limit]

    def _evict(self) -> None:
        # down to 90 % at once, so a full store sorts once per many saves, not on every one
        keep = self.max_messages - self.max_messages // 10
        ordered = sorted(self._records.values(),
                         key=lambda r: (not r.status.is_final, r.updated_at))
        for record in ordered[: len(self._records) - keep]:
            del self._records[record.remote_message_id]
            for part in record.parts:
                self._parts.pop(part, None)


_RECORD_FIELDS = ("message_id", "connector", "provider_status", "sender", "recipient",
                  "created_at")


class SqliteStatusStore:
    """A :class:`StatusStore` in one SQLite file (standard library; WAL mode), shared by the
    threads and processes of one machine and kept across restarts, so :meth:`StatusTracker.
    reconcile` still finds the messages sent before. ``save`` is a compare-and-set on
    ``version`` inside one transaction. ``prefix`` starts its two tables' names."""

    def __init__(self, path: str | Path, *, prefix: str = "ratatosk_status") -> None:
        if not prefix.replace("_", "").isalnum():
            raise ValueError("prefix must be letters, digits and underscores")
        self.path = str(path)
        self._messages, self._parts = f"{prefix}_messages", f"{prefix}_parts"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0,
                                   isolation_level=None)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                f"CREATE TABLE IF NOT EXISTS {self._messages} (remote_id TEXT PRIMARY KEY, "
                "status TEXT NOT NULL, is_final INTEGER NOT NULL, parts TEXT NOT NULL, "
                "data TEXT NOT NULL, updated_at REAL NOT NULL, version INTEGER NOT NULL)")
            self._db.execute(
                f"CREATE INDEX IF NOT EXISTS {self._messages}_open "
                f"ON {self._messages} (is_final, updated_at)")
            self._db.execute(
                f"CREATE TABLE IF NOT EXISTS {self._parts} (part_id TEXT PRIMARY KEY, "
                "remote_id TEXT NOT NULL)")

    def __repr__(self) -> str:
        return f"<SqliteStatusStore {self.path!r}>"

    def _record(self, row: tuple[Any, ...]) -> TrackedMessage:
        remote_id, status, parts, data, updated_at, version = row
        extra = json.loads(data)
        return TrackedMessage(remote_id, MessageStatus(status), json.loads(parts),
                              updated_at=updated_at, version=version,
                              **{k: extra.get(k) for k in _RECORD_FIELDS if k in extra})

    _SELECT = "SELECT remote_id, status, parts, data, updated_at, version FROM {}"

    def load(self, remote_id: str) -> TrackedMessage | None:
        with self._lock:
            row = self._db.execute(
                self._SELECT.format(self._messages) + " WHERE remote_id = COALESCE("
                f"(SELECT remote_id FROM {self._parts} WHERE part_id = ?), ?)",
                (remote_id, remote_id)).fetchone()
        return None if row is None else self._record(row)

    def save(self, record: TrackedMessage, expected_version: int | None) -> bool:
        parts = json.dumps({k: v.value for k, v in record.parts.items()})
        data = json.dumps({k: getattr(record, k) for k in _RECORD_FIELDS})
        values = (record.status.value, int(record.status.is_final), parts, data,
                  record.updated_at, record.version)
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                if expected_version is None:
                    cursor = db.execute(
                        f"INSERT OR IGNORE INTO {self._messages} (remote_id, status, is_final, "
                        "parts, data, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (record.remote_message_id, *values))
                else:
                    cursor = db.execute(
                        f"UPDATE {self._messages} SET status = ?, is_final = ?, parts = ?, "
                        "data = ?, updated_at = ?, version = ? WHERE remote_id = ? "
                        "AND version = ?", (*values, record.remote_message_id, expected_version))
                done = cursor.rowcount == 1
                if done:
                    db.executemany(
                        f"INSERT OR IGNORE INTO {self._parts} (part_id, remote_id) "
                        "VALUES (?, ?)", [(p, record.remote_message_id) for p in record.parts])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return done

    def open_messages(self, updated_before: float, limit: int) -> list[TrackedMessage]:
        with self._lock:
            rows = self._db.execute(
                self._SELECT.format(self._messages) + " WHERE is_final = 0 AND updated_at < ? "
                "ORDER BY updated_at LIMIT ?", (updated_before, limit)).fetchall()
        return [self._record(row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class LedgerStatusStore:
    """A :class:`StatusStore` that also writes each status change into a delivery ledger.

    The message records live in ``inner`` (default :class:`InMemoryStatusStore`); every save
    that changes a message's status appends it with ``ledger.record_status`` (the folded
    status, and the provider's word as ``provider_status``), so the ledger's history of a
    message (``ledger.status_updates(idempotency_key)``) only moves forward and holds each
    status once.
    """

    def __init__(self, ledger: Ledger, inner: StatusStore | None = None) -> None:
        self.ledger = ledger
        self.inner: StatusStore = inner if inner is not None else InMemoryStatusStore()

    def load(self, remote_id: str) -> TrackedMessage | None:
        return self.inner.load(remote_id)

    def save(self, record: TrackedMessage, expected_version: int | None) -> bool:
        previous = self.inner.load(record.remote_message_id)
        if not self.inner.save(record, expected_version):
            return False
        if previous is None or previous.status is not record.status:
            self.ledger.record_status(record.remote_message_id, record.status.value,
                                      provider_status=record.provider_status)
        return True

    def open_messages(self, updated_before: float, limit: int) -> list[TrackedMessage]:
        return self.inner.open_messages(updated_before, limit)


@frozen
class Applied:
    """What one status update did to its message.

    ``status`` is the message's status afterwards, ``previous`` before (None: the message was
    not known). ``changed``: the message's status moved. ``duplicate``: this part already had
    this very status (a repeated report). ``stale``: the update is behind what is known (a
    ``sent`` after ``delivered``) and was ignored.
    """

    status: MessageStatus
    previous: MessageStatus | None
    changed: bool
    duplicate: bool = False
    stale: bool = False
    record: TrackedMessage | None = None


@frozen
class ReconcileReport:
    """What :meth:`StatusTracker.reconcile` did: the messages it queried, the updates that
    changed a status, and the queries that failed (remote id -> error code)."""

    checked: int = 0
    changed: tuple[str, ...] = ()
    failed: dict[str, str] = field(factory=dict)


class StatusTracker:
    """Applies status updates so each message's status only moves forward (see
    ``docs/statuses.md``): ``tracker.apply(update) -> Applied``.

    Set it on a connector (``connector.status_tracker = StatusTracker()``) and
    ``receive_message_status`` applies every callback through it, marking late and repeated
    ones ``is_stale``. ``track(send_result)`` registers a sent message (and its parts' ids,
    from ``additional_data["message_ids"]``) so that a message whose final callback never came
    is found by :meth:`reconcile`. ``store`` defaults to an :class:`InMemoryStatusStore`;
    ``clock`` returns seconds since the epoch.
    """

    def __init__(self, store: StatusStore | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.store: StatusStore = store if store is not None else InMemoryStatusStore()
        self.clock = clock

    def get(self, remote_id: str) -> TrackedMessage | None:
        """The tracked message with this id (or a part with this id), if any."""
        return self.store.load(remote_id)

    def status(self, remote_id: str) -> MessageStatus | None:
        """The message's status, or None when it is not tracked."""
        record = self.store.load(remote_id)
        return None if record is None else record.status

    def track(self, result: SendResult, *, connector: str | None = None,
              sender: str | None = None, recipient: str | None = None) -> TrackedMessage:
        """Register a message the provider accepted (idempotent: a known message is kept).

        Its parts are ``result.additional_data["message_ids"]`` when the provider lists one id
        per part, else the message itself. ``sender``/``recipient`` let a later opt-out error in
        a status callback be recorded for the right pair.
        """
        remote_id = result.remote_message_id
        if not remote_id:
            raise ValueError("the send result has no remote message id to track")
        ids = result.additional_data.get("message_ids")
        part_ids = [str(i) for i in ids if i] if isinstance(ids, (list, tuple)) else []
        now = self.clock()
        parts = {pid: result.status for pid in (part_ids or [remote_id])}
        record = TrackedMessage(remote_id, result.status, parts, message_id=result.message_id,
                                connector=connector, provider_status=result.provider_status,
                                sender=sender, recipient=recipient, created_at=now,
                                updated_at=now, version=1)
        while True:
            existing = self.store.load(remote_id)
            if existing is not None:
                return existing
            if self.store.save(record, None):
                return record

    def apply(self, update: StatusUpdate) -> Applied:
        """Fold ``update`` into its message's status (never backwards) and say what it did."""
        part = update.remote_message_id
        while True:
            current = self.store.load(part)
            applied, record = self._fold(current, update)
            if record is None:
                return applied
            expected = None if current is None else current.version
            if self.store.save(record, expected):
                return evolve(applied, record=record)

    def _fold(self, current: TrackedMessage | None,
              update: StatusUpdate) -> tuple[Applied, TrackedMessage | None]:
        now = self.clock()
        part, new = update.remote_message_id, update.status
        if current is None:
            record = TrackedMessage(part, new, {part: new}, message_id=update.message_id,
                                    provider_status=update.provider_status,
                                    created_at=now, updated_at=now, version=1)
            changed = new is not _S.UNKNOWN
            return Applied(new, None, changed=changed, duplicate=False,
                           stale=not changed), record
        # a part's update (the message itself for one part), else one about the whole message
        before = current.parts.get(part, current.status)
        if new is before:
            return Applied(current.status, current.status, changed=False, duplicate=True,
                           record=current), None
        if not supersedes(new, before):
            return Applied(current.status, current.status, changed=False, stale=True,
                           record=current), None
        parts = dict(current.parts)
        if part in parts:
            parts[part] = new
            folded = fold_parts(parts.values())
        else:
            folded = new
        status = folded if supersedes(folded, current.status) else current.status
        changed = status is not current.status
        record = evolve(current, status=status, parts=parts, updated_at=now,
                        version=current.version + 1,
                        provider_status=update.provider_status if changed
                        else current.provider_status)
        return Applied(status, current.status, changed=changed, record=record), record

    def annotate(self, update: StatusUpdate) -> StatusUpdate:
        """``update`` applied, with ``message_status`` and ``is_stale`` set (what
        ``receive_message_status`` returns when the connector has a tracker)."""
        if update.is_duplicate:
            record = self.store.load(update.remote_message_id)
            status = update.status if record is None else record.status
            return evolve(update, message_status=status, is_stale=True)
        applied = self.apply(update)
        return evolve(update, message_status=applied.status, is_stale=not applied.changed)

    # -- reconciliation ----------------------------------------------------------------------
    def due(self, older_than: float, limit: int = 100) -> list[TrackedMessage]:
        """Tracked messages not in a final status and unchanged for ``older_than`` seconds."""
        if older_than < 0 or limit < 1:
            raise ValueError("older_than must be >= 0 and limit >= 1")
        return self.store.open_messages(self.clock() - older_than, limit)

    def _ids_to_query(self, records: Iterable[TrackedMessage]) -> list[str]:
        ids: list[str] = []
        for record in records:
            open_parts = [p for p, s in record.parts.items() if not s.is_final]
            ids.extend(open_parts or [record.remote_message_id])
        return ids

    async def reconcile(self, connector: Connector[Any], *, older_than: float = 3600.0,
                        limit: int = 100) -> ReconcileReport:
        """Ask the provider (``get_message_status``) about every message whose final callback
        has not come within ``older_than`` seconds, and apply the answers like callbacks.

        A connector without MESSAGE_STATUS_QUERY checks nothing (``checked`` is 0).
        """
        if not connector.supports(ChannelCapability.MESSAGE_STATUS_QUERY):
            return ReconcileReport()
        changed: list[str] = []
        failed: dict[str, str] = {}
        ids = self._ids_to_query(self.due(older_than, limit))
        for remote_id in ids:
            result = await connector.get_message_status(remote_id)
            self._record(remote_id, result.data, result.error, changed, failed,
                         applied=connector.status_tracker is self)
        return ReconcileReport(len(ids), tuple(changed), failed)

    def reconcile_blocking(self, connector: BlockingConnector, *, older_than: float = 3600.0,
                           limit: int = 100) -> ReconcileReport:
        """:meth:`reconcile` for the blocking view (``connector.blocking()``)."""
        if not connector.connector.supports(ChannelCapability.MESSAGE_STATUS_QUERY):
            return ReconcileReport()
        changed: list[str] = []
        failed: dict[str, str] = {}
        ids = self._ids_to_query(self.due(older_than, limit))
        for remote_id in ids:
            result = connector.get_message_status(remote_id)
            self._record(remote_id, result.data, result.error, changed, failed,
                         applied=connector.connector.status_tracker is self)
        return ReconcileReport(len(ids), tuple(changed), failed)

    def _record(self, remote_id: str, update: StatusUpdate | None, error: Any,
                changed: list[str], failed: dict[str, str], *, applied: bool) -> None:
        if update is None:
            failed[remote_id] = str(getattr(error, "code", "UNKNOWN"))
            return
        if applied:  # the connector's tracker is this one: get_message_status applied it
            if not update.is_stale:
                changed.append(remote_id)
            return
        if update.remote_message_id != remote_id:
            update = evolve(update, remote_message_id=remote_id)
        if self.apply(update).changed:
            changed.append(remote_id)
