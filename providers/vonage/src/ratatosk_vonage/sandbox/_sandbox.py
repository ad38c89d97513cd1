"""``VonageSandbox``: the HTTP server on a background thread and the methods tests use."""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ratatosk_vonage.signature import SIGNATURE_METHODS

from ._engine import PROGRESSION_MODES, SMS_WEBHOOK_METHODS, Engine, Refusal
from ._models import SandboxMessage, WebhookDelivery
from ._numbers import ERRORS, SandboxError
from ._wire import problem

__all__ = ["VonageSandbox"]

_log = logging.getLogger("ratatosk_vonage.sandbox")
MAX_BODY = 1024 * 1024
_NOT_FOUND = SandboxError("not_found", 404, "not-found", "Not Found",
                          "The requested resource does not exist.", "3", "Not found")
_BAD_JSON = SandboxError("bad_json", 400, "bad-request", "Bad Request",
                         "The request body is not valid JSON.", "3", "Invalid parameters")
_INVALID = SandboxError("invalid", 422, "1150", "Invalid params",
                        "The value of one or more parameters is invalid.", "3",
                        "Invalid parameters")
_METHOD = SandboxError("method", 405, "method-not-allowed", "Method Not Allowed",
                       "The resource does not answer this method.", "3", "Invalid parameters")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sandbox: VonageSandbox


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # log_request below; never the request line (a GET's query may hold credentials)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        _log.debug("vonage sandbox: %s %s -> %s", self.command,
                   urlsplit(self.path).path, code)

    def _answer(self, status: int, body: bytes, content_type: str = "application/json",
                headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _problem(self, error: SandboxError, detail: str | None = None,
                 invalid: list[dict[str, str]] | None = None,
                 retry_after: int | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        self._answer(error.http_status, problem(error, detail=detail, invalid_parameters=invalid),
                     "application/problem+json", headers)

    def _body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True  # the body is not read: the connection cannot go on
            self._answer(411, b"send Content-Length\n", "text/plain")
            return None
        length_text = self.headers.get("Content-Length", "0") or "0"
        if not length_text.isdigit():
            self.close_connection = True
            self._answer(400, b"invalid Content-Length\n", "text/plain")
            return None
        length = int(length_text)
        if length > MAX_BODY:
            self.close_connection = True
            self._answer(413, b"request body too large\n", "text/plain")
            return None
        return self.rfile.read(length) if length else b""

    def _route(self, method: str) -> None:
        try:
            self._dispatch(method)
        except Exception:  # a bug here: a problem answer, never a dropped connection
            _log.exception("vonage sandbox: the %s %s handler failed", method,
                           urlsplit(self.path).path)
            self.close_connection = True
            self._problem(ERRORS["server_error"])

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        body = self._body()
        if body is None:
            return
        sandbox = self.server.sandbox
        if path == "/v1/messages":
            if method != "POST":
                self._problem(_METHOD)
                return
            sandbox._messages_api(self, body)
        elif path == "/sms/json":
            if method not in ("POST", "GET"):
                self._problem(_METHOD)
                return
            sandbox._sms_api(self, method, body)
        elif path in ("/sandbox/inbound", "/sandbox/advance"):
            if method != "POST":
                self._problem(_METHOD)
                return
            sandbox._control(self, path.rsplit("/", 1)[1], body)
        else:
            self._problem(_NOT_FOUND, f"The requested resource {path or '/'} does not exist.")

    def do_POST(self) -> None:
        self._route("POST")

    def do_GET(self) -> None:
        self._route("GET")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_PATCH(self) -> None:
        self._route("PATCH")

    def do_DELETE(self) -> None:
        self._route("DELETE")


class VonageSandbox:
    """A local server speaking Vonage's Messages API (``POST /v1/messages``) and SMS API
    (``POST /sms/json``), for development, demos and tests.

    ``with VonageSandbox() as sandbox:`` serves on ``sandbox.base_url`` (127.0.0.1, a free
    port) from a background thread until the block ends. Clients authenticate with
    ``sandbox.api_key``/``sandbox.api_secret`` (generated unless given; HTTP Basic on the
    Messages API, form fields or a ``sig`` on the SMS API) or a Bearer JWT of an application
    from ``add_application()``. Webhooks are signed with ``sandbox.signature_secret`` (a JWT on
    the Messages API, ``sig`` with ``signature_method`` on the SMS API).

    ``progression`` decides how accepted messages move through their statuses:
    ``"immediate"`` (right after the send), ``"realtime"`` (``step_delay`` seconds between
    steps) or ``"manual"`` (one step per ``advance()``). Status webhooks go to the message's
    ``webhook_url`` (SMS API: ``callback``), else ``status_webhook_url``; inbound messages to
    ``inbound_webhook_url`` or the ``url`` given to ``send_inbound``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        signature_secret: str | None = None,
        signature_method: str = "sha256",
        progression: str = "immediate",
        step_delay: float = 0.05,
        status_webhook_url: str | None = None,
        inbound_webhook_url: str | None = None,
        sms_webhook_method: str = "POST",
        messages_per_second: float | None = None,
        duplicate_status_webhooks: bool = False,
        out_of_order_status_webhooks: bool = False,
        callback_timeout: float = 5.0,
    ) -> None:
        if progression not in PROGRESSION_MODES:
            raise ValueError(f"progression must be one of {', '.join(PROGRESSION_MODES)}")
        if signature_method not in SIGNATURE_METHODS:
            raise ValueError(f"signature_method must be one of {', '.join(SIGNATURE_METHODS)}")
        if sms_webhook_method not in SMS_WEBHOOK_METHODS:
            raise ValueError(f"sms_webhook_method must be one of {', '.join(SMS_WEBHOOK_METHODS)}")
        for name, value in (("api_key", api_key), ("api_secret", api_secret),
                            ("signature_secret", signature_secret)):
            if value is not None and (not value or (":" in value and name == "api_key")):
                raise ValueError(f"{name} must be a non-empty string" +
                                 (" without ':'" if name == "api_key" else ""))
        if step_delay < 0 or callback_timeout <= 0:
            raise ValueError("step_delay must be >= 0 and callback_timeout > 0")
        if messages_per_second is not None and not messages_per_second > 0:
            raise ValueError("messages_per_second must be > 0")
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self.api_key = api_key or secrets.token_hex(4)
        self.api_secret = api_secret or secrets.token_hex(8)
        self.signature_secret = signature_secret or secrets.token_hex(24)
        self.signature_method = signature_method
        self.progression = progression
        self._engine = Engine(
            api_key=self.api_key, api_secret=self.api_secret,
            signature_secret=self.signature_secret, signature_method=signature_method,
            progression=progression, step_delay=step_delay,
            status_webhook_url=status_webhook_url, inbound_webhook_url=inbound_webhook_url,
            sms_webhook_method=sms_webhook_method, messages_per_second=messages_per_second,
            duplicate_status_webhooks=duplicate_status_webhooks,
            out_of_order_status_webhooks=out_of_order_status_webhooks,
            callback_timeout=callback_timeout)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        state = f"serving on {self.base_url}" if self.running else "stopped"
        return f"<VonageSandbox {self.api_key} {state}>"

    # life cycle -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def base_url(self) -> str:
        """The API root, ``http://127.0.0.1:PORT``: both ``/v1/messages`` and ``/sms/json``
        are under it (give it as the connectors' ``BaseUrl``)."""
        if self.port is None:
            raise RuntimeError("the sandbox is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def status_webhook_url(self) -> str | None:
        return self._engine.status_webhook_url

    @status_webhook_url.setter
    def status_webhook_url(self, value: str | None) -> None:
        self._engine.status_webhook_url = value

    @property
    def inbound_webhook_url(self) -> str | None:
        return self._engine.inbound_webhook_url

    @inbound_webhook_url.setter
    def inbound_webhook_url(self, value: str | None) -> None:
        self._engine.inbound_webhook_url = value

    def start(self) -> VonageSandbox:
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("the sandbox is already started")
            server = _Server((self.host, self._requested_port), _Handler)
            server.sandbox = self
            self._server = server
            self.port = int(server.server_address[1])
            self._engine.start()
            self._thread = threading.Thread(target=server.serve_forever,
                                            kwargs={"poll_interval": 0.1},
                                            name=f"vonage-sandbox-{self.api_key}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None or thread is None:
            return
        server.shutdown()
        server.server_close()
        thread.join()
        self._engine.stop()

    def __enter__(self) -> VonageSandbox:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # credentials ------------------------------------------------------------------------------

    def add_application(self, public_key_pem: str | bytes | None = None) -> tuple[str, str | None]:
        """Register an application whose JWTs (RS256, claim ``application_id``) authenticate
        Messages API sends; returns (application id, private key PEM). Without a public key a
        new RSA key pair is made and its private key returned (else None). Needs the
        ``cryptography`` package."""
        try:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa
        except ImportError as exc:
            raise RuntimeError("add_application needs the 'cryptography' package") from exc
        private_pem: str | None = None
        if public_key_pem is None:
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public: Any = private.public_key()
            private_pem = private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()).decode("ascii")
        else:
            data = public_key_pem.encode() if isinstance(public_key_pem, str) else public_key_pem
            public = serialization.load_pem_public_key(data)
        application_id = str(uuid.uuid4())
        with self._engine.lock:
            self._engine.applications[application_id] = public
        return application_id, private_pem

    # messages and progression -----------------------------------------------------------------

    @property
    def messages(self) -> list[SandboxMessage]:
        """A snapshot of every message the sandbox holds (sent and inbound), in order."""
        with self._engine.lock:
            return [record.snapshot() for record in self._engine.records.values()]

    def get_message(self, message_id: str) -> SandboxMessage | None:
        """A message by its message_uuid, or by any of its SMS API part ids."""
        with self._engine.lock:
            key = self._engine.part_index.get(message_id, message_id)
            record = self._engine.records.get(key)
            return record.snapshot() if record is not None else None

    def advance(self, message_id: str | None = None) -> int:
        """Move every message in flight (or only ``message_id``) one status on, sending its
        webhooks; returns how many moved (for ``progression="manual"``)."""
        return self._engine.advance(message_id)

    def wait_until_idle(self, timeout: float = 5.0) -> None:
        """Wait until every status step and webhook scheduled so far is done."""
        deadline = time.monotonic() + timeout
        while not self._engine.idle:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the sandbox still had webhooks to send after {timeout} s")
            time.sleep(0.01)

    def reset(self) -> None:
        """Forget messages, webhooks, pending steps and queued errors (credentials stay)."""
        self._engine.reset()

    # realism on demand ------------------------------------------------------------------------

    def fail_next(self, kind: str, count: int = 1, *, api: str | None = None) -> None:
        """Answer the next ``count`` sends (of ``api``: ``"messages"`` or ``"sms"``; default
        either) with the provider error ``kind``: one of ``ERRORS`` (``invalid_number``,
        ``barred``, ``low_balance``, ``throttled``, ``server_error``, ``bad_credentials``)."""
        if kind not in ERRORS:
            raise ValueError(f"unknown error kind {kind!r}; use one of {', '.join(ERRORS)}")
        if api not in (None, "messages", "sms"):
            raise ValueError("api must be 'messages', 'sms' or None")
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._engine.lock:
            self._engine.failures.extend([(kind, api)] * count)

    @property
    def duplicate_status_webhooks(self) -> bool:
        """Send every status webhook twice (the second re-signed: a new ``jti``/``iat``)."""
        return self._engine.duplicate_status_webhooks

    @duplicate_status_webhooks.setter
    def duplicate_status_webhooks(self, value: bool) -> None:
        self._engine.duplicate_status_webhooks = bool(value)

    @property
    def out_of_order_status_webhooks(self) -> bool:
        """Hold a message's status webhooks until its last status, then send them newest
        first (``delivered`` before ``submitted``)."""
        return self._engine.out_of_order_status_webhooks

    @out_of_order_status_webhooks.setter
    def out_of_order_status_webhooks(self, value: bool) -> None:
        self._engine.out_of_order_status_webhooks = bool(value)

    # webhooks ---------------------------------------------------------------------------------

    @property
    def callbacks(self) -> list[WebhookDelivery]:
        """Every status webhook (Messages API status, SMS API delivery receipt) sent so far."""
        with self._engine.lock:
            return list(self._engine.callbacks)

    @property
    def inbound_deliveries(self) -> list[WebhookDelivery]:
        """Every inbound-message webhook sent so far (``send_inbound`` and STOP replies)."""
        with self._engine.lock:
            return list(self._engine.inbound)

    def wait_for_callbacks(self, n: int, timeout: float = 5.0) -> list[WebhookDelivery]:
        """Wait until at least ``n`` status webhooks were sent (or failed); TimeoutError if
        not."""
        return self._wait(lambda: self._engine.callbacks, n, timeout, "status webhooks")

    def wait_for_inbound(self, n: int, timeout: float = 5.0) -> list[WebhookDelivery]:
        """Wait until at least ``n`` inbound webhooks were sent (or failed)."""
        return self._wait(lambda: self._engine.inbound, n, timeout, "inbound webhooks")

    def _wait(self, items: Any, n: int, timeout: float, what: str) -> list[WebhookDelivery]:
        deadline = time.monotonic() + timeout
        with self._engine.changed:
            while len(items()) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(items())} of {n} {what} sent within {timeout} s")
                self._engine.changed.wait(remaining)
            return list(items())

    def replay(self, delivery: WebhookDelivery) -> WebhookDelivery:
        """POST a webhook sent before again, byte for byte: the same URL, headers (the same
        signed JWT or ``sig``) and body, as an attacker replaying a captured request would.
        The answer is recorded like the original's (in ``callbacks`` or
        ``inbound_deliveries``)."""
        if not self.running:
            raise RuntimeError("the sandbox is not running")
        return self._engine.replay(delivery)

    def send_inbound(
        self,
        from_: str,
        to: str,
        text: str | None = None,
        *,
        api: str = "messages",
        channel: str = "sms",
        url: str | None = None,
        message_type: str = "text",
        media_url: str | None = None,
        media_name: str | None = None,
        profile_name: str | None = None,
        context_message_uuid: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> list[WebhookDelivery]:
        """POST a signed inbound-message webhook to ``url`` (default: ``inbound_webhook_url``)
        and return what was sent and answered.

        ``api="messages"``: one JSON webhook of ``channel`` (``sms``, ``mms``, ``whatsapp``,
        ...) and ``message_type`` (``text``; ``image``/``audio``/``video``/``file`` with
        ``media_url``, ``text`` as the caption); WhatsApp carries ``profile`` (``profile_name``)
        and, with ``context_message_uuid``, a reply's ``context``. ``api="sms"``: the SMS
        API's inbound SMS, one webhook per part (``concat``, ``concat-ref``, ``concat-total``,
        ``concat-part``) when ``text`` is longer than one SMS. ``extra`` fields are added as
        they are. Numbers are E.164 digits (a leading ``+`` is dropped).
        """
        target = url or self._engine.inbound_webhook_url
        if not target:
            raise ValueError("no url given and the sandbox has no inbound_webhook_url")
        if api not in ("messages", "sms"):
            raise ValueError("api must be 'messages' or 'sms'")
        if not self.running:
            raise RuntimeError("the sandbox is not running")
        return self._engine.inbound_to(
            target, api=api, channel=channel if api == "messages" else "sms",
            from_=from_.removeprefix("+"), to=to.removeprefix("+"), text=text,
            message_type=message_type, media_url=media_url, media_name=media_name,
            profile_name=profile_name, context=context_message_uuid, extra=extra)

    # the APIs ---------------------------------------------------------------------------------

    def _messages_api(self, handler: _Handler, body: bytes) -> None:
        engine = self._engine
        auth = handler.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            reason = engine.check_bearer(auth)
            if reason is not None:
                handler._problem(ERRORS["bad_credentials"], f"Invalid token: {reason}.")
                return
        elif not engine.check_basic(auth):
            handler._problem(ERRORS["bad_credentials"])
            return
        failure = engine.take_failure("messages")
        if failure is not None:
            handler._problem(failure, retry_after=1 if failure.kind == "throttled" else None)
            return
        wait = engine.throttle()
        if wait is not None:
            handler._problem(ERRORS["throttled"], retry_after=wait)
            return
        if "json" not in handler.headers.get("Content-Type", ""):
            handler._problem(_BAD_JSON, "The request body must be JSON (Content-Type: "
                                        "application/json).")
            return
        try:
            data = json.loads(body)
        except ValueError:
            handler._problem(_BAD_JSON)
            return
        try:
            message_uuid = engine.messages_send(data)
        except Refusal as refusal:
            handler._problem(refusal.error, refusal.detail, refusal.invalid,
                             refusal.retry_after)
            return
        handler._answer(202, json.dumps({"message_uuid": message_uuid}).encode())

    def _sms_api(self, handler: _Handler, method: str, body: bytes) -> None:
        engine = self._engine
        params: dict[str, str] = dict(parse_qsl(urlsplit(handler.path).query,
                                                keep_blank_values=True))
        if method == "POST":
            content_type = handler.headers.get("Content-Type", "")
            try:
                if "json" in content_type:
                    data = json.loads(body) if body else {}
                    if not isinstance(data, dict):
                        raise ValueError("not an object")
                    params.update({str(k): str(v) for k, v in data.items()})
                else:
                    params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                                            strict_parsing=False))
            except (ValueError, UnicodeDecodeError):
                self._sms_answer(handler, [_sms_error("3", "Invalid request body")])
                return
        key = params.get("api_key")
        basic = handler.headers.get("Authorization", "")
        if not key and basic.startswith("Basic "):  # what the SDK v4 sends
            authentic = engine.check_basic(basic)
        elif not key:
            self._sms_answer(handler, [_sms_error("2", "Missing api_key")])
            return
        elif "sig" in params:
            authentic = key == engine.api_key and engine.check_sms_sig(params)
        else:
            secret = params.get("api_secret")
            if not secret:
                self._sms_answer(handler, [_sms_error("2", "Missing api_secret")])
                return
            authentic = engine.check_key_secret(key, secret)
        if not authentic:
            error = ERRORS["bad_credentials"]
            self._sms_answer(handler, [_sms_error(error.sms_status, error.sms_error_text)])
            return
        failure = engine.take_failure("sms")
        if failure is None and engine.throttle() is not None:
            failure = ERRORS["throttled"]
        if failure is not None:
            self._sms_answer(handler, [_sms_error(failure.sms_status, failure.sms_error_text,
                                                  params.get("to"))])
            return
        try:
            entries = engine.sms_send(params)
        except Refusal as refusal:
            text = refusal.detail or refusal.error.sms_error_text
            if refusal.error.kind in ERRORS:
                text = refusal.error.sms_error_text if refusal.detail is None else text
            self._sms_answer(handler, [_sms_error(refusal.error.sms_status, text,
                                                  params.get("to"))])
            return
        self._sms_answer(handler, entries)

    def _control(self, handler: _Handler, action: str, body: bytes) -> None:
        """The control routes of a running sandbox (``ratatosk vonage inbound``/``advance``):
        ``POST /sandbox/inbound`` and ``POST /sandbox/advance``, JSON, HTTP Basic as the API."""
        if not self._engine.check_basic(handler.headers.get("Authorization", "")):
            handler._problem(ERRORS["bad_credentials"])
            return
        try:
            data = json.loads(body) if body else {}
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except ValueError:
            handler._problem(_BAD_JSON)
            return
        if action == "advance":
            message_id = data.get("message_id")
            moved = self.advance(message_id if isinstance(message_id, str) else None)
            handler._answer(200, json.dumps({"moved": moved}).encode())
            return
        fields = {"from": str, "to": str, "text": str, "api": str, "channel": str, "url": str,
                  "message_type": str, "media_url": str, "profile_name": str,
                  "context_message_uuid": str}
        bad = [name for name, kind in fields.items()
               if name in data and not isinstance(data[name], kind)]
        missing = [name for name in ("from", "to") if not data.get(name)]
        if bad or missing:
            names = bad + missing
            handler._problem(_INVALID, f"Give {', '.join(names)} as strings.",
                             [{"name": n, "reason": "missing or not a string"} for n in names])
            return
        try:
            deliveries = self.send_inbound(
                data["from"], data["to"], data.get("text"), api=data.get("api", "messages"),
                channel=data.get("channel", "sms"), url=data.get("url"),
                message_type=data.get("message_type", "text"), media_url=data.get("media_url"),
                profile_name=data.get("profile_name"),
                context_message_uuid=data.get("context_message_uuid"))
        except ValueError as exc:
            handler._problem(_INVALID, str(exc))
            return
        answer = [{"message_id": d.message_id, "url": d.url, "status_code": d.status_code,
                   "error": d.error} for d in deliveries]
        handler._answer(200, json.dumps({"deliveries": answer}).encode())

    @staticmethod
    def _sms_answer(handler: _Handler, entries: list[dict[str, str]]) -> None:
        payload = {"message-count": str(len(entries)), "messages": entries}
        handler._answer(200, json.dumps(payload).encode())


def _sms_error(status: str, text: str, to: str | None = None) -> dict[str, str]:
    entry = {"status": status, "error-text": text}
    if to:
        entry["to"] = to.removeprefix("+")
    return entry
