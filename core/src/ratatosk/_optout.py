"""Opt-outs: STOP/START/HELP keywords, the suppression store and the gate before every send.

A recipient who replies STOP (or another opt-out keyword) to one of our numbers must get nothing
more from that number until they reply START. The connector records keywords found in inbound
messages, and the providers' opt-out errors (Twilio 21610, Vonage SMS status 7, both mapped to
``RECIPIENT_OPTED_OUT``), in its suppression store (``connector.suppressions``), and refuses a
send to a suppressed (sender, recipient) pair before any request. An application that keeps its
own list implements the hooks ``ratatosk_is_suppressed`` and ``ratatosk_opt_out_received``
instead (or as well). See ``docs/opt-outs.md``.
"""

from __future__ import annotations

import enum
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from attrs import field, frozen

from ._errors import ErrorInfo, MessagingErrorCodes
from ._models import Message
from ._results import Result, SendResult, StatusUpdate

if TYPE_CHECKING:
    from .connector import Connector

__all__ = [
    "ALL_SENDERS",
    "HELP_KEYWORDS",
    "OPT_IN_KEYWORDS",
    "OPT_OUT_KEYWORDS",
    "InMemorySuppressionStore",
    "OptOutAction",
    "OptOutEvent",
    "RedisSuppressionStore",
    "SqliteSuppressionStore",
    "SuppressionStore",
    "classify_keyword",
]

OPT_OUT_KEYWORDS: frozenset[str] = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
"""Replies that opt a recipient out (Twilio's list, which follows the CTIA's)."""
OPT_IN_KEYWORDS: frozenset[str] = frozenset({"START", "YES", "UNSTOP"})
"""Replies that opt a recipient back in."""
HELP_KEYWORDS: frozenset[str] = frozenset({"HELP", "INFO"})
"""Replies that ask for information (nothing is recorded; the hook lets the application answer)."""
ALL_SENDERS = "*"
"""The sender of a suppression that applies to every sender (STOPALL, or an unknown sender)."""

_TRIM = " \t\r\n.!?,;:'\"()[]"


