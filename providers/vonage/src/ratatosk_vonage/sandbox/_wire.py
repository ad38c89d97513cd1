"""What the sandbox puts on the wire: answers, signed webhooks, parts of long SMS.

Pure functions (no state, no I/O), so the tests and the engine share them.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from ratatosk_vonage._encoding import GSM7_EXTENDED, is_gsm7
from ratatosk_vonage.signature import compute_sms_signature, payload_hash, sign_jwt

from ._numbers import ERROR_URL, SandboxError

__all__ = [
    "iso_timestamp",
    "problem",
    "signed_messages_webhook",
    "signed_sms_params",
    "sms_parts",
    "split_sms",
]

USER_AGENT = "ratatosk-vonage-sandbox/1.0"


def iso_timestamp(now: float) -> str:
    """``2026-01-01T12:00:00.000Z`` (the Messages API's webhook timestamps)."""
    moment = datetime.fromtimestamp(now, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def sms_timestamp(now: float) -> str:
    """``2026-01-01 12:00:00`` (the SMS API's ``message-timestamp``)."""
    return datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def problem(error: SandboxError, *, detail: str | None = None,
            invalid_parameters: list[dict[str, str]] | None = None) -> bytes:
    """An RFC 7807 problem body for ``error``."""
    body: dict[str, Any] = {
        "type": ERROR_URL.format(code=error.code),
        "title": error.title,
        "detail": detail or error.detail,
        "instance": str(uuid.uuid4()),
    }
    if invalid_parameters:
        body["invalid_parameters"] = invalid_parameters
    return json.dumps(body).encode()


def _cost(char: str, unicode: bool) -> int:
    if unicode:
        return 2 if ord(char) > 0xFFFF else 1
    return 2 if char in GSM7_EXTENDED else 1


def sms_parts(text: str, message_type: str | None = None) -> int:
    """How many parts an SMS of ``text`` takes: GSM-7 160 septets (153 per part when split,
    extension characters count 2), else UCS-2 70 code units (67 per part)."""
    unicode = message_type == "unicode" or (message_type is None and not is_gsm7(text))
    units = sum(_cost(c, unicode) for c in text)
    single, multi = (70, 67) if unicode else (160, 153)
    return 1 if units <= single else math.ceil(units / multi)


def split_sms(text: str) -> list[str]:
    """``text`` cut into the parts an SMS of it arrives in (never inside a character)."""
    unicode = not is_gsm7(text)
    single, multi = (70, 67) if unicode else (160, 153)
    if sum(_cost(c, unicode) for c in text) <= single:
        return [text]
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for char in text:
        cost = _cost(char, unicode)
        if used + cost > multi:
            parts.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += cost
    if current:
        parts.append("".join(current))
    return parts


def signed_messages_webhook(body: Mapping[str, Any], *, secret: str, api_key: str,
                            application_id: str | None, now: float | None = None
                            ) -> tuple[bytes, dict[str, str]]:
    """The raw JSON body and the headers of a Messages API webhook, signed as Vonage signs:
    ``Authorization: Bearer <JWT>`` (HS256, the signature secret) with ``iat``, ``jti``,
    ``iss``, ``payload_hash`` (SHA-256 of these exact bytes) and ``api_key``."""
    raw = json.dumps(dict(body), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    claims: dict[str, Any] = {
        "iat": int(time.time() if now is None else now),
        "jti": str(uuid.uuid4()),
        "iss": "Vonage",
        "payload_hash": payload_hash(raw),
        "api_key": api_key,
    }
    if application_id:
        claims["application_id"] = application_id
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {sign_jwt(secret, claims)}",
        "User-Agent": USER_AGENT,
    }
    return raw, headers


def signed_sms_params(params: Mapping[str, str], *, secret: str, method: str,
                      now: float | None = None, nonce: bool = False) -> dict[str, str]:
    """SMS API webhook parameters with ``timestamp`` (and ``nonce``) and their ``sig``."""
    signed = dict(params)
    signed["timestamp"] = str(int(time.time() if now is None else now))
    if nonce:
        signed["nonce"] = str(uuid.uuid4())
    signed["sig"] = compute_sms_signature(signed, secret, method)
    return signed


def sms_request(params: Mapping[str, str], method: str, url: str
                ) -> tuple[str, bytes, dict[str, str]]:
    """(url, body, headers) of an SMS API webhook sent with ``method`` (``GET``, ``POST`` form
    or ``POST-JSON``)."""
    headers = {"User-Agent": USER_AGENT}
    if method == "GET":
        separator = "&" if "?" in url else "?"
        return url + separator + urlencode(params), b"", headers
    if method == "POST-JSON":
        headers["Content-Type"] = "application/json"
        return url, json.dumps(dict(params)).encode(), headers
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return url, urlencode(params).encode(), headers
