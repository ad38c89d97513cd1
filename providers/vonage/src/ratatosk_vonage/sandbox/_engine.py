"""The sandbox's state and message life cycle: sends, status progression, webhooks, inbound.

Every method that touches the state takes the engine's lock; webhooks are POSTed by one worker
thread (so the webhooks of a message leave in order, unless a message asks for disorder) and by
``send_inbound``'s caller.
"""

from __future__ import annotations

import base64
import binascii
import functools
import heapq
import hmac
import itertools
import json
import logging
import math
import os
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import httpx

from ratatosk_vonage._encoding import is_gsm7
from ratatosk_vonage.signature import compute_sms_signature

from ._models import SandboxMessage, WebhookDelivery
from ._numbers import (
    DUPLICATE_TO,
    ERROR_URL,
    ERRORS,
    MAGIC_ERRORS,
    OUT_OF_ORDER_TO,
    PROGRESSIONS_BY_TO,
    READ_TO,
    STOP_TO,
    SandboxError,
)
from ._wire import (
    iso_timestamp,
    signed_messages_webhook,
    signed_sms_params,
    sms_parts,
    sms_request,
    sms_timestamp,
    split_sms,
)

__all__ = ["PROGRESSION_MODES", "Engine", "Refusal"]

_log = logging.getLogger("ratatosk_vonage.sandbox")

PROGRESSION_MODES = ("immediate", "realtime", "manual")
SMS_WEBHOOK_METHODS = ("POST", "GET", "POST-JSON")

_DIGITS = re.compile(r"[0-9]{7,15}")
_ALPHA_SENDER = re.compile(r"[A-Za-z0-9 ]{1,11}")
_CHANNEL_TYPES = {
    "sms": {"text", "custom"},
    "mms": {"text", "image", "audio", "video", "file", "vcard"},
    "whatsapp": {"text", "image", "audio", "video", "file", "template", "sticker", "location",
                 "custom"},
    "rcs": {"text", "image", "video", "file", "custom"},
    "messenger": {"text", "image", "audio", "video", "file"},
    "viber_service": {"text", "image", "video", "file"},
}
_MEDIA_TYPES = ("image", "audio", "video", "file", "vcard", "sticker")
_SMS_PRICE = "0.03330000"
_MMS_PRICE = "0.04000000"
_WHATSAPP_PRICE = "0.00800000"
_START_BALANCE = "10.00000000"
_NETWORK = "23410"
# SMS API delivery receipts for Messages API statuses: (status, err-code)
_DLR = {
    "submitted": ("accepted", "0"),
    "delivered": ("delivered", "0"),
    "undeliverable": ("failed", "12"),
    "rejected": ("rejected", "14"),
}
# status webhook errors (Messages API)
_STATUS_ERRORS = {
    "undeliverable": ("1320", "Message failed because the destination is unreachable"),
    "rejected": ("1340", "The message was rejected by the carrier"),
}


class Refusal(Exception):
    """A send refused: the API layer answers it in its API's shape."""

    def __init__(self, error: SandboxError, detail: str | None = None,
                 invalid: list[dict[str, str]] | None = None,
                 retry_after: int | None = None) -> None:
        super().__init__(detail or error.detail)
        self.error = error
        self.detail = detail
        self.invalid = invalid or []
        self.retry_after = retry_after


def _invalid(name: str, reason: str) -> Refusal:
    return Refusal(ERRORS["invalid_number"] if name == "to" else _INVALID_PARAMS,
                   f"The request failed due to validation errors: {name} {reason}",
                   [{"name": name, "reason": reason}])


_INVALID_PARAMS = SandboxError("invalid_params", 422, "1150", "Invalid params",
                               "The value of one or more parameters is invalid.", "3",
                               "Invalid parameters")
_MISSING_PARAMS = SandboxError("missing_params", 422, "1150", "Invalid params",
                               "A required parameter is missing.", "2", "Missing parameters")


