"""A fake Acme API for tests: an ``httpx.MockTransport`` handler that keeps what it was sent."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

import httpx
from attrs import define, field

ACCOUNT_ID = "acc_test1"
API_KEY = "acme-key-s3cr3t-0123456789"


@define
class FakeAcmeApi:
    """Answers the Acme API for one account; ``messages`` holds every accepted send."""

    account_id: str = ACCOUNT_ID
    api_key: str = API_KEY
    messages: dict[str, dict[str, Any]] = field(factory=dict)
    requests: list[httpx.Request] = field(factory=list)
    _lock: threading.Lock = field(factory=threading.Lock)

    def transport(self) -> httpx.MockTransport:
        """A transport serving both the async and the blocking path."""
        return httpx.MockTransport(self.handle)

    def _authorized(self, request: httpx.Request) -> bool:
        expected = base64.b64encode(f"{self.account_id}:{self.api_key}".encode()).decode()
        return bool(request.headers.get("authorization") == f"Basic {expected}")

    @staticmethod
    def _error(status: int, code: str, message: str) -> httpx.Response:
        return httpx.Response(status, json={"error": {"code": code, "message": message}})

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Serve one request."""
        with self._lock:
            self.requests.append(request)
        path = request.url.path
        if path == "/v1/health" and request.method == "GET":
            return httpx.Response(200, json={"ok": True})
        prefix = f"/v1/accounts/{self.account_id}/messages"
        if not path.startswith(prefix):
            return self._error(404, "not_found", "no such resource")
        if not self._authorized(request):
            return self._error(401, "unauthorized", "bad credentials")
        rest = path[len(prefix):]
        if rest == "" and request.method == "POST":
            return self._send(request)
        if rest.startswith("/") and request.method == "GET":
            stored = self.messages.get(rest[1:])
            if stored is None:
                return self._error(404, "not_found", "no such message")
            return httpx.Response(200, json={"id": stored["id"], "status": stored["status"]})
        return self._error(405, "method_not_allowed", "method not allowed")

    def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            body = json.loads(request.content)
        except ValueError:
            return self._error(400, "bad_json", "the body is not JSON")
        to = body.get("to") if isinstance(body, dict) else None
        if not isinstance(to, str) or not to.startswith("+"):
            return self._error(400, "invalid_number", "the receiver is not an E.164 number")
        if not isinstance(body.get("from"), str):
            return self._error(400, "invalid_sender", "the sender is missing")
        with self._lock:
            remote_id = f"am_{len(self.messages) + 1:06d}"
            self.messages[remote_id] = {**body, "id": remote_id, "status": "queued"}
        return httpx.Response(201, json={"id": remote_id, "status": "queued"})
