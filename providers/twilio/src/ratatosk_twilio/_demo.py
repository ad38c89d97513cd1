"""``ratatosk demo``: the whole life of a message on the local sandbox, no Twilio account needed.

It starts the Twilio sandbox and a webhook receiver on 127.0.0.1, then, through the real connectors:
sends a text SMS, an MMS with two images, a WhatsApp template and a scheduled message; receives the
signed status callbacks and an inbound reply through the real webhook path (signature checked);
cancels the scheduled message; and prints the timeline.

Then, side by side, the same provider-neutral application code (``ratatosk.connect(dsn)``, one
webhook endpoint for every provider) runs against every sandbox an installed provider offers
through the ``ratatosk_register_demo_sandboxes`` hook (Twilio's below, Vonage's, ...): only the
DSN changes.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

from attrs import define, field, frozen

import ratatosk
from ratatosk import (
    BlockingConnector,
    ChannelCapability,
    ConnectionSettings,
    MediaType,
    MessageSource,
    Result,
    WebhookKind,
)
from ratatosk.plugins import get_plugin_manager

from ._builder import TwilioMessageBuilder

DEMO_FROM = "+15005550006"  # Twilio's magic "valid sender" test number
DEMO_TO = "+15551230001"
DEMO_WHATSAPP_TO = "whatsapp:+15551230002"
DEMO_SERVICE_SID = "MG" + "d3" * 16
DEMO_CONTENT_SID = "HX" + "a1" * 16


@frozen
class Event:
    """One line of the demo's timeline."""

    at: float
    direction: str
    what: str
    detail: str
    ok: bool = True


@define
class Timeline:
    started: float = field(factory=time.monotonic)
    events: list[Event] = field(factory=list)
    final: set[str] = field(factory=set)  # message SIDs whose final status arrived by callback
    lock: threading.Lock = field(factory=threading.Lock)

    def add(self, direction: str, what: str, detail: str, ok: bool = True) -> None:
        with self.lock:
            self.events.append(Event(time.monotonic() - self.started, direction, what, detail, ok))

    def finished(self, sid: str) -> None:
        with self.lock:
            self.final.add(sid)

    def all_final(self, sids: list[str]) -> bool:
        with self.lock:
            return self.final.issuperset(sids)

    def count(self, what: str) -> int:
        with self.lock:
            return sum(1 for e in self.events if e.what == what)


