"""``main()``: run the sandbox in the foreground (``ratatosk twilio sandbox``)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from types import FrameType

from ._engine import PROGRESSIONS
from ._sandbox import TwilioSandbox
from ._store import MessageRecord

__all__ = ["build_parser", "main"]


def build_parser(prog: str = "ratatosk twilio sandbox") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run a local, Twilio-compatible Messages API server for development, demos "
        "and tests. Point a client's base URL at the printed address and use the printed "
        "credentials.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--account-sid", help="Account SID to accept (default: generated)")
    parser.add_argument("--auth-token", help="auth token to accept (default: generated)")
    parser.add_argument(
        "--progression",
        choices=PROGRESSIONS,
        default="realtime",
        help="how messages move through their statuses (default: realtime)",
    )
    parser.add_argument(
        "--step-delay", type=float, default=0.5, help="seconds between statuses in realtime mode"
    )
    parser.add_argument("--inbound-webhook-url", help="default URL for inbound messages")
    parser.add_argument(
        "--messages-per-second", type=float, help="segments per second each sender may send"
    )
    parser.add_argument(
        "--max-concurrency", type=int, help="concurrent creates before answering 429"
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds to delay every API answer"
    )
    parser.add_argument("--public-base-url", help="base URL to print instead of the bound one")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print every message and status change"
    )
    return parser


def _log_message(record: MessageRecord) -> None:
    stamp = time.strftime("%H:%M:%S")
    body = record.body if len(record.body) <= 40 else record.body[:39] + "…"
    print(
        f"{stamp} {record.sid} {record.direction:<14} {record.status:<11} "
        f"{record.from_ or '-'} -> {record.to} {body!r}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C or SIGTERM; 0 then, 1 when the server cannot start."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        sandbox = TwilioSandbox(
            args.host,
            args.port,
            account_sid=args.account_sid,
            auth_token=args.auth_token,
            progression=args.progression,
            step_delay=args.step_delay,
            inbound_webhook_url=args.inbound_webhook_url,
            messages_per_second=args.messages_per_second,
            max_concurrency=args.max_concurrency,
            public_base_url=args.public_base_url,
            latency=args.latency,
        )
    except ValueError as exc:
        parser.error(str(exc))
    if args.verbose:
        sandbox._engine.observer = _log_message
    try:
        sandbox.start()
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        print(f"Twilio sandbox (Messages API 2010-04-01) listening on {sandbox.base_url}")
        print(f"  Base URL:    {sandbox.base_url}")
        print(f"  Account SID: {sandbox.account_sid}")
        print(
            f"  Auth token:  {sandbox.auth_token}  (a sandbox token: it works only against "
            "this sandbox, never against Twilio)"
        )
        print(f"  Progression: {sandbox.progression}")
        print("Press Ctrl-C to stop.", flush=True)
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sandbox.stop()
    print("sandbox stopped", flush=True)
    return 0
