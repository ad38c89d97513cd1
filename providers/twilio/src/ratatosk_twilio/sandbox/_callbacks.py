"""Signed webhook POSTs: status callbacks (ordered per message) and inbound messages.

Requests are made the way Twilio makes them: form-encoded, ``X-Twilio-Signature`` computed over
the URL exactly as configured plus the POST parameters with the account's auth token, a fresh
``I-Twilio-Idempotency-Token`` per request, and ``User-Agent: TwilioProxy/1.1``. Runs on the
sandbox's event loop; failures are recorded, never raised.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Callable
from urllib.parse import urlencode

import attrs
import httpx

from ratatosk_twilio.signature import compute_signature

from ._models import CallbackRecord

__all__ = ["CallbackDispatcher", "PostResult"]

USER_AGENT = "TwilioProxy/1.1"


@attrs.frozen
class PostResult:
    signature: str
    idempotency_token: str
    status_code: int | None
    body: str
    content_type: str | None
    error: str | None


@attrs.frozen
class _Job:
    url: str
    params: list[tuple[str, str]]
    auth_token: str
    message_sid: str
    message_status: str


class CallbackDispatcher:
    """Delivers status callbacks in order per message, several messages in parallel."""

    def __init__(
        self,
        *,
        timeout: float,
        on_record: Callable[[CallbackRecord], None],
        max_parallel: int = 32,
    ) -> None:
        self._timeout = timeout
        self._on_record = on_record
        self._max_parallel = max_parallel
        self._client: httpx.AsyncClient | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._queues: dict[str, deque[_Job]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        """Callbacks queued or being posted."""
        return sum(len(q) for q in self._queues.values()) + len(self._tasks)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout),
                trust_env=False,
                follow_redirects=False,
                limits=httpx.Limits(max_connections=self._max_parallel * 2),
            )
        return self._client

    def enqueue(
        self,
        url: str,
        params: list[tuple[str, str]],
        *,
        auth_token: str,
        message_sid: str,
        message_status: str,
    ) -> None:
        job = _Job(url, params, auth_token, message_sid, message_status)
        queue = self._queues.get(message_sid)
        if queue is not None:
            queue.append(job)
            return
        queue = deque((job,))
        self._queues[message_sid] = queue
        task = asyncio.get_running_loop().create_task(self._drain(message_sid, queue))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self, key: str, queue: deque[_Job]) -> None:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self._max_parallel)
        try:
            while queue:
                job = queue.popleft()
                async with self._semaphore:
                    result = await self.post(job.url, job.params, job.auth_token)
                self._on_record(
                    CallbackRecord(
                        url=job.url,
                        params=job.params,
                        signature=result.signature,
                        status_code=result.status_code,
                        error=result.error,
                        message_sid=job.message_sid,
                        message_status=job.message_status,
                        idempotency_token=result.idempotency_token,
                    )
                )
        finally:
            if self._queues.get(key) is queue:
                del self._queues[key]

    async def post(
        self, url: str, params: list[tuple[str, str]], auth_token: str
    ) -> PostResult:
        signature = compute_signature(auth_token, url, params)
        token = str(uuid.uuid4())
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
            "I-Twilio-Idempotency-Token": token,
            "User-Agent": USER_AGENT,
            "Accept": "*/*",
        }
        try:
            response = await self._http().post(url, content=urlencode(params), headers=headers)
        except (httpx.HTTPError, OSError, ValueError) as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return PostResult(signature, token, None, "", None, reason)
        return PostResult(
            signature,
            token,
            response.status_code,
            response.text,
            response.headers.get("content-type"),
            None if response.status_code < 400 else f"HTTP {response.status_code}",
        )

    def cancel_all(self) -> None:
        """Drop queued callbacks and cancel those in flight (reset)."""
        self._queues.clear()
        for task in list(self._tasks):
            task.cancel()

    async def aclose(self) -> None:
        tasks = list(self._tasks)
        self.cancel_all()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