def _receiver(
    timeline: Timeline, sms: Callable[[], BlockingConnector]
) -> tuple[ThreadingHTTPServer, str]:
    """A webhook receiver: /status for status callbacks, /inbound for inbound messages."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            url = f"{base_url}{self.path}"
            source = MessageSource.url_post(body, url=url, headers=list(self.headers.items()))
            connector = sms()
            reply = b'<?xml version="1.0" encoding="UTF-8"?><Response />'
            if self.path.startswith("/status"):
                status = connector.receive_message_status(source)
                if status.is_success and status.data is not None:
                    update = status.data
                    if update.status.is_final:
                        timeline.finished(update.remote_message_id)
                    timeline.add(
                        "<- callback",
                        "status",
                        f"{update.remote_message_id[:10]}… "
                        f"{update.provider_status} -> {update.status.name}",
                        ok=update.error is None,
                    )
                else:
                    timeline.add("<- callback", "rejected", str(status.error), ok=False)
            else:
                received = connector.receive_messages(source)
                if received.is_success and received.data is not None:
                    for message in received.data.messages:
                        sender = message.sender.address if message.sender else "?"
                        timeline.add("<- inbound", "inbound", f"from {sender}: {message.text!r}")
                    from .twiml import TwiML

                    reply = TwiML.message("Thanks, we got your reply.").encode()
                else:
                    timeline.add("<- inbound", "rejected", str(received.error), ok=False)
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    base_url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, name="demo-webhooks", daemon=True).start()
    return server, base_url


def _record_send(timeline: Timeline, label: str, result: Result[Any]) -> str | None:
    if result.is_success and result.data is not None:
        sid: str = result.data.remote_message_id
        timeline.add("-> send", "sent", f"{label}: {sid[:10]}… {result.data.provider_status}")
        return sid
    timeline.add("-> send", "failed", f"{label}: {result.error}", ok=False)
    return None


def run_demo(*, step_delay: float = 0.15, timeout: float = 15.0, out: Any = None) -> int:
    """Run the demo and print its timeline; returns the process exit code (0 when all went well)."""
    from . import TwilioChannelSchemas, TwilioSmsConnector, TwilioWhatsAppConnector
    from .sandbox import TwilioSandbox

    out = out or sys.stdout
    timeline = Timeline()
    connectors: dict[str, BlockingConnector] = {}
    server, hooks_url = _receiver(timeline, lambda: connectors["sms"])
    try:
        with TwilioSandbox(
            progression="realtime",
            step_delay=step_delay,
            inbound_webhook_url=f"{hooks_url}/inbound",
        ) as sandbox:
            timeline.add("  sandbox", "start", f"Twilio sandbox at {sandbox.base_url}")
            base = (
                ConnectionSettings()
                .set_parameter("AccountSid", sandbox.account_sid)
                .set_parameter("AuthToken", sandbox.auth_token)
                .set_parameter("BaseUrl", sandbox.base_url)
                .set_parameter("StatusCallback", f"{hooks_url}/status")
                .set_parameter("WebhookUrl", f"{hooks_url}/inbound")
            )
            connectors["sms"] = TwilioSmsConnector(TwilioChannelSchemas.TWILIO_SMS, base).blocking()
            whatsapp = TwilioWhatsAppConnector(
                TwilioChannelSchemas.TWILIO_WHATSAPP, base
            ).blocking()
            scheduler = TwilioSmsConnector(
                TwilioChannelSchemas.TWILIO_SMS,
                base.copy().set_parameter("MessagingServiceSid", DEMO_SERVICE_SID),
            ).blocking()
            connectors["whatsapp"], connectors["scheduler"] = whatsapp, scheduler
            sms = connectors["sms"]
            sids: list[str | None] = []

            sids.append(
                _record_send(
                    timeline,
                    "text SMS",
                    sms.send_message(
                        TwilioMessageBuilder()
                        .with_id("sms-1")
                        .from_phone(DEMO_FROM)
                        .to_phone(DEMO_TO)
                        .with_text("Hello from Ratatosk")
                        .with_provide_callback()
                        .build()
                    ),
                )
            )
            sids.append(
                _record_send(
                    timeline,
                    "MMS, 2 images",
                    sms.send_message(
                        TwilioMessageBuilder()
                        .with_id("mms-1")
                        .from_phone(DEMO_FROM)
                        .to_phone(DEMO_TO)
                        .with_text("Two photos")
                        .with_media("https://example.com/photo1.jpg", MediaType.IMAGE)
                        .with_media("https://example.com/photo2.png", MediaType.IMAGE)
                        .with_provide_callback()
                        .build()
                    ),
                )
            )
            sids.append(
                _record_send(
                    timeline,
                    "WhatsApp template",
                    whatsapp.send_message(
                        TwilioMessageBuilder()
                        .with_id("wa-1")
                        .from_phone(f"whatsapp:{DEMO_FROM}")
                        .to_phone(DEMO_WHATSAPP_TO)
                        .with_template(DEMO_CONTENT_SID, {"1": "Ada", "2": "Friday"})
                        .with_provide_callback()
                        .build()
                    ),
                )
            )
            send_at = datetime.now(timezone.utc) + timedelta(hours=2)
            scheduled = _record_send(
                timeline,
                "scheduled SMS",
                scheduler.send_message(
                    TwilioMessageBuilder()
                    .with_id("sched-1")
                    .to_phone(DEMO_TO)
                    .with_text("Your appointment is in one hour")
                    .with_send_at(send_at)
                    .build()
                ),
            )

            delivery = sandbox.send_inbound(
                from_=DEMO_TO, to=DEMO_FROM, body="Got it, thanks!", url=f"{hooks_url}/inbound"
            )
            timeline.add(
                "  sandbox",
                "inbound",
                f"reply POSTed to webhook, HTTP {delivery.status_code}",
                ok=delivery.status_code == 200,
            )

            # wait until every sent message reported a final status (delivered, failed...)
            sent = [sid for sid in sids if sid]
            deadline = time.monotonic() + timeout
            while not timeline.all_final(sent) and time.monotonic() < deadline:
                time.sleep(0.05)
            for sid in sent:
                if sid not in timeline.final:
                    timeline.add(
                        "<- callback", "missing", f"no final status for {sid[:10]}…", ok=False
                    )

            if scheduled:
                cancel = getattr(scheduler, "cancel_message")(scheduled)  # noqa: B009
                if cancel.is_success:
                    timeline.add(
                        "-> update",
                        "canceled",
                        f"scheduled {scheduled[:10]}… {cancel.data.provider_status}",
                    )
                    # the cancel is reported by a status callback too: wait for it
                    while not timeline.all_final([scheduled]) and time.monotonic() < deadline:
                        time.sleep(0.05)
                else:
                    timeline.add("-> update", "cancel failed", str(cancel.error), ok=False)
            for sid in filter(None, sids):
                status = sms.get_message_status(sid)
                if status.is_success and status.data is not None:
                    timeline.add(
                        "-> fetch",
                        "status",
                        f"{sid[:10]}… is {status.data.status.name} "
                        f"({status.data.segments} segment(s), price {status.data.price} "
                        f"{status.data.price_unit or ''})".rstrip(),
                    )
    finally:
        # stop whatever could still call the receiver before the connectors it uses
        server.shutdown()
        server.server_close()
        for connector in connectors.values():
            connector.shutdown()

    side_by_side(timeline, timeout=timeout)
    ok = all(e.ok for e in timeline.events) and timeline.count("inbound") >= 1
    _print(timeline, out)
    print(
        "\nDemo finished: " + ("every step succeeded." if ok else "some steps FAILED (see above)."),
        file=out,
    )
    return 0 if ok else 1


# -- side by side: one application, every provider's sandbox ---------------------------------


@frozen
class TwilioDemoSandbox:
    """What ``ratatosk_register_demo_sandboxes`` offers for Twilio (see docs/plugins.md)."""

    dsn: str
    sender: str
    recipient: str
    sandbox: Any
    hooks_url: str

    def send_inbound(self, text: str) -> int | None:
        delivery = self.sandbox.send_inbound(from_=self.recipient, to=self.sender, body=text,
                                             url=self.hooks_url)
        status: int | None = delivery.status_code
        return status


@contextlib.contextmanager
def demo_sandbox(hooks_url: str, step_delay: float = 0.15) -> Iterator[TwilioDemoSandbox]:
    """The Twilio sandbox for the side-by-side demo: status callbacks go to ``hooks_url``."""
    from .sandbox import TwilioSandbox
    from .sandbox._cli import dsn_for

    with TwilioSandbox(progression="realtime", step_delay=step_delay) as sandbox:
        dsn = f"{dsn_for(sandbox)}?StatusCallback={quote(hooks_url, safe='')}"
        yield TwilioDemoSandbox(dsn, DEMO_FROM, DEMO_TO, sandbox, hooks_url)


class DemoApplication:
    """The application of the side-by-side demo. Provider-neutral: it knows a DSN per provider
    and nothing else; ``handle_webhook`` is its one webhook endpoint for every provider."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.connectors: dict[str, BlockingConnector] = {}

    def connect(self, name: str, dsn: str) -> bool:
        """Connect to provider ``name``; whether its connector receives webhooks."""
        connector = ratatosk.connect(dsn)
        self.connectors[name] = connector.blocking()
        return connector.supports(ChannelCapability.RECEIVE_MESSAGES) and connector.supports(
            ChannelCapability.HANDLE_MESSAGE_STATE)

    def send(self, name: str, sender: str, recipient: str, text: str) -> str | None:
        message = (ratatosk.MessageBuilder().from_phone(sender).to_phone(recipient)
                   .with_text(text).build())
        return _record_send(self.timeline, f"{name}: SMS",
                            self.connectors[name].send_message(message))

    def handle_webhook(self, name: str, method: str, url: str, headers: list[tuple[str, str]],
                       body: bytes) -> tuple[int, bytes, str]:
        blocking = self.connectors.get(name)
        if blocking is None or not blocking.connector.supports(
                ChannelCapability.RECEIVE_MESSAGES):
            return 404, b"", "text/plain"  # (side_by_side said so once)
        connector = blocking.connector
        content_type = dict((k.lower(), v) for k, v in headers).get("content-type", "")
        source = MessageSource(body, content_type or "application/octet-stream", method, url,
                               headers)
        kind = connector.classify_webhook(source)
        if kind is WebhookKind.STATUS:
            status = blocking.receive_message_status(source)
            update = status.data
            if update is None:
                self.timeline.add("<- callback", "rejected", f"{name}: {status.error}", ok=False)
                return 403, b"", "text/plain"
            if update.status.is_final:
                self.timeline.finished(update.remote_message_id)
            self.timeline.add("<- callback", "status", f"{name}: {update.remote_message_id[:10]}… "
                              f"{update.provider_status} -> {update.status.name}",
                              ok=update.error is None)
        else:
            kind = WebhookKind.MESSAGE
            received = blocking.receive_messages(source)
            if received.data is None:
                self.timeline.add("<- inbound", "rejected", f"{name}: {received.error}",
                                  ok=False)
                return 403, b"", "text/plain"
            for message in received.data.messages:
                sender = message.sender.address if message.sender else "?"
                self.timeline.add("<- inbound", "inbound",
                                  f"{name}: from {sender}: {message.text!r}")
        reply = connector.webhook_reply(kind)
        return reply.status_code, reply.body, reply.content_type

    def shutdown(self) -> None:
        for connector in self.connectors.values():
            connector.shutdown()


