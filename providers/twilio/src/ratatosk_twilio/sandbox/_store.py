"""Message records, their JSON form, and per-sender send queues.

Everything here is used from the sandbox's event loop thread only.
"""

from __future__ import annotations

import functools
import mimetypes
import os
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ratatosk_twilio._segments import analyze

from ._models import SandboxMedia, SandboxMessage

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "API_VERSION",
    "MediaRecord",
    "MessageRecord",
    "MessageStore",
    "SenderQueues",
    "body_metrics",
    "channel_of",
    "guess_content_type",
    "new_sid",
    "rfc2822",
    "to_datetime",
]

API_VERSION = "2010-04-01"
# Twilio queues about 10 hours of segments per sender, then answers 21611.
MAX_QUEUE_SECONDS = 36000.0

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_rfc_cache: tuple[int, str] = (-1, "")


def rfc2822(ts: float) -> str:
    """``Thu, 26 Nov 2026 17:40:00 +0000`` for a POSIX timestamp (cached per second)."""
    global _rfc_cache
    second = int(ts)
    cached = _rfc_cache
    if cached[0] == second:
        return cached[1]
    t = time.gmtime(second)
    text = (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )
    _rfc_cache = (second, text)
    return text


def to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def new_sid(prefix: str) -> str:
    return prefix + os.urandom(16).hex()


def guess_content_type(url: str) -> str:
    """The media type a URL's file name suggests (Twilio would fetch it and read the header)."""
    path = url.split("?", 1)[0].split("#", 1)[0]
    guessed, _ = mimetypes.guess_type(path, strict=False)
    return guessed or "application/octet-stream"


def channel_of(to: str, mms: bool) -> str:
    """``whatsapp`` for ``whatsapp:`` addresses, else ``mms`` (media or SendAsMms) or ``sms``."""
    if to.startswith("whatsapp:"):
        return "whatsapp"
    return "mms" if mms else "sms"


@functools.lru_cache(maxsize=4096)
def _analyze(text: str, smart_encoded: bool) -> tuple[int, str]:
    # cached: benchmarks and tests send the same bodies again and again
    analysis = analyze(text, smart_encoded=smart_encoded)
    return analysis.segments, analysis.encoding


def body_metrics(body: str, channel: str, smart_encoded: bool = False) -> tuple[int, str | None]:
    """(num_segments, encoding) of a body: SMS bodies as Twilio's segment calculator counts
    them; an MMS or WhatsApp message counts as one segment."""
    if not body:
        return 1, None
    segments, encoding = _analyze(body, smart_encoded)
    return (segments if channel == "sms" else 1), encoding


class MediaRecord:
    __slots__ = ("content_type", "date_created", "sid", "url")

    def __init__(self, url: str, content_type: str, date_created: float) -> None:
        self.sid = new_sid("ME")
        self.url = url
        self.content_type = content_type
        self.date_created = date_created

    def to_json(self, account_sid: str, message_sid: str) -> dict[str, object]:
        created = rfc2822(self.date_created)
        return {
            "account_sid": account_sid,
            "content_type": self.content_type,
            "date_created": created,
            "date_updated": created,
            "parent_sid": message_sid,
            "sid": self.sid,
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{message_sid}/Media/"
            f"{self.sid}.json",
        }

    def snapshot(self) -> SandboxMedia:
        return SandboxMedia(self.sid, self.url, self.content_type, to_datetime(self.date_created))


