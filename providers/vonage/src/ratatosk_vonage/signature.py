"""Vonage webhook signatures: signed JWTs (Messages API) and ``sig`` parameters (SMS API).

Both are checked with the standard library only (``hmac``, ``hashlib``, ``base64``, ``json``);
every comparison of a computed value with a received one is constant time
(``hmac.compare_digest``). Several secrets may be given (a rotation): any of them may match.

**Messages API** webhooks carry ``Authorization: Bearer <JWT>``, signed HS256 with the account's
signature secret. :func:`verify_jwt` checks, in this order: the token's shape and ``alg`` (only
``HS256``), the HMAC under one of the secrets, the ``payload_hash`` claim (hex SHA-256 of the raw
body received), and the ``iat`` claim (not older than ``max_age`` seconds, not more than
:data:`CLOCK_SKEW` seconds in the future; an ``exp`` claim, when present, must not have passed).
The official SDK's ``vonage_jwt.verify_jwt.verify_signature`` checks only the HMAC.

**SMS API** webhooks carry ``sig`` and ``timestamp`` among their parameters. The signature is the
hex HMAC (md5, sha1, sha256 or sha512), keyed by the signature secret, of ``&key=value`` for
every parameter except ``sig``, sorted by key, where ``&`` and ``=`` inside values are replaced by
``_``; it is compared case-insensitively. :func:`verify_sms_signature` also requires ``timestamp``
(Unix seconds) to be recent, which the SDK's ``Auth.check_signature`` does not.

Both verifiers return None when the request is authentic, else a :class:`SignatureProblem`
(a ``reason`` such as ``"mismatch"`` or ``"stale"`` and a sentence); they never raise for bad
request data.

>>> token = sign_jwt("a-signature-secret-of-32-bytes!!", {"iat": 1700000000,
...     "payload_hash": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"})
>>> verify_jwt(token, ["a-signature-secret-of-32-bytes!!"], body=b"", now=1700000010) is None
True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

from attrs import frozen

__all__ = [
    "CLOCK_SKEW",
    "DEFAULT_MAX_AGE",
    "SIGNATURE_METHODS",
    "SignatureProblem",
    "compute_sms_signature",
    "payload_hash",
    "sign_jwt",
    "verify_jwt",
    "verify_sms_signature",
]

SIGNATURE_METHODS = ("md5", "sha1", "sha256", "sha512")
"""The HMAC digests an SMS API signature may use (``SignatureMethod``)."""

DEFAULT_MAX_AGE = 300
"""Seconds a signed webhook stays acceptable after it was signed (``iat`` / ``timestamp``)."""

CLOCK_SKEW = 60
"""Seconds a signing time may lie in the future (the sender's clock may be ahead of ours)."""

_MAX_TOKEN_LENGTH = 8192


@frozen
class SignatureProblem:
    """Why a signature was refused: a short ``reason`` (``"malformed"``, ``"algorithm"``,
    ``"mismatch"``, ``"payload_hash"``, ``"stale"``, ``"future"``, ``"expired"``, ``"missing"``,
    ``"no_secret"``) and a sentence (never a secret)."""

    reason: str
    message: str


def payload_hash(body: bytes) -> str:
    """The hex SHA-256 of a raw request body, as the ``payload_hash`` claim carries it."""
    return hashlib.sha256(body).hexdigest()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    """Base64url without padding (RFC 7515); raises ValueError when it is not that."""
    if not text or not text.isascii():
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _secrets(secrets: str | Iterable[str]) -> list[bytes]:
    items = [secrets] if isinstance(secrets, str) else list(secrets)
    return [item.encode("utf-8") for item in items if isinstance(item, str) and item]


def sign_jwt(secret: str, claims: Mapping[str, Any]) -> str:
    """An HS256 JWT of ``claims`` signed with ``secret`` (what Vonage sends; for the sandbox and
    tests). Nothing is added to the claims: give ``iat``, ``jti``, ``payload_hash`` yourself."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(dict(claims), separators=(",", ":")).encode("utf-8"))
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = hmac.new(secret.encode("utf-8"), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def verify_jwt(
    token: str | None,
    secrets: str | Iterable[str],
    *,
    body: bytes,
    now: float | None = None,
    max_age: float = DEFAULT_MAX_AGE,
) -> SignatureProblem | None:
    """None when ``token`` is an HS256 JWT signed with one of ``secrets`` whose ``payload_hash``
    is the SHA-256 of ``body`` and whose ``iat`` is recent; else the problem (see the module)."""
    keys = _secrets(secrets)
    if not keys:
        return SignatureProblem("no_secret", "no signature secret is configured")
    if not token or not isinstance(token, str):
        return SignatureProblem("missing", "the request carries no signed token")
    token = token.strip()
    parts = token.split(".")
    if len(token) > _MAX_TOKEN_LENGTH or len(parts) != 3:
        return SignatureProblem("malformed", "the token is not a JWT")
    try:
        header = json.loads(_unb64url(parts[0]))
        if isinstance(header, dict) and header.get("alg") != "HS256":
            return SignatureProblem("algorithm", "the token is not signed with HS256")
        signature = _unb64url(parts[2])
        claims = json.loads(_unb64url(parts[1]))
    except (ValueError, UnicodeDecodeError):
        return SignatureProblem("malformed", "the token is not a JWT")
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return SignatureProblem("malformed", "the token is not a JWT")
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    matched = False
    for key in keys:  # no early exit: every key costs the same
        expected = hmac.new(key, signing_input, hashlib.sha256).digest()
        matched |= hmac.compare_digest(expected, signature)
    if not matched:
        return SignatureProblem("mismatch", "the token's signature does not match the secret")

    claimed = claims.get("payload_hash")
    if not isinstance(claimed, str) or not claimed.isascii():
        return SignatureProblem("payload_hash", "the token carries no payload_hash")
    if not hmac.compare_digest(claimed.strip().lower().encode("ascii"),
                               payload_hash(body).encode("ascii")):
        return SignatureProblem("payload_hash", "the body does not match the token's payload_hash")

    current = time.time() if now is None else now
    issued = _number(claims.get("iat"))
    if issued is None:
        return SignatureProblem("stale", "the token carries no iat")
    if issued > current + CLOCK_SKEW:
        return SignatureProblem("future", "the token was issued in the future")
    if current - issued > max_age:
        return SignatureProblem("stale", f"the token is older than {max_age:g} seconds")
    if "exp" in claims:
        expires = _number(claims.get("exp"))
        if expires is None or current > expires + CLOCK_SKEW:
            return SignatureProblem("expired", "the token has expired")
    return None


def _digest(method: str) -> str:
    lowered = method.strip().lower() if isinstance(method, str) else ""
    if lowered not in SIGNATURE_METHODS:
        raise ValueError(f"unknown signature method {method!r}; use one of "
                         + ", ".join(SIGNATURE_METHODS))
    return lowered


def _signed_text(params: Mapping[str, Any]) -> bytes:
    """``&key=value`` for every parameter but ``sig``, sorted by key, ``&``/``=`` in str values
    replaced by ``_`` (other values as ``f"{value}"``, as the SDK does)."""
    out = []
    for key in sorted(params):
        if key == "sig":
            continue
        value = params[key]
        if isinstance(value, str):
            value = value.replace("&", "_").replace("=", "_")
        out.append(f"&{key}={value}")
    return "".join(out).encode("utf-8")


def compute_sms_signature(params: Mapping[str, Any], secret: str, method: str = "md5") -> str:
    """The hex ``sig`` Vonage computes for these parameters (``sig`` itself is left out).

    ``method`` is ``md5``, ``sha1``, ``sha256`` or ``sha512`` (an HMAC keyed by ``secret``);
    anything else raises ValueError. Give ``timestamp`` among ``params``: it is signed too.
    """
    digest = _digest(method)
    return hmac.new(secret.encode("utf-8"), _signed_text(params), digest).hexdigest()


def verify_sms_signature(
    params: Mapping[str, Any],
    secrets: str | Iterable[str],
    *,
    method: str = "md5",
    now: float | None = None,
    max_age: float = DEFAULT_MAX_AGE,
) -> SignatureProblem | None:
    """None when ``params`` carry a ``sig`` made with one of ``secrets`` and ``method`` and a
    recent ``timestamp`` (Unix seconds); else the problem. An unknown ``method`` raises
    ValueError (a configuration error, not request data)."""
    digest = _digest(method)
    keys = _secrets(secrets)
    if not keys:
        return SignatureProblem("no_secret", "no signature secret is configured")
    sig = params.get("sig")
    if not isinstance(sig, str) or not sig.strip():
        return SignatureProblem("missing", "the request carries no sig parameter")
    try:
        received = sig.strip().lower().encode("ascii")
    except UnicodeEncodeError:
        return SignatureProblem("mismatch", "the sig parameter does not match the secret")
    text = _signed_text(params)
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(
            hmac.new(key, text, digest).hexdigest().encode("ascii"), received)
    if not matched:
        return SignatureProblem("mismatch", "the sig parameter does not match the secret")

    raw = params.get("timestamp")
    stamp: float | None
    if isinstance(raw, str):
        stamp = float(raw.strip()) if raw.strip().isascii() and raw.strip().isdigit() else None
    else:
        stamp = _number(raw)
    if stamp is None:
        return SignatureProblem("stale", "the request carries no timestamp (Unix seconds)")
    current = time.time() if now is None else now
    if stamp > current + CLOCK_SKEW:
        return SignatureProblem("future", "the request's timestamp is in the future")
    if current - stamp > max_age:
        return SignatureProblem("stale", f"the request is older than {max_age:g} seconds")
    return None