def _http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class _Record:
    """The sandbox's mutable state of one message."""

    def __init__(self, *, id: str, api: str, direction: str, channel: str, message_type: str,
                 from_: str, to: str, text: str | None, client_ref: str | None,
                 webhook_url: str | None, part_ids: list[str], price: str | None,
                 request: dict[str, Any], status: str, now: float) -> None:
        self.id = id
        self.api = api
        self.direction = direction
        self.channel = channel
        self.message_type = message_type
        self.from_ = from_
        self.to = to
        self.text = text
        self.client_ref = client_ref
        self.webhook_url = webhook_url
        self.part_ids = part_ids
        self.price = price
        self.request = request
        self.status = status
        self.history = [status] if status else []
        self.created = now
        self.steps: deque[str] = deque()
        self.duplicate = False
        self.out_of_order = False
        self.stop_reply = False
        self.held: list[Callable[[], object]] = []

    def snapshot(self) -> SandboxMessage:
        return SandboxMessage(
            id=self.id, api=self.api, direction=self.direction, channel=self.channel,
            message_type=self.message_type, from_=self.from_, to=self.to, text=self.text,
            client_ref=self.client_ref, webhook_url=self.webhook_url, status=self.status,
            status_history=tuple(self.history), part_ids=tuple(self.part_ids),
            price=self.price, created=datetime.fromtimestamp(self.created, timezone.utc),
            request=self.request)


