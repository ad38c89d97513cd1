"""The sandbox's state and message life cycle: creation, status progression, callbacks, inbound.

Runs on the sandbox's event loop thread only (the public facade hops there).

Status paths (the first status is ``queued``, ``accepted`` with a Messaging Service, or
``scheduled`` with ``SendAt``; ``accepted``/``scheduled`` then go to ``queued``):

* SMS/MMS: queued -> sending -> sent -> delivered
* WhatsApp (``whatsapp:`` To): queued -> sent -> delivered
* designated To numbers (also as ``whatsapp:+...``):
  ``+15005550010`` -> ... sent -> undelivered (30003 Unreachable destination handset);
  ``+15005550011`` -> queued -> failed (30006 Landline or unreachable carrier);
  ``+15005550012`` on WhatsApp -> ... delivered -> read
* realism for status handling (issue 11), also as ``whatsapp:+...``:
  ``+15005550013`` -> every status callback is sent twice (a provider retry);
  ``+15005550014`` -> the callbacks are held and sent in reverse order once the last status is
  reached (``delivered`` arrives before ``sent``);
  ``+15005550015`` -> once delivered, the recipient replies STOP (an inbound webhook to
  ``inbound_webhook_url`` when one is set), and Twilio's 21610 answers every later send from
  that sender to that recipient
* an inbound message whose body is an opt-out keyword (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END,
  QUIT) records the opt-out of its sender from the number it was sent to; an opt-in keyword
  (START, YES, UNSTOP) lifts it, as Twilio's default opt-out handling does
* a message whose wait in its sender's queue exceeds its ``ValidityPeriod`` -> queued -> failed
  (30001 Queue overflow)

A message sent through a Messaging Service without ``From`` gets ``+15005550006`` (or
``whatsapp:+15005550006``) from the "sender pool" when it is queued.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from xml.etree import ElementTree

from ._callbacks import CallbackDispatcher
from ._errors import catalogue_message
from ._models import CallbackRecord, InboundDelivery, SandboxMessage
from ._store import (
    API_VERSION,
    MediaRecord,
    MessageRecord,
    MessageStore,
    SenderQueues,
    body_metrics,
    channel_of,
    guess_content_type,
    new_sid,
)

__all__ = ["Engine"]

_log = logging.getLogger("ratatosk_twilio.sandbox")

UNDELIVERED_TO = "+15005550010"
FAILED_TO = "+15005550011"
READ_TO = "+15005550012"
DUPLICATE_CALLBACKS_TO = "+15005550013"
OUT_OF_ORDER_TO = "+15005550014"
STOP_REPLY_TO = "+15005550015"
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})
POOL_NUMBER = "+15005550006"

PROGRESSIONS = ("immediate", "realtime", "manual")
_PRICE = {"sms": 0.0079, "mms": 0.02, "whatsapp": 0.005}


def _number(address: str) -> str:
    """A phone address without its channel prefix (``whatsapp:+1...`` -> ``+1...``)."""
    return address.split(":", 1)[1] if address.startswith("whatsapp:") else address


def plan_path(record: MessageRecord, *, expired: bool = False) -> list[tuple[str, int | None]]:
    """The statuses a message goes through after its first one."""
    steps: list[tuple[str, int | None]] = []
    if record.status != "queued":
        steps.append(("queued", None))
    number = record.to[9:] if record.to.startswith("whatsapp:") else record.to
    if expired:
        steps.append(("failed", 30001))
        return steps
    if number == FAILED_TO:
        steps.append(("failed", 30006))
        return steps
    whatsapp = record.channel == "whatsapp"
    if not whatsapp:
        steps.append(("sending", None))
    steps.append(("sent", None))
    if number == UNDELIVERED_TO:
        steps.append(("undelivered", 30003))
        return steps
    steps.append(("delivered", None))
    if whatsapp and number == READ_TO:
        steps.append(("read", None))
    return steps


def _callback_params(record: MessageRecord, now: float) -> list[tuple[str, str]]:
    status = record.status
    params = [
        ("SmsSid", record.sid),
        ("SmsStatus", status),
        ("MessageStatus", status),
        ("To", record.to),
    ]
    if record.messaging_service_sid is not None:
        params.append(("MessagingServiceSid", record.messaging_service_sid))
    params += [
        ("MessageSid", record.sid),
        ("AccountSid", record.account_sid),
        ("From", record.from_ or ""),
        ("ApiVersion", API_VERSION),
    ]
    if record.error_code is not None and status in ("failed", "undelivered"):
        params.append(("ErrorCode", str(record.error_code)))
    if status in ("delivered", "undelivered"):
        params.append(("RawDlrDoneDate", time.strftime("%y%m%d%H%M", time.gmtime(now))))
    if record.channel == "whatsapp":
        params += [
            ("ChannelPrefix", "whatsapp"),
            ("ChannelInstallSid", "XE" + record.account_sid[2:]),
            ("ChannelToAddress", record.to[9:] if record.to.startswith("whatsapp:") else record.to),
        ]
        if status in ("sent", "delivered", "read", "failed", "undelivered"):
            params.append(("EventType", status.upper()))
    return params


class Engine:
    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        progression: str,
        step_delay: float,
        messages_per_second: float | None,
        inbound_webhook_url: str | None,
        callback_timeout: float,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.mode = progression
        self.step_delay = step_delay
        self.inbound_webhook_url = inbound_webhook_url
        self.store = MessageStore()
        self.queues = SenderQueues(messages_per_second)
        self.inflight: dict[str, MessageRecord] = {}
        self.callbacks: list[CallbackRecord] = []
        self.callbacks_changed = threading.Condition()
        self.dispatcher = CallbackDispatcher(timeout=callback_timeout, on_record=self._record)
        self.api_keys: dict[str, str] = {}
        # (recipient, sender) pairs that replied STOP: Twilio answers 21610 to their sends
        self.opted_out: set[tuple[str, str]] = set()
        # errors the next creates answer, in order: (HTTP status, Twilio code, Retry-After)
        self.forced_errors: list[tuple[int, int, float | None]] = []
        # Told about every stored message and status change (the CLI's --verbose log).
        self.observer: Callable[[MessageRecord], None] | None = None

    # callbacks --------------------------------------------------------------------------------

    def _record(self, record: CallbackRecord) -> None:
        with self.callbacks_changed:
            self.callbacks.append(record)
            self.callbacks_changed.notify_all()

    # outbound ---------------------------------------------------------------------------------

    def add_outbound(
        self,
        record: MessageRecord,
        *,
        dispatch_at: float,
        expired: bool = False,
    ) -> None:
        """Store a newly created message and start its progression."""
        self.store.add(record)
        if self.observer is not None:
            self.observer(record)
        loop = asyncio.get_running_loop()
        if record.status == "scheduled":
            assert record.send_at is not None
            delay = max(0.0, record.send_at - time.time())
            record.timer = loop.call_later(delay, self._release, record)
            return
        record.path = plan_path(record, expired=expired)
        record.step = 0
        self._schedule(record, dispatch_at)

    def _release(self, record: MessageRecord) -> None:
        record.timer = None
        record.path = plan_path(record)
        record.step = 0
        self._schedule(record, time.time())

    def _schedule(self, record: MessageRecord, first_at: float) -> None:
        if not record.path:
            return
        self.inflight[record.sid] = record
        mode = self.mode
        if mode == "manual":
            return
        loop = asyncio.get_running_loop()
        delay = first_at - time.time()
        if mode == "immediate":
            if delay <= 0:
                self._run_all(record)
            else:
                record.timer = loop.call_later(delay, self._run_all, record)
        else:
            record.timer = loop.call_later(max(self.step_delay, delay), self._tick, record)

    def _run_all(self, record: MessageRecord) -> None:
        record.timer = None
        while self._step(record):
            pass

    def _tick(self, record: MessageRecord) -> None:
        record.timer = None
        if self._step(record):
            record.timer = asyncio.get_running_loop().call_later(
                self.step_delay, self._tick, record
            )

    def _step(self, record: MessageRecord) -> bool:
        """Apply the next status of ``record``; True while more are ahead."""
        if record.step < len(record.path):
            status, code = record.path[record.step]
            record.step += 1
            self.transition(record, status, code)
        if record.step < len(record.path):
            return True
        self.inflight.pop(record.sid, None)
        self._flush_held(record)
        return False

    def _flush_held(self, record: MessageRecord) -> None:
        """Send the callbacks an out-of-order message held, the last status first."""
        held, record.held_callbacks = record.held_callbacks, []
        if held:
            for url, params, status in reversed(held):
                self.dispatcher.enqueue(url, params, auth_token=self.auth_token,
                                        message_sid=record.sid, message_status=status)

    def transition(self, record: MessageRecord, status: str, error_code: int | None = None) -> None:
        now = time.time()
        record.status = status
        record.date_updated = now
        record.history.append(status)
        if status == "queued" and record.from_ is None:
            record.from_ = (
                "whatsapp:" + POOL_NUMBER if record.channel == "whatsapp" else POOL_NUMBER
            )
        if status == "sending" or (status == "sent" and record.date_sent is None):
            record.date_sent = now
        if status == "sent":
            # per segment; an MMS or WhatsApp message counts as one
            record.price = f"-{_PRICE[record.channel] * record.num_segments:.5f}"
            record.price_unit = "USD"
        if error_code is not None:
            record.error_code = error_code
            record.error_message = catalogue_message(error_code)
        if self.observer is not None:
            self.observer(record)
        number = _number(record.to)
        if record.status_callback is not None:
            params = _callback_params(record, now)
            if number == OUT_OF_ORDER_TO:
                record.held_callbacks.append((record.status_callback, params, status))
            else:
                for _ in range(2 if number == DUPLICATE_CALLBACKS_TO else 1):
                    self.dispatcher.enqueue(
                        record.status_callback,
                        params,
                        auth_token=self.auth_token,
                        message_sid=record.sid,
                        message_status=status,
                    )
        if status == "delivered" and number == STOP_REPLY_TO and record.from_:
            self._reply_stop(record)

    def _reply_stop(self, record: MessageRecord) -> None:
        """The recipient of ``record`` answers STOP: recorded, and POSTed to the inbound URL."""
        assert record.from_ is not None
        self.opted_out.add((_number(record.to), _number(record.from_)))
        url = self.inbound_webhook_url
        if url:
            inbound, params = self.inbound_params(
                from_=record.to, to=record.from_, body="STOP", media=(),
                messaging_service_sid=record.messaging_service_sid, extra={"OptOutType": "STOP"})
            asyncio.get_running_loop().create_task(self.deliver_inbound(inbound, params, url))

    def note_keywords(self, from_: str, to: str, body: str) -> None:
        """Twilio's default opt-out handling: STOP from ``from_`` to ``to`` records the opt-out,
        START lifts it."""
        word = body.strip().upper()
        pair = (_number(from_), _number(to))
        if word in OPT_OUT_WORDS:
            self.opted_out.add(pair)
        elif word in OPT_IN_WORDS:
            self.opted_out.discard(pair)

    def is_opted_out(self, to: str, from_: str | None) -> bool:
        """Whether ``to`` replied STOP to ``from_`` (a send then gets 21610)."""
        return from_ is not None and (_number(to), _number(from_)) in self.opted_out

    def take_forced_error(self) -> tuple[int, int, float | None] | None:
        """The next error a create must answer (see ``TwilioSandbox.fail_next``), if any."""
        return self.forced_errors.pop(0) if self.forced_errors else None

    def advance(self, sid: str | None = None) -> int:
        """Move every in-flight message (or only ``sid``) one status on; how many moved."""
        if sid is None:
            targets = list(self.inflight.values())
        else:
            one = self.inflight.get(sid)
            targets = [one] if one is not None else []
        loop = asyncio.get_running_loop()
        for record in targets:
            if record.timer is not None:
                record.timer.cancel()
                record.timer = None
            if self._step(record) and self.mode != "manual":
                if self.mode == "realtime":
                    record.timer = loop.call_later(self.step_delay, self._tick, record)
                else:
                    record.timer = loop.call_soon(self._run_all, record)
        return len(targets)

    def advance_to(self, sid: str, status: str) -> MessageRecord:
        """Move in-flight message ``sid`` on until it reaches ``status``.

        Raises ``LookupError`` for an unknown message and ``ValueError`` (naming the statuses
        still ahead) when ``status`` is not on its way.
        """
        record = self.store.get(sid)
        if record is None:
            raise LookupError(sid)
        if record.status == status:
            return record
        ahead = [step for step, _ in record.path[record.step:]] if sid in self.inflight else []
        if status not in ahead:
            raise ValueError(
                f"message {sid} is {record.status}; "
                + (f"statuses ahead: {', '.join(ahead)}" if ahead else "no status is ahead")
            )
        while record.status != status and self.advance(sid):
            pass
        return record

    def stop_progress(self, record: MessageRecord) -> None:
        if record.timer is not None:
            record.timer.cancel()
            record.timer = None
        record.path = []
        record.step = 0
        self.inflight.pop(record.sid, None)

    def cancel(self, record: MessageRecord) -> None:
        self.stop_progress(record)
        self.transition(record, "canceled")

    def delete(self, sid: str) -> bool:
        record = self.store.delete(sid)
        if record is None:
            return False
        self.stop_progress(record)
        return True

    def reset(self) -> None:
        for record in self.store:
            if record.timer is not None:
                record.timer.cancel()
                record.timer = None
        self.store.clear()
        self.inflight.clear()
        self.queues.clear()
        self.opted_out.clear()
        self.forced_errors.clear()
        self.dispatcher.cancel_all()
        with self.callbacks_changed:
            self.callbacks.clear()
            self.callbacks_changed.notify_all()

    # inbound ----------------------------------------------------------------------------------

    def inbound_params(
        self,
        *,
        from_: str,
        to: str,
        body: str,
        media: Sequence[tuple[str, str]],
        messaging_service_sid: str | None,
        extra: dict[str, str],
    ) -> tuple[MessageRecord, list[tuple[str, str]]]:
        """The stored record and the webhook's form parameters of an inbound message."""
        now = time.time()
        sid = new_sid("MM" if media else "SM")
        channel = channel_of(to, bool(media))
        segments, encoding = body_metrics(body, channel)
        record = MessageRecord(
            sid=sid,
            account_sid=self.account_sid,
            direction="inbound",
            from_=from_,
            to=to,
            body=body,
            status="received",
            channel=channel,
            messaging_service_sid=messaging_service_sid,
            num_segments=segments,
            encoding=encoding,
            media=[MediaRecord(url, ctype, now) for url, ctype in media],
            now=now,
        )
        record.date_sent = now
        params = [
            ("ToCountry", "US"),
            ("SmsMessageSid", sid),
            ("NumMedia", str(len(media))),
            ("SmsSid", sid),
            ("SmsStatus", "received"),
            ("Body", body),
            ("To", to),
            ("NumSegments", str(segments)),
            ("MessageSid", sid),
            ("AccountSid", self.account_sid),
            ("From", from_),
            ("ApiVersion", API_VERSION),
        ]
        if messaging_service_sid is not None:
            params.append(("MessagingServiceSid", messaging_service_sid))
        for i, (url, ctype) in enumerate(media):
            params.append((f"MediaContentType{i}", ctype))
            params.append((f"MediaUrl{i}", url))
        params += list(extra.items())
        return record, params

    async def deliver_inbound(
        self, record: MessageRecord, params: list[tuple[str, str]], url: str
    ) -> InboundDelivery:
        self.note_keywords(record.from_ or "", record.to, record.body)
        self.store.add(record)
        if self.observer is not None:
            self.observer(record)
        result = await self.dispatcher.post(url, params, self.auth_token)
        replies: tuple[SandboxMessage, ...] = ()
        if result.error is None and result.body and "xml" in (result.content_type or "xml"):
            replies = tuple(r.snapshot() for r in self._twiml_replies(record, result.body))
        return InboundDelivery(
            url=url,
            params=params,
            signature=result.signature,
            status_code=result.status_code,
            body=result.body,
            error=result.error,
            message_sid=record.sid,
            content_type=result.content_type,
            replies=replies,
        )

    def _twiml_replies(self, inbound: MessageRecord, twiml: str) -> list[MessageRecord]:
        """Outbound-reply messages for the ``<Message>`` verbs of a TwiML answer."""
        try:
            root = ElementTree.fromstring(twiml)
        except ElementTree.ParseError:
            return []
        if root.tag != "Response":
            return []
        replies: list[MessageRecord] = []
        for verb in root.iter("Message"):
            body_element = verb.find("Body")
            if body_element is not None:
                text = body_element.text or ""
            else:  # text directly inside <Message>, around any <Media>
                text = (verb.text or "").strip()
            media = [m.text.strip() for m in verb.findall("Media") if m.text]
            to = verb.get("to") or inbound.from_ or ""
            channel = channel_of(to, bool(media))
            segments, encoding = body_metrics(text, channel)
            now = time.time()
            record = MessageRecord(
                sid=new_sid("MM" if media else "SM"),
                account_sid=self.account_sid,
                direction="outbound-reply",
                from_=verb.get("from") or inbound.to,
                to=to,
                body=text,
                status="queued",
                channel=channel,
                num_segments=segments,
                encoding=encoding,
                media=[MediaRecord(u, guess_content_type(u), now) for u in media],
                now=now,
                status_callback=verb.get("statusCallback") or verb.get("action"),
            )
            self.add_outbound(record, dispatch_at=now)
            replies.append(record)
        return replies
