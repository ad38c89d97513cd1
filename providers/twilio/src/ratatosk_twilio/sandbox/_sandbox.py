"""``TwilioSandbox``: the server on a background thread and the methods tests use."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TypeVar

from ._api import Api
from ._engine import PROGRESSIONS, Engine
from ._http import HttpServer
from ._models import CallbackRecord, InboundDelivery, SandboxMessage

__all__ = ["TwilioSandbox"]

_T = TypeVar("_T")
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")


class TwilioSandbox:
    """A local, Twilio-compatible Messages API server.

    ``with TwilioSandbox() as sandbox:`` serves on ``sandbox.base_url`` (127.0.0.1, a free port)
    from a background thread that runs an asyncio loop, until the block ends. Clients
    authenticate with ``sandbox.account_sid``/``sandbox.auth_token`` (generated unless given)
    or a pair from ``create_api_key()``.

    ``progression`` decides how created messages move through their statuses: ``"immediate"``
    (all at once right after the create; fast, for tests), ``"realtime"`` (``step_delay``
    seconds between steps) or ``"manual"`` (one step per ``advance()``). ``latency`` delays
    every API answer (simulating the network and Twilio's own work; it is what makes
    ``max_concurrency`` observable: creates still waiting for their answer count as in flight).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        progression: str = "immediate",
        step_delay: float = 0.05,
        inbound_webhook_url: str | None = None,
        messages_per_second: float | None = None,
        max_concurrency: int | None = None,
        public_base_url: str | None = None,
        latency: float = 0.0,
        callback_timeout: float = 5.0,
    ) -> None:
        if progression not in PROGRESSIONS:
            raise ValueError(f"progression must be one of {', '.join(PROGRESSIONS)}")
        if account_sid is not None and _ACCOUNT_SID.fullmatch(account_sid) is None:
            raise ValueError("account_sid must be 'AC' followed by 32 hex digits")
        if auth_token is not None and not auth_token:
            raise ValueError("auth_token must not be empty")
        if step_delay < 0 or latency < 0 or callback_timeout <= 0:
            raise ValueError("step_delay and latency must be >= 0, callback_timeout > 0")
        if messages_per_second is not None and not messages_per_second > 0:
            raise ValueError("messages_per_second must be > 0")
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.account_sid = account_sid or "AC" + os.urandom(16).hex()
        self.auth_token = auth_token or os.urandom(16).hex()
        self.progression = progression
        self._engine = Engine(
            account_sid=self.account_sid,
            auth_token=self.auth_token,
            progression=progression,
            step_delay=step_delay,
            messages_per_second=messages_per_second,
            inbound_webhook_url=inbound_webhook_url,
            callback_timeout=callback_timeout,
        )
        self._api = Api(self._engine, latency=latency, max_concurrency=max_concurrency)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._loop_thread: int | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None

    def __repr__(self) -> str:
        state = f"serving on {self.base_url}" if self.running else "stopped"
        return f"<TwilioSandbox {self.account_sid} {state}>"

    # life cycle -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._loop is not None and self._thread is not None and self._thread.is_alive()

    @property
    def base_url(self) -> str:
        """The API root, ``http://127.0.0.1:PORT`` (or ``public_base_url``)."""
        if self.public_base_url is not None:
            return self.public_base_url
        if self.port is None:
            raise RuntimeError("the sandbox is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> TwilioSandbox:
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("the sandbox is already started")
            self._ready.clear()
            self._start_error = None
            thread = threading.Thread(
                target=self._run, name=f"twilio-sandbox-{self.account_sid[:8]}", daemon=True
            )
            self._thread = thread
            thread.start()
        self._ready.wait()
        if self._start_error is not None:
            thread.join()
            with self._lock:
                self._thread = None
            raise self._start_error
        return self

    def stop(self) -> None:
        with self._lock:
            thread, loop, stop_event = self._thread, self._loop, self._stop_event
            self._loop = None
        if thread is None:
            return
        if loop is not None and stop_event is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop_event.set)
        thread.join()
        with self._lock:
            self._thread = None
            self._stop_event = None

    def __enter__(self) -> TwilioSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start() or logged by the thread
            if not self._ready.is_set():
                self._start_error = exc
                self._ready.set()
            else:
                raise

    async def _serve(self) -> None:
        server = HttpServer(self._api.handle)
        try:
            _, self.port = await server.start(self.host, self._requested_port)
        except BaseException as exc:
            self._start_error = exc
            self._ready.set()
            return
        stop_event = asyncio.Event()
        with self._lock:
            self._stop_event = stop_event
            self._loop = asyncio.get_running_loop()
            self._loop_thread = threading.get_ident()
        self._ready.set()
        try:
            await stop_event.wait()
        finally:
            await server.close()
            for record in self._engine.store:
                if record.timer is not None:
                    record.timer.cancel()
                    record.timer = None
            await self._engine.dispatcher.aclose()

    def _call(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` on the sandbox loop (or directly when it is not running) and return."""
        with self._lock:
            loop = self._loop
            if loop is None or threading.get_ident() == self._loop_thread:
                return fn()
            future: concurrent.futures.Future[_T] = concurrent.futures.Future()

            def run() -> None:
                if not future.set_running_or_notify_cancel():
                    return
                try:
                    future.set_result(fn())
                except BaseException as exc:
                    future.set_exception(exc)

            loop.call_soon_threadsafe(run)
        return future.result()

    # credentials ------------------------------------------------------------------------------

    def create_api_key(self) -> tuple[str, str]:
        """A new API key pair (``SK...``, secret) that authenticates like the auth token."""
        key_sid = "SK" + os.urandom(16).hex()
        secret = os.urandom(16).hex()

        def add() -> None:
            self._engine.api_keys[key_sid] = secret

        self._call(add)
        return key_sid, secret

    # messages ---------------------------------------------------------------------------------

    @property
    def messages(self) -> list[SandboxMessage]:
        """A snapshot of every message the sandbox holds, in creation order."""
        return self._call(self._engine.store.snapshot)

    def get_message(self, sid: str) -> SandboxMessage | None:
        def get() -> SandboxMessage | None:
            record = self._engine.store.get(sid)
            return record.snapshot() if record is not None else None

        return self._call(get)

    def advance(self, sid: str | None = None, *, to: str | None = None) -> int:
        """Move every in-flight message (or only ``sid``) one status on; returns how many moved.

        With ``to`` (a status such as ``"delivered"``; needs ``sid``), move ``sid`` on until it
        reaches that status: ``ValueError`` (naming the statuses ahead) when it is not ahead,
        ``LookupError`` for an unknown message. Scheduled messages are not in flight: they start
        at their ``SendAt``.
        """
        if to is None:
            return self._call(lambda: self._engine.advance(sid))
        if sid is None:
            raise TypeError("advance(to=...) needs the message's sid")
        status = to.strip().lower()
        self._call(lambda: self._engine.advance_to(sid, status))
        return 1

    def reset(self) -> None:
        """Forget messages, callbacks, queues and pending progressions (credentials stay)."""
        self._call(self._engine.reset)

    # provider errors and opt-outs on demand ------------------------------------------------

    def fail_next(self, status: int = 503, code: int = 20503, *, count: int = 1,
                  retry_after: float | None = None) -> None:
        """Make the next ``count`` message creates answer HTTP ``status`` with Twilio error
        ``code`` (and ``Retry-After`` when given), whatever they carry: an outage (503 20503),
        a server error (500 20500), throttling (429 20429, ``retry_after=2``), bad credentials
        (401 20003). Nothing is stored for them."""
        if count < 1 or not 400 <= status <= 599:
            raise ValueError("count must be >= 1 and status an HTTP error status")
        error = (status, code, retry_after)
        self._call(lambda: self._engine.forced_errors.extend([error] * count))

    @property
    def opt_outs(self) -> set[tuple[str, str]]:
        """The (recipient, sender) pairs that replied STOP: their sends answer 21610."""
        return self._call(lambda: set(self._engine.opted_out))

    # callbacks --------------------------------------------------------------------------------

    @property
    def callbacks(self) -> list[CallbackRecord]:
        """Every status callback POSTed so far, in delivery order."""
        with self._engine.callbacks_changed:
            return list(self._engine.callbacks)

    def wait_for_callbacks(self, n: int, timeout: float = 5.0) -> list[CallbackRecord]:
        """Wait until at least ``n`` callbacks were delivered (or failed); TimeoutError if not."""
        deadline = time.monotonic() + timeout
        changed = self._engine.callbacks_changed
        with changed:
            while len(self._engine.callbacks) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{len(self._engine.callbacks)} of {n} status callbacks delivered "
                        f"within {timeout} s"
                    )
                changed.wait(remaining)
            return list(self._engine.callbacks)

    # inbound ----------------------------------------------------------------------------------

    def send_inbound(
        self,
        from_: str,
        to: str,
        body: str = "",
        media: Sequence[tuple[str, str]] = (),
        url: str | None = None,
        *,
        messaging_service_sid: str | None = None,
        **extra_fields: str,
    ) -> InboundDelivery:
        """POST a signed inbound-message webhook to ``url`` (default: ``inbound_webhook_url``).

        ``media`` holds (url, content type) pairs; ``extra_fields`` are added as they are
        (WhatsApp's ProfileName, WaId, ButtonPayload, ...). The message is stored with direction
        ``inbound``; ``<Message>`` verbs of a TwiML answer become outbound-reply messages.
        Blocks until the webhook answered; from a coroutine, use ``send_inbound_async``.
        """
        future = self._inbound_future(from_, to, body, media, url, messaging_service_sid,
                                      extra_fields)
        return future.result()

    async def send_inbound_async(
        self,
        from_: str,
        to: str,
        body: str = "",
        media: Sequence[tuple[str, str]] = (),
        url: str | None = None,
        *,
        messaging_service_sid: str | None = None,
        **extra_fields: str,
    ) -> InboundDelivery:
        """``send_inbound`` for async code: waits without blocking the caller's event loop."""
        future = self._inbound_future(from_, to, body, media, url, messaging_service_sid,
                                      extra_fields)
        return await asyncio.wrap_future(future)

    def _inbound_future(
        self,
        from_: str,
        to: str,
        body: str,
        media: Sequence[tuple[str, str]],
        url: str | None,
        messaging_service_sid: str | None,
        extra: dict[str, str],
    ) -> concurrent.futures.Future[InboundDelivery]:
        target = url or self._engine.inbound_webhook_url
        if not target:
            raise ValueError("no url given and the sandbox has no inbound_webhook_url")
        media = [(str(u), str(t)) for u, t in media]
        with self._lock:
            loop = self._loop
            if loop is None:
                raise RuntimeError("the sandbox is not running")
            record, params = self._engine.inbound_params(
                from_=from_,
                to=to,
                body=body,
                media=media,
                messaging_service_sid=messaging_service_sid,
                extra={name: str(value) for name, value in extra.items()},
            )
            return asyncio.run_coroutine_threadsafe(
                self._engine.deliver_inbound(record, params, target), loop
            )