class MessageRecord:
    """The sandbox's mutable state of one message."""

    __slots__ = (
        "account_sid",
        "body",
        "channel",
        "date_created",
        "date_sent",
        "date_updated",
        "direction",
        "encoding",
        "error_code",
        "error_message",
        "from_",
        "held_callbacks",
        "history",
        "media",
        "messaging_service_sid",
        "num_segments",
        "params",
        "path",
        "price",
        "price_unit",
        "send_at",
        "seq",
        "sid",
        "status",
        "status_callback",
        "step",
        "timer",
        "to",
    )

    def __init__(
        self,
        *,
        sid: str,
        account_sid: str,
        direction: str,
        from_: str | None,
        to: str,
        body: str,
        status: str,
        channel: str,
        messaging_service_sid: str | None = None,
        num_segments: int = 1,
        encoding: str | None = None,
        media: list[MediaRecord] | None = None,
        now: float,
        status_callback: str | None = None,
        send_at: float | None = None,
        params: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.sid = sid
        self.account_sid = account_sid
        self.direction = direction
        self.from_ = from_
        self.to = to
        self.body = body
        self.status = status
        self.channel = channel
        self.messaging_service_sid = messaging_service_sid
        self.num_segments = num_segments
        self.encoding = encoding
        self.media = media if media is not None else []
        self.date_created = now
        self.date_updated = now
        self.date_sent: float | None = None
        self.price: str | None = None
        self.price_unit: str | None = None
        self.error_code: int | None = None
        self.error_message: str | None = None
        self.status_callback = status_callback
        self.send_at = send_at
        self.params = params
        # status callbacks held back to be sent out of order: (url, params, status)
        self.held_callbacks: list[tuple[str, list[tuple[str, str]], str]] = []
        self.history = [status]
        self.seq = 0
        # The statuses still ahead of the message, each with its error code; ``step`` indexes it.
        self.path: list[tuple[str, int | None]] = []
        self.step = 0
        self.timer: asyncio.Handle | None = None

    @property
    def uri(self) -> str:
        return f"/2010-04-01/Accounts/{self.account_sid}/Messages/{self.sid}.json"

    def to_json(self) -> dict[str, object]:
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{self.sid}"
        date_sent = self.date_sent
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.date_created),
            "date_sent": rfc2822(date_sent) if date_sent is not None else None,
            "date_updated": rfc2822(self.date_updated),
            "direction": self.direction,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": str(len(self.media)),
            "num_segments": str(self.num_segments),
            "price": self.price,
            "price_unit": self.price_unit,
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": base + "/Media.json"},
            "to": self.to,
            "uri": base + ".json",
        }

    def snapshot(self) -> SandboxMessage:
        return SandboxMessage(
            sid=self.sid,
            account_sid=self.account_sid,
            direction=self.direction,
            from_=self.from_,
            to=self.to,
            body=self.body,
            status=self.status,
            messaging_service_sid=self.messaging_service_sid,
            num_segments=self.num_segments,
            encoding=self.encoding,
            media=tuple(m.snapshot() for m in self.media),
            date_created=to_datetime(self.date_created),
            date_updated=to_datetime(self.date_updated),
            date_sent=to_datetime(self.date_sent) if self.date_sent is not None else None,
            price=self.price,
            price_unit=self.price_unit,
            error_code=self.error_code,
            error_message=self.error_message,
            status_callback=self.status_callback,
            send_at=to_datetime(self.send_at) if self.send_at is not None else None,
            status_history=tuple(self.history),
            params=self.params,
        )


class MessageStore:
    """Messages by SID, in creation order."""

    def __init__(self) -> None:
        self._by_sid: dict[str, MessageRecord] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._by_sid)

    def add(self, record: MessageRecord) -> None:
        self._seq += 1
        record.seq = self._seq
        self._by_sid[record.sid] = record

    def get(self, sid: str) -> MessageRecord | None:
        return self._by_sid.get(sid)

    def delete(self, sid: str) -> MessageRecord | None:
        return self._by_sid.pop(sid, None)

    def clear(self) -> None:
        self._by_sid.clear()

    def __iter__(self) -> Iterator[MessageRecord]:
        return iter(self._by_sid.values())

    def newest_first(self) -> Iterator[MessageRecord]:
        return reversed(self._by_sid.values())

    def snapshot(self) -> list[SandboxMessage]:
        return [record.snapshot() for record in self._by_sid.values()]


class SenderQueues:
    """Per-sender queues drained at ``messages_per_second`` segments per second.

    A simplification of Twilio's queue: each sender (``From``, else the Messaging Service) has a
    virtual clock of when its queue is empty; a message takes the next free slot, and a message
    whose slot would leave more than 10 hours of segments queued is refused (21611).
    """

    def __init__(self, messages_per_second: float | None) -> None:
        self.rate = messages_per_second
        self._free_at: dict[str, float] = {}

    def reserve(
        self, sender: str, segments: int, now: float, validity: int | None = None
    ) -> tuple[float, bool] | None:
        """(when the message leaves the queue, whether it expires); None when the queue is full.

        A message that would wait longer than its ``validity`` seconds takes no slot: it
        expires at ``now + validity`` (and then fails with 30001).
        """
        rate = self.rate
        if rate is None:
            return now, False
        start = max(now, self._free_at.get(sender, now))
        if validity is not None and start - now > validity:
            return now + validity, True
        end = start + max(segments, 1) / rate
        if end - now > MAX_QUEUE_SECONDS + 1e-6:
            return None
        self._free_at[sender] = end
        return start, False

    def clear(self) -> None:
        self._free_at.clear()