class OptOutAction(str, enum.Enum):
    """What a keyword or a provider error asks for."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"

    def __str__(self) -> str:
        return self.value


def classify_keyword(text: str | None) -> tuple[OptOutAction, str] | None:
    """The action of an inbound text that is one keyword (any case, surrounding spaces and
    punctuation ignored: ``" Stop! "`` is STOP), and the keyword; None for any other text."""
    if not text:
        return None
    word = text.strip(_TRIM).upper()
    if word in OPT_OUT_KEYWORDS:
        return OptOutAction.OPT_OUT, word
    if word in OPT_IN_KEYWORDS:
        return OptOutAction.OPT_IN, word
    if word in HELP_KEYWORDS:
        return OptOutAction.HELP, word
    return None


def _address(value: object) -> str:
    return str(value).strip()


@frozen
class OptOutEvent:
    """An opt-out, opt-in or help request the connector saw.

    ``sender`` is our address the recipient wrote to (or that a send came from; ``*`` for all
    senders), ``recipient`` the person's address. ``keyword`` is the keyword received, or the
    provider's error code; ``source`` is ``"keyword"`` (an inbound message) or
    ``"provider_error"`` (a send the provider refused as opted out). ``changed`` says whether
    the suppression store changed (False without a store, or when it already knew).
    """

    action: OptOutAction
    sender: str
    recipient: str
    keyword: str
    source: str
    message_id: str | None = None
    connector: str | None = None
    changed: bool = False
    at: float = field(factory=time.time)


@runtime_checkable
class SuppressionStore(Protocol):
    """Who opted out of messages from which sender.

    Implementations: :class:`InMemorySuppressionStore` (one process),
    :class:`SqliteSuppressionStore` (a file, shared by the processes of one machine) and
    :class:`RedisSuppressionStore` (shared by every machine).
    ``sender`` :data:`ALL_SENDERS` suppresses a recipient for every sender.
    """

    def is_suppressed(self, sender: str | None, recipient: str) -> bool:
        """Whether ``recipient`` opted out of ``sender`` (or of every sender); with ``sender``
        None (the provider picks the sender), whether they opted out of any sender."""
        ...

    def suppress(self, sender: str, recipient: str, reason: str = "") -> bool:
        """Record an opt-out; True when it was not recorded yet."""
        ...

    def release(self, sender: str, recipient: str) -> bool:
        """Forget the opt-out of ``recipient`` from ``sender`` and from every sender (an
        opt-in); True when there was one."""
        ...


class InMemorySuppressionStore:
    """A thread-safe :class:`SuppressionStore` in memory (per process)."""

    def __init__(self, entries: Iterable[tuple[str, str]] = ()) -> None:
        self._by_recipient: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        for sender, recipient in entries:
            self.suppress(sender, recipient)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(senders) for senders in self._by_recipient.values())

    def is_suppressed(self, sender: str | None, recipient: str) -> bool:
        with self._lock:
            senders = self._by_recipient.get(_address(recipient))
            if not senders:
                return False
            return sender is None or ALL_SENDERS in senders or _address(sender) in senders

    def suppress(self, sender: str, recipient: str, reason: str = "") -> bool:
        with self._lock:
            senders = self._by_recipient.setdefault(_address(recipient), {})
            key = _address(sender)
            new = key not in senders
            senders[key] = reason
            return new

    def release(self, sender: str, recipient: str) -> bool:
        with self._lock:
            senders = self._by_recipient.get(_address(recipient))
            if not senders:
                return False
            found = [senders.pop(k) for k in (_address(sender), ALL_SENDERS) if k in senders]
            if not senders:
                del self._by_recipient[_address(recipient)]
            return bool(found)


class SqliteSuppressionStore:
    """A :class:`SuppressionStore` in one SQLite file (standard library; WAL mode), shared by
    the threads and processes of one machine. ``table`` names its table."""

    def __init__(self, path: str | Path, *, table: str = "ratatosk_suppressions",
                 clock: Callable[[], float] = time.time) -> None:
        if not table.replace("_", "").isalnum():
            raise ValueError("table must be letters, digits and underscores")
        self.path = str(path)
        self.table = table
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0,
                                   isolation_level=None)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (sender TEXT NOT NULL, "
                "recipient TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', "
                "created_at REAL NOT NULL, PRIMARY KEY (recipient, sender))")

    def __repr__(self) -> str:
        return f"<SqliteSuppressionStore {self.path!r} table={self.table}>"

    def is_suppressed(self, sender: str | None, recipient: str) -> bool:
        with self._lock:
            if sender is None:
                row = self._db.execute(f"SELECT 1 FROM {self.table} WHERE recipient = ? LIMIT 1",
                                       (_address(recipient),)).fetchone()
            else:
                row = self._db.execute(
                    f"SELECT 1 FROM {self.table} WHERE recipient = ? AND sender IN (?, ?) "
                    "LIMIT 1", (_address(recipient), _address(sender), ALL_SENDERS)).fetchone()
        return row is not None

    def suppress(self, sender: str, recipient: str, reason: str = "") -> bool:
        with self._lock:
            cursor = self._db.execute(
                f"INSERT OR IGNORE INTO {self.table} (sender, recipient, reason, created_at) "
                "VALUES (?, ?, ?, ?)", (_address(sender), _address(recipient), reason,
                                        self._clock()))
        return cursor.rowcount == 1

    def release(self, sender: str, recipient: str) -> bool:
        with self._lock:
            cursor = self._db.execute(
                f"DELETE FROM {self.table} WHERE recipient = ? AND sender IN (?, ?)",
                (_address(recipient), _address(sender), ALL_SENDERS))
        return cursor.rowcount > 0

    def close(self) -> None:
        with self._lock:
            self._db.close()


class RedisSuppressionStore:
    """A :class:`SuppressionStore` in Redis, shared by every process and machine.

    ``client`` is a ``redis.Redis`` client (``pip install 'ratatosk-messaging[redis]'`` brings
    the package); each recipient is one hash ``{prefix}:{recipient}`` of sender -> reason.
    """

    def __init__(self, client: Any, *, prefix: str = "ratatosk:suppressed") -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, recipient: str) -> str:
        return f"{self.prefix}:{_address(recipient)}"

    def is_suppressed(self, sender: str | None, recipient: str) -> bool:
        key = self._key(recipient)
        if sender is None:
            return bool(self.client.hlen(key))
        found = self.client.hmget(key, [_address(sender), ALL_SENDERS])
        return any(value is not None for value in found)

    def suppress(self, sender: str, recipient: str, reason: str = "") -> bool:
        return bool(self.client.hsetnx(self._key(recipient), _address(sender), reason))

    def release(self, sender: str, recipient: str) -> bool:
        return bool(self.client.hdel(self._key(recipient), _address(sender), ALL_SENDERS))


# -- what the connector base calls ---------------------------------------------------------------

def _suppression_hook(connector: Connector[Any], sender: str | None,
                      recipient: str) -> bool | None:
    caller = connector._hook("ratatosk_is_suppressed")
    if caller is None:
        return None
    for answer in caller(connector=connector, sender=sender, recipient=recipient):
        if answer is not None:
            return bool(answer)
    return None


def refuse_if_suppressed(connector: Connector[Any], message: Message) -> ErrorInfo | None:
    """``RECIPIENT_OPTED_OUT`` when the message's recipient opted out of its sender (asked of
    the ``ratatosk_is_suppressed`` hook first, then of ``connector.suppressions``), else None."""
    store = connector.suppressions
    if message.receiver is None:
        return None
    recipient = _address(message.receiver.address)
    sender = None if message.sender is None else _address(message.sender.address)
    verdict = _suppression_hook(connector, sender, recipient)
    if verdict is None:
        if store is None:
            return None
        verdict = store.is_suppressed(sender, recipient)
    if not verdict:
        return None
    return ErrorInfo(
        MessagingErrorCodes.RECIPIENT_OPTED_OUT,
        f"{recipient} opted out of messages from {sender or 'this sender'}; nothing was sent "
        "(they can opt back in by replying START)",
        details={"sender": sender, "recipient": recipient})


def _record(connector: Connector[Any], event: OptOutEvent) -> OptOutEvent:
    store = connector.suppressions
    changed = False
    if store is not None:
        if event.action is OptOutAction.OPT_OUT:
            changed = store.suppress(event.sender, event.recipient, event.keyword)
        elif event.action is OptOutAction.OPT_IN:
            changed = store.release(event.sender, event.recipient)
    event = OptOutEvent(event.action, event.sender, event.recipient, event.keyword,
                        event.source, event.message_id, event.connector, changed, event.at)
    connector.observe("ratatosk_opt_out_received", event=event)
    return event


def note_send_result(connector: Connector[Any], message: Message,
                     result: Result[SendResult]) -> None:
    """After a send: a provider's opt-out refusal (``RECIPIENT_OPTED_OUT``) is recorded."""
    error = result.error
    if error is None or error.code != MessagingErrorCodes.RECIPIENT_OPTED_OUT:
        return
    if message.receiver is None:
        return
    sender = ALL_SENDERS if message.sender is None else _address(message.sender.address)
    _record(connector, OptOutEvent(
        OptOutAction.OPT_OUT, sender, _address(message.receiver.address),
        error.provider_code or str(error.code), "provider_error", message.id,
        connector.schema.connector_id))


