"""JWT authentication for the Messages API: ``Authorization: Bearer <JWT>``, signed RS256 with a
Vonage application's private key, claims ``application_id``, ``iat``, ``jti`` and ``exp`` (as the
official SDK's ``vonage_jwt.JwtClient`` makes them: valid for 15 minutes, a new ``jti`` each).

This module needs ``cryptography`` (the ``jwt`` extra: ``pip install
ratatosk-messaging-vonage[jwt]``); the connector imports it only when ApplicationId is set, so
Basic authentication works without it.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["TOKEN_LIFETIME", "ApplicationJwt", "PrivateKeyError", "load_private_key"]

TOKEN_LIFETIME = 15 * 60
"""Seconds a token is valid (``exp - iat``), as the official SDK makes them."""

_PEM_MARK = "-----BEGIN"


class PrivateKeyError(ValueError):
    """The PrivateKey setting is not a usable RSA private key (the message never quotes it)."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_private_key(value: str) -> rsa.RSAPrivateKey:
    """The RSA private key from PEM text, or from the PEM file at the path ``value``.

    PEM text whose line breaks were written as ``\\n`` (common in environment variables) is
    accepted. Raises :class:`PrivateKeyError` with a sentence that never shows the key.
    """
    text = value.strip()
    if _PEM_MARK in text:
        if "\n" not in text and "\\n" in text:
            text = text.replace("\\n", "\n")
        data = text.encode("ascii", "replace")
    else:
        try:
            data = Path(text).expanduser().read_bytes()
        except (OSError, ValueError):
            raise PrivateKeyError(
                "PrivateKey is neither PEM text nor the path of a readable file") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise PrivateKeyError(
            "PrivateKey is not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PrivateKeyError("PrivateKey is not an RSA key (RS256 needs one)")
    return key


class ApplicationJwt:
    """Makes the Bearer tokens of one application (thread-safe: no state changes)."""

    def __init__(self, application_id: str, key: rsa.RSAPrivateKey) -> None:
        self.application_id = application_id
        self._key = key
        self._header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT"},
                                          separators=(",", ":")).encode("ascii"))

    def __repr__(self) -> str:
        return f"ApplicationJwt(application_id={self.application_id!r}, key=********)"

    def claims(self, now: float | None = None, jti: str | None = None) -> dict[str, Any]:
        """The claims of a new token."""
        issued = int(time.time() if now is None else now)
        return {"application_id": self.application_id, "iat": issued,
                "jti": jti or str(uuid.uuid4()), "exp": issued + TOKEN_LIFETIME}

    def token(self, now: float | None = None, jti: str | None = None) -> str:
        """A new signed token."""
        payload = _b64url(json.dumps(self.claims(now, jti), separators=(",", ":")).encode())
        signing_input = f"{self._header}.{payload}".encode("ascii")
        signature = self._key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{self._header}.{payload}.{_b64url(signature)}"

    def authorization(self) -> str:
        """The ``Authorization`` header value for one request."""
        return f"Bearer {self.token()}"