def _endpoint(app: DemoApplication) -> tuple[ThreadingHTTPServer, str]:
    """The application's web server: ``/hooks/{provider}`` goes to ``app.handle_webhook``."""

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            name = self.path.split("?", 1)[0].removeprefix("/hooks/")
            status, reply, content_type = app.handle_webhook(
                name, self.command, f"{base_url}{self.path}", list(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    base_url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, name="demo-app", daemon=True).start()
    return server, base_url


def demo_sandboxes() -> list[tuple[str, Callable[[str], Any]]]:
    """The sandboxes installed providers offer (``ratatosk_register_demo_sandboxes``)."""
    offered: list[tuple[str, Callable[[str], Any]]] = []
    get_plugin_manager().hook.ratatosk_register_demo_sandboxes(
        register=lambda name, start: offered.append((str(name), start)))
    return sorted(offered, key=lambda item: item[0])


def side_by_side(timeline: Timeline, *, timeout: float = 15.0) -> None:
    """Run the same application against every provider's sandbox, side by side: send one SMS,
    receive its status updates and an inbound reply through the one endpoint."""
    offered = demo_sandboxes()
    app = DemoApplication(timeline)
    server, base_url = _endpoint(app)
    try:
        with contextlib.ExitStack() as stack:
            sandboxes, receiving = {}, set()
            for name, start in offered:
                sandboxes[name] = stack.enter_context(start(f"{base_url}/hooks/{name}"))
                if app.connect(name, sandboxes[name].dsn):
                    receiving.add(name)
            timeline.add("  app", "start", "one application, one webhook endpoint, providers: "
                         + ", ".join(sandboxes))
            for name in sorted(set(sandboxes) - receiving):
                timeline.add("  app", "note", f"{name}: this version of its connector receives "
                             "no webhooks; only the send is shown")
            sent = {name: app.send(name, box.sender, box.recipient, "Hello, same code")
                    for name, box in sandboxes.items()}
            for name in sorted(receiving):
                status = sandboxes[name].send_inbound("Same reply, any provider")
                timeline.add("  sandbox", "inbound", f"{name}: reply POSTed to the endpoint, "
                             f"HTTP {status}", ok=status == 200)
            waiting = [sid for name, sid in sent.items() if sid and name in receiving]
            deadline = time.monotonic() + timeout
            while not timeline.all_final(waiting) and time.monotonic() < deadline:
                time.sleep(0.05)
            for name, sid in sent.items():
                if sid and name in receiving and sid not in timeline.final:
                    timeline.add("<- callback", "missing", f"{name}: no final status for "
                                 f"{sid[:10]}…", ok=False)
    finally:
        server.shutdown()
        server.server_close()
        app.shutdown()


def _print(timeline: Timeline, out: Any) -> None:
    rows = [
        (f"{e.at:6.2f}s", e.direction, e.what, e.detail, "ok" if e.ok else "FAILED")
        for e in timeline.events
    ]
    headers = ("time", "direction", "event", "detail", "")
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # plain text without the optional `rich`
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), file=out)
        for row in rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)), file=out)
        return
    table = Table(title="Ratatosk demo: the life of a message (Twilio sandbox), then the same "
                  "application on every provider's sandbox")
    for h in headers:
        table.add_column(h)
    for row in rows:
        table.add_row(*row, style=None if row[-1] == "ok" else "red")
    Console(file=out, width=120).print(table)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--step-delay",
        type=float,
        default=0.15,
        help="seconds between status steps in the sandbox (default 0.15)",
    )
    parser.add_argument(
        "--timeout", type=float, default=15.0, help="how long to wait for callbacks (default 15 s)"
    )


def run(args: argparse.Namespace) -> int:
    return run_demo(step_delay=args.step_delay, timeout=args.timeout)