def note_inbound(connector: Connector[Any], message: Message) -> OptOutEvent | None:
    """An inbound message that is an opt-out, opt-in or help keyword is recorded (and
    reported through ``ratatosk_opt_out_received``); returns the event, None for other text."""
    if message.sender is None:
        return None
    found = classify_keyword(message.text)
    if found is None:
        return None
    action, keyword = found
    ours = ALL_SENDERS if message.receiver is None or keyword == "STOPALL" else _address(
        message.receiver.address)
    event = OptOutEvent(action, ours, _address(message.sender.address), keyword, "keyword",
                        message.id, connector.schema.connector_id)
    return _record(connector, event)


def note_status(connector: Connector[Any], update: StatusUpdate) -> None:
    """A status callback that reports an opt-out refusal (``RECIPIENT_OPTED_OUT``, e.g. Twilio
    21610 on a message sent through a Messaging Service) is recorded for the pair the status
    tracker knows the message by (a callback carries no provider-neutral addresses)."""
    error, tracker = update.error, connector.status_tracker
    if (error is None or error.code != MessagingErrorCodes.RECIPIENT_OPTED_OUT
            or tracker is None or update.is_duplicate or update.is_stale):
        return
    record = tracker.get(update.remote_message_id)
    if record is None or record.recipient is None:
        return
    _record(connector, OptOutEvent(
        OptOutAction.OPT_OUT, _address(record.sender or ALL_SENDERS), _address(record.recipient),
        error.provider_code or str(error.code), "provider_error", record.message_id,
        connector.schema.connector_id))