class _Worker:
    """One thread running jobs at their due time, in due-time order (ties: submission order)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], object]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="vonage-sandbox-webhooks",
                                        daemon=True)
        self._thread.start()

    def call_at(self, due: float, job: Callable[[], object]) -> None:
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._seq), job))
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._heap.clear()

    @property
    def idle(self) -> bool:
        with self._cond:
            return not self._heap and not self._busy

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify_all()
        self._thread.join(10)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    if self._heap:
                        wait = self._heap[0][0] - time.monotonic()
                        if wait <= 0:
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
                if self._stopped:
                    return
                _, _, job = heapq.heappop(self._heap)
                self._busy = True
            try:
                job()
            except Exception:  # a job's failure must not stop the webhooks of others
                _log.exception("vonage sandbox webhook job failed")
            finally:
                with self._cond:
                    self._busy = False


class Engine:
    def __init__(self, *, api_key: str, api_secret: str, signature_secret: str,
                 signature_method: str, progression: str, step_delay: float,
                 status_webhook_url: str | None, inbound_webhook_url: str | None,
                 sms_webhook_method: str, messages_per_second: float | None,
                 duplicate_status_webhooks: bool, out_of_order_status_webhooks: bool,
                 callback_timeout: float) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.signature_secret = signature_secret
        self.signature_method = signature_method
        self.progression = progression
        self.step_delay = step_delay
        self.status_webhook_url = status_webhook_url
        self.inbound_webhook_url = inbound_webhook_url
        self.sms_webhook_method = sms_webhook_method
        self.messages_per_second = messages_per_second
        self.duplicate_status_webhooks = duplicate_status_webhooks
        self.out_of_order_status_webhooks = out_of_order_status_webhooks
        self.callback_timeout = callback_timeout
        self.applications: dict[str, Any] = {}  # application id -> public key
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.records: dict[str, _Record] = {}
        self.part_index: dict[str, str] = {}
        self.callbacks: list[WebhookDelivery] = []
        self.inbound: list[WebhookDelivery] = []
        self.failures: deque[tuple[str, str | None]] = deque()
        self.sent_times: deque[float] = deque()
        self.balance = float(_START_BALANCE)
        self.observer: Callable[[SandboxMessage], None] | None = None
        self._worker: _Worker | None = None
        self._client: httpx.Client | None = None

    # life cycle -------------------------------------------------------------------------------

    def start(self) -> None:
        self._worker = _Worker()
        self._client = httpx.Client(timeout=self.callback_timeout, trust_env=False,
                                    follow_redirects=False)

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def idle(self) -> bool:
        return self._worker is None or self._worker.idle

    def reset(self) -> None:
        with self.lock:
            if self._worker is not None:
                self._worker.clear()
            self.records.clear()
            self.part_index.clear()
            self.callbacks.clear()
            self.inbound.clear()
            self.failures.clear()
            self.sent_times.clear()
            self.balance = float(_START_BALANCE)
            self.changed.notify_all()

    # authentication ---------------------------------------------------------------------------

    def check_basic(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        key, sep, secret = decoded.partition(":")
        return bool(sep) and self.check_key_secret(key, secret)

    def check_key_secret(self, key: str, secret: str) -> bool:
        key_ok = hmac.compare_digest(key.encode(), self.api_key.encode())
        secret_ok = hmac.compare_digest(secret.encode(), self.api_secret.encode())
        return key_ok and secret_ok

    def check_sms_sig(self, params: Mapping[str, str]) -> bool:
        """A signed SMS API request: ``sig`` over the parameters with the signature secret."""
        sig = params.get("sig", "")
        expected = compute_sms_signature(params, self.signature_secret, self.signature_method)
        return hmac.compare_digest(sig.strip().lower().encode(), expected.encode())

    def check_bearer(self, header: str) -> str | None:
        """None when ``header`` is a Bearer JWT (RS256) of a registered application, signed
        with its private key, not expired; else why not."""
        if not header.startswith("Bearer "):
            return "no credentials"
        token = header[7:].strip()
        parts = token.split(".")
        if len(parts) != 3:
            return "the token is not a JWT"
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
            header_data = json.loads(
                base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
            signature = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
        except (ValueError, binascii.Error):
            return "the token is not a JWT"
        if not isinstance(claims, dict) or not isinstance(header_data, dict):
            return "the token is not a JWT"
        if header_data.get("alg") != "RS256":
            return "the token is not signed RS256"
        with self.lock:
            key = self.applications.get(str(claims.get("application_id")))
        if key is None:
            return "the token's application_id is not an application of this sandbox"
        try:
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import padding
        except ImportError:  # pragma: no cover - cryptography comes with add_application
            return "the sandbox needs the 'cryptography' package to check JWTs"
        try:
            key.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"),
                       padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return "the token's signature does not match the application's key"
        now = time.time()
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and exp < now - 60:
            return "the token has expired"
        iat = claims.get("iat")
        if isinstance(iat, (int, float)) and iat > now + 60:
            return "the token was issued in the future"
        return None

    # on-demand errors and throughput ----------------------------------------------------------

    def take_failure(self, api: str) -> SandboxError | None:
        with self.lock:
            for i, (kind, only) in enumerate(self.failures):
                if only is None or only == api:
                    del self.failures[i]
                    return ERRORS[kind]
        return None

    def throttle(self) -> int | None:
        """None when a send may go now, else the seconds to wait (Retry-After)."""
        rate = self.messages_per_second
        if rate is None:
            return None
        now = time.monotonic()
        with self.lock:
            times = self.sent_times
            while times and now - times[0] >= 1.0:
                times.popleft()
            if len(times) >= rate:
                return max(1, math.ceil(1.0 - (now - times[0])))
            times.append(now)
        return None

    # Messages API -----------------------------------------------------------------------------

    def messages_send(self, body: Any) -> str:
        """Accept a ``POST /v1/messages`` body (its message_uuid), or raise Refusal."""
        if not isinstance(body, dict):
            raise _invalid("body", "must be a JSON object")
        channel = body.get("channel")
        if channel not in _CHANNEL_TYPES:
            raise _invalid("channel", "must be one of " + ", ".join(_CHANNEL_TYPES))
        message_type = body.get("message_type")
        if message_type not in _CHANNEL_TYPES[channel]:
            raise _invalid("message_type", f"{message_type!r} is not a {channel} message type")
        to = body.get("to")
        if not isinstance(to, str) or not _DIGITS.fullmatch(to):
            raise _invalid("to", "must be a phone number of 7 to 15 digits without '+'")
        sender = body.get("from")
        if not isinstance(sender, str) or not (
                _DIGITS.fullmatch(sender) or (channel == "sms"
                                              and _ALPHA_SENDER.fullmatch(sender))):
            raise _invalid("from", "must be a phone number (digits) or, for SMS, an "
                                   "alphanumeric sender id of up to 11 characters")
        text: str | None = None
        if message_type == "text":
            text = body.get("text")
            limit = 3200 if channel == "sms" else 4096
            if not isinstance(text, str) or not text or len(text) > limit:
                raise _invalid("text", f"must be a string of 1 to {limit} characters")
        elif message_type in _MEDIA_TYPES:
            media = body.get(message_type)
            if not isinstance(media, dict) or not _http_url(media.get("url")):
                raise _invalid(message_type, "must be an object with an http(s) url")
            caption = media.get("caption")
            if caption is not None and not isinstance(caption, str):
                raise _invalid(f"{message_type}.caption", "must be a string")
            text = caption
        elif message_type == "template":
            template = body.get("template")
            if not isinstance(template, dict) or not isinstance(template.get("name"), str):
                raise _invalid("template", "must be an object with a name")
            parameters = template.get("parameters", [])
            if not isinstance(parameters, list):
                raise _invalid("template.parameters", "must be a list")
        client_ref = body.get("client_ref")
        if client_ref is not None and (not isinstance(client_ref, str) or len(client_ref) > 100):
            raise _invalid("client_ref", "must be a string of up to 100 characters")
        webhook_url = body.get("webhook_url")
        if webhook_url is not None and not _http_url(webhook_url):
            raise _invalid("webhook_url", "must be an absolute http(s) URL")
        version = body.get("webhook_version")
        if version is not None and version not in ("v0.1", "v1"):
            raise _invalid("webhook_version", "must be v0.1 or v1")
        ttl = body.get("ttl")
        if ttl is not None:
            low, high = (300, 259200) if channel == "mms" else (20, 604800)
            if isinstance(ttl, bool) or not isinstance(ttl, int) or not low <= ttl <= high:
                raise _invalid("ttl", f"must be an integer from {low} to {high}")
        self._magic(to)
        parts = sms_parts(text or "") if channel == "sms" else 1
        price_each = {"sms": _SMS_PRICE, "mms": _MMS_PRICE}.get(channel, _WHATSAPP_PRICE)
        now = time.time()
        record = _Record(
            id=str(uuid.uuid4()), api="messages", direction="outbound", channel=channel,
            message_type=message_type, from_=sender, to=to, text=text,
            client_ref=client_ref, webhook_url=webhook_url or self.status_webhook_url,
            part_ids=[], price=f"{float(price_each) * parts:.8f}", request=dict(body),
            status="", now=now)
        self._start(record, self._path(to, channel))
        return record.id

    def _magic(self, to: str) -> None:
        kind = MAGIC_ERRORS.get(to)
        if kind is not None:
            raise Refusal(ERRORS[kind], retry_after=1 if kind == "throttled" else None)

    def _path(self, to: str, channel: str) -> list[str]:
        path = list(PROGRESSIONS_BY_TO.get(to, ("submitted", "delivered")))
        if to == READ_TO and channel != "whatsapp":
            path.remove("read")
        return path

    # SMS API ----------------------------------------------------------------------------------

    def sms_send(self, params: Mapping[str, str]) -> list[dict[str, str]]:
        """The ``messages`` entries of a ``POST /sms/json`` answer (credentials checked by the
        caller); an entry with a non-zero status when it is refused."""
        missing = [name for name in ("from", "to", "text") if not params.get(name)]
        if missing:
            raise Refusal(_MISSING_PARAMS, f"Missing {missing[0]} param")
        to, sender, text = params["to"].removeprefix("+"), params["from"], params["text"]
        if not _DIGITS.fullmatch(to):
            raise Refusal(ERRORS["invalid_number"], "Invalid to number")
        if not (_DIGITS.fullmatch(sender.removeprefix("+")) or _ALPHA_SENDER.fullmatch(sender)):
            raise Refusal(_INVALID_PARAMS, "Illegal Sender Address - rejected")
        kind = params.get("type", "text")
        if kind not in ("text", "unicode"):
            raise Refusal(_INVALID_PARAMS, "Invalid message type (text or unicode)")
        client_ref = params.get("client-ref")
        if client_ref is not None and len(client_ref) > 40:
            raise Refusal(_INVALID_PARAMS, "client-ref is longer than 40 characters")
        callback = params.get("callback")
        if callback is not None and not _http_url(callback):
            raise Refusal(_INVALID_PARAMS, "Invalid callback URL")
        ttl = params.get("ttl")
        if ttl is not None and (not ttl.isdigit() or not 20000 <= int(ttl) <= 604800000):
            raise Refusal(_INVALID_PARAMS, "Invalid ttl (20000 to 604800000 ms)")
        report = params.get("status-report-req")
        if report is not None and report.lower() not in ("true", "false", "1", "0"):
            raise Refusal(_INVALID_PARAMS, "Invalid status-report-req")
        if len(text) > 3200:
            raise Refusal(_INVALID_PARAMS, "Message too long")
        self._magic(to)
        unicode_text = kind == "text" and not is_gsm7(text)
        count = sms_parts(text, kind if not unicode_text else "unicode")
        ids = [uuid.uuid4().hex[:16].upper() for _ in range(count)]
        wants_receipts = report is None or report.lower() in ("true", "1")
        now = time.time()
        request = {k: v for k, v in params.items() if k not in ("api_secret", "sig")}
        record = _Record(
            id=ids[0], api="sms", direction="outbound", channel="sms", message_type=kind,
            from_=sender, to=to, text=text, client_ref=client_ref,
            webhook_url=(callback or self.status_webhook_url) if wants_receipts else None,
            part_ids=ids, price=f"{float(_SMS_PRICE) * count:.8f}", request=request,
            status="", now=now)
        entries = []
        with self.lock:
            for part_id in ids:
                self.balance -= float(_SMS_PRICE)
                entry = {"to": to, "message-id": part_id, "status": "0",
                         "remaining-balance": f"{self.balance:.8f}",
                         "message-price": _SMS_PRICE, "network": _NETWORK}
                if client_ref is not None:
                    entry["client-ref"] = client_ref
                entries.append(entry)
                self.part_index[part_id] = record.id
            self._start(record, self._path(to, "sms"))
        return entries

    # progression ------------------------------------------------------------------------------

    def _start(self, record: _Record, path: list[str]) -> None:
        record.steps.extend(path)
        record.duplicate = record.to == DUPLICATE_TO or self.duplicate_status_webhooks
        record.out_of_order = (record.to == OUT_OF_ORDER_TO
                               or self.out_of_order_status_webhooks) and len(path) > 1
        record.stop_reply = record.to == STOP_TO
        with self.lock:
            self.records[record.id] = record
            self._notify(record)
            if self.progression == "manual":
                return
            delay = 0.0 if self.progression == "immediate" else self.step_delay
            due = time.monotonic()
            for _ in path:
                due += delay
                self._at(due, functools.partial(self._step, record))

    def _at(self, due: float, job: Callable[[], object]) -> None:
        if self._worker is not None:
            self._worker.call_at(due, job)

    def _notify(self, record: _Record) -> None:
        if self.observer is not None:
            self.observer(record.snapshot())

    def advance(self, message_id: str | None = None) -> int:
        """Move every message in flight (or only ``message_id``) one status on."""
        with self.lock:
            if message_id is None:
                targets = [r for r in self.records.values() if r.steps]
            else:
                key = self.part_index.get(message_id, message_id)
                record = self.records.get(key)
                targets = [record] if record is not None and record.steps else []
            now = time.monotonic()
            for record in targets:
                self._at(now, functools.partial(self._step, record))
            return len(targets)

    def _step(self, record: _Record) -> None:
        """Apply the next status of ``record`` and send its webhooks (worker thread)."""
        with self.lock:
            if not record.steps or self.records.get(record.id) is not record:
                return
            status = record.steps.popleft()
            record.status = status
            record.history.append(status)
            final = not record.steps
            self._notify(record)
            self.changed.notify_all()
            jobs = self._status_jobs(record, status)
        if record.out_of_order:
            record.held.extend(jobs)
            if final:  # the whole story at once, newest first
                held, record.held = record.held, []
                for job in reversed(held):
                    job()
        else:
            for job in jobs:
                job()
        if final and record.stop_reply:
            self._stop_reply(record)

    def _status_jobs(self, record: _Record, status: str) -> list[Callable[[], object]]:
        url = record.webhook_url
        if url is None:
            return []
        repeat = 2 if record.duplicate else 1
        if record.api == "messages":
            body = self._messages_status_body(record, status)
            job = functools.partial(self._post_messages, url, body, "status", record.id, status)
            return [job] * repeat
        jobs: list[Callable[[], object]] = []
        for part_id in record.part_ids:
            params = self._receipt_params(record, part_id, status)
            jobs += [functools.partial(self._post_sms, url, params, "status", part_id, status,
                                       nonce=False)] * repeat
        return jobs

    def _messages_status_body(self, record: _Record, status: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message_uuid": record.id, "to": record.to, "from": record.from_,
            "timestamp": iso_timestamp(time.time()), "status": status,
            "channel": record.channel,
        }
        if record.client_ref is not None:
            body["client_ref"] = record.client_ref
        if status in ("submitted", "delivered") and record.price is not None:
            body["usage"] = {"currency": "EUR", "price": record.price}
        if status in _STATUS_ERRORS:
            code, detail = _STATUS_ERRORS[status]
            body["error"] = {"type": ERROR_URL.format(code=code), "title": code,
                             "detail": detail}
        if record.channel == "sms":
            body["sms"] = {"count_total": str(max(1, sms_parts(record.text or "")))}
        return body

    def _receipt_params(self, record: _Record, part_id: str, status: str) -> dict[str, str]:
        dlr_status, err_code = _DLR.get(status, ("unknown", "1"))
        now = time.time()
        params = {
            "msisdn": record.to,
            "to": record.from_,
            "network-code": _NETWORK,
            "messageId": part_id,
            "price": _SMS_PRICE,
            "status": dlr_status,
            "scts": datetime.fromtimestamp(now, timezone.utc).strftime("%y%m%d%H%M"),
            "err-code": err_code,
            "api-key": self.api_key,
            "message-timestamp": sms_timestamp(now),
        }
        if record.client_ref is not None:
            params["client-ref"] = record.client_ref
        return params

    # webhooks ---------------------------------------------------------------------------------

    def _post_messages(self, url: str, body: Mapping[str, Any], kind: str, message_id: str,
                       status: str) -> WebhookDelivery:
        raw, headers = signed_messages_webhook(
            body, secret=self.signature_secret, api_key=self.api_key, application_id=None)
        return self._post(kind, "messages", "POST", url, raw, headers, message_id, status)

    def _post_sms(self, url: str, params: Mapping[str, str], kind: str, message_id: str,
                  status: str, *, nonce: bool) -> WebhookDelivery:
        signed = signed_sms_params(params, secret=self.signature_secret,
                                   method=self.signature_method, nonce=nonce)
        method = self.sms_webhook_method
        target, raw, headers = sms_request(signed, method, url)
        return self._post(kind, "sms", "GET" if method == "GET" else "POST", target, raw,
                          headers, message_id, status)

    def _post(self, kind: str, api: str, method: str, url: str, raw: bytes,
              headers: dict[str, str], message_id: str, status: str) -> WebhookDelivery:
        client = self._client or httpx.Client(timeout=self.callback_timeout, trust_env=False)
        code: int | None = None
        error: str | None = None
        answer = b""
        try:
            response = client.request(method, url, content=raw or None, headers=headers)
            code, answer = response.status_code, response.content
            if code >= 400:
                error = f"HTTP {code}"
        except (httpx.HTTPError, OSError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        finally:
            if client is not self._client:
                client.close()
        delivery = WebhookDelivery(kind=kind, api=api, url=url, method=method, headers=headers,
                                   body=raw, message_id=message_id, status=status,
                                   status_code=code, error=error, answer=answer)
        with self.lock:
            (self.callbacks if kind == "status" else self.inbound).append(delivery)
            self.changed.notify_all()
        return delivery

    def replay(self, delivery: WebhookDelivery) -> WebhookDelivery:
        return self._post(delivery.kind, delivery.api, delivery.method, delivery.url,
                          delivery.body, dict(delivery.headers), delivery.message_id,
                          delivery.status)

    # inbound ----------------------------------------------------------------------------------

    def _stop_reply(self, record: _Record) -> None:
        url = self.inbound_webhook_url
        if url is None:
            return
        self.inbound_to(url, api=record.api, channel=record.channel, from_=record.to,
                        to=record.from_, text="STOP", context=None)

    def inbound_to(self, url: str, *, api: str, channel: str, from_: str, to: str,
                   text: str | None, message_type: str = "text",
                   media_url: str | None = None, media_name: str | None = None,
                   profile_name: str | None = None, context: str | None = None,
                   extra: Mapping[str, Any] | None = None) -> list[WebhookDelivery]:
        """POST an inbound message to ``url`` as the API sends it (SMS API: one webhook per
        part of a long text)."""
        now = time.time()
        if api == "sms":
            text = text or ""
            pieces = split_sms(text)
            kind = "text" if is_gsm7(text) else "unicode"
            ref = f"{os.urandom(1)[0]:d}"
            ids = [uuid.uuid4().hex[:16].upper() for _ in pieces]
            record = _Record(
                id=ids[0], api="sms", direction="inbound", channel="sms", message_type=kind,
                from_=from_, to=to, text=text, client_ref=None, webhook_url=url,
                part_ids=ids, price=None, request={}, status="received", now=now)
            with self.lock:
                self.records[record.id] = record
                self._notify(record)
            deliveries = []
            for number, (piece, part_id) in enumerate(zip(pieces, ids, strict=True), 1):
                params = {
                    "msisdn": from_, "to": to, "messageId": part_id, "text": piece,
                    "type": kind, "keyword": (text.split() or [""])[0].upper(),
                    "api-key": self.api_key, "message-timestamp": sms_timestamp(now),
                }
                if len(pieces) > 1:
                    params.update({"concat": "true", "concat-ref": ref,
                                   "concat-total": str(len(pieces)),
                                   "concat-part": str(number)})
                for key, value in (extra or {}).items():
                    params[key] = str(value)
                deliveries.append(self._post_sms(url, params, "inbound", part_id, "received",
                                                 nonce=True))
            return deliveries
        body: dict[str, Any] = {
            "channel": channel, "message_uuid": str(uuid.uuid4()), "to": to, "from": from_,
            "timestamp": iso_timestamp(now), "message_type": message_type,
        }
        if message_type == "text":
            body["text"] = text or ""
        elif message_type in _MEDIA_TYPES:
            resource: dict[str, Any] = {"url": media_url or ""}
            if media_name:
                resource["name"] = media_name
            if text:
                resource["caption"] = text
            body[message_type] = resource
        if channel == "whatsapp":
            body["profile"] = {"name": profile_name or "Sandbox User"}
        if context:
            body["context"] = {"message_uuid": context, "message_from": to}
        body.update(extra or {})
        record = _Record(
            id=body["message_uuid"], api="messages", direction="inbound", channel=channel,
            message_type=message_type, from_=from_, to=to, text=text, client_ref=None,
            webhook_url=url, part_ids=[], price=None, request=body, status="received", now=now)
        with self.lock:
            self.records[record.id] = record
            self._notify(record)
        return [self._post_messages(url, body, "inbound", record.id, "received")]
