"""``main()``: run the sandbox in the foreground (``ratatosk twilio sandbox``)."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from urllib.parse import quote, urlsplit

from ratatosk.provider import serve_in_foreground

from ._api import MAGIC_FROM, MAGIC_TO
from ._engine import (
    DUPLICATE_CALLBACKS_TO,
    FAILED_TO,
    OUT_OF_ORDER_TO,
    POOL_NUMBER,
    PROGRESSIONS,
    READ_TO,
    STOP_REPLY_TO,
    UNDELIVERED_TO,
)
from ._errors import catalogue_message
from ._sandbox import TwilioSandbox
from ._store import MessageRecord

__all__ = ["add_arguments", "banner", "build_parser", "configure", "dsn_for", "main", "run"]

_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def dsn_for(sandbox: TwilioSandbox) -> str:
    """A DSN for ``ratatosk send --dsn`` / ``RATATOSK_DSN`` / ``ratatosk.connect`` that points at
    ``sandbox`` (a loopback ``host:port`` means ``http://``; any other base URL goes in
    ``BaseUrl``)."""
    user = f"{quote(sandbox.account_sid, safe='')}:{quote(sandbox.auth_token, safe='')}"
    parts = urlsplit(sandbox.base_url)
    host = parts.hostname or ""
    if parts.scheme == "http" and host in _LOOPBACK and parts.path in ("", "/"):
        return f"twilio://{user}@{parts.netloc}"
    if parts.scheme == "https" and host not in _LOOPBACK and parts.path in ("", "/"):
        return f"twilio://{user}@{parts.netloc}"
    return f"twilio://{user}@default?BaseUrl={quote(sandbox.base_url, safe='')}"


def banner(sandbox: TwilioSandbox) -> str:
    """What ``ratatosk twilio sandbox`` prints when it starts: where it listens, the credentials,
    ready-to-paste settings, twilio-python set-up and the magic numbers."""
    base = sandbox.base_url
    sid, token = sandbox.account_sid, sandbox.auth_token
    manual = sandbox.progression == "manual"
    lines = [
        f"Twilio sandbox (Messages API 2010-04-01) listening on {base}",
        f"  Base URL:    {base}",
        f"  Account SID: {sid}",
        f"  Auth token:  {token}  (a sandbox token: it works only against this sandbox, never "
        "against Twilio)",
        f"  Progression: {sandbox.progression}"
        + ("  (move messages on: ratatosk twilio advance [SM...] [--to delivered])"
           if manual else ""),
        "",
        "Settings for ratatosk send/status, ratatosk twilio inbound/advance (paste in a shell):",
        f"  export TWILIO_ACCOUNT_SID={shlex.quote(sid)}",
        f"  export TWILIO_AUTH_TOKEN={shlex.quote(token)}",
        f"  export TWILIO_BASE_URL={shlex.quote(base)}",
        "  export RATATOSK_CONNECTOR=twilio/sms  # the connector, when several providers are "
        "installed",
        "or one DSN (ratatosk send --dsn, $RATATOSK_DSN, ratatosk.connect):",
        f"  export RATATOSK_DSN={shlex.quote(dsn_for(sandbox))}",
        "twilio-python:",
        f"  client = Client({sid!r}, {token!r}); client.api.base_url = {base!r}",
        "",
        "Magic numbers:",
        f"  To {UNDELIVERED_TO} -> sent, then undelivered "
        f"(30003 {catalogue_message(30003)})",
        f"  To {FAILED_TO} -> failed (30006 {catalogue_message(30006)})",
        f"  To whatsapp:{READ_TO} -> delivered, then read",
        f"  To {DUPLICATE_CALLBACKS_TO} -> every status callback twice",
        f"  To {OUT_OF_ORDER_TO} -> status callbacks in reverse order",
        f"  To {STOP_REPLY_TO} -> delivered, then the recipient replies STOP (later sends: 21610)",
        *(f"  To {number} -> refused: {code} {catalogue_message(code)}"
          for number, code in MAGIC_TO.items()),
        *(f"  From {number} -> refused: {code} {catalogue_message(code)}"
          for number, code in MAGIC_FROM.items()),
        f"  any other To -> delivered; no From with a Messaging Service -> From {POOL_NUMBER}",
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535 (0: a free one), got {port}")
    return port


DESCRIPTION = (
    "Run a local, Twilio-compatible Messages API server for development, demos and tests. Point "
    "a client's base URL at the printed address and use the printed credentials."
)


def build_parser(prog: str = "ratatosk twilio sandbox") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    return parser


def configure(parser: argparse.ArgumentParser) -> None:
    """``ratatosk twilio sandbox``: the sandbox's description and options."""
    parser.description = DESCRIPTION
    add_arguments(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sandbox's options (``ratatosk twilio sandbox`` and ``python -m``)."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=_port, default=0, help="port (default: a free one)")
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


def _log_message(record: MessageRecord) -> None:
    stamp = time.strftime("%H:%M:%S")
    body = record.body if len(record.body) <= 40 else record.body[:39] + "…"
    print(
        f"{stamp} {record.sid} {record.direction:<14} {record.status:<11} "
        f"{record.from_ or '-'} -> {record.to} {body!r}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C or SIGTERM; 0 then, 1 when the server cannot start, 2 for a bad
    option value."""
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace, prog: str = "ratatosk twilio sandbox") -> int:
    """Run the sandbox with parsed options (see ``add_arguments``) until Ctrl-C or SIGTERM."""
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
    except ValueError as exc:  # a bad option value: one line and status 2, as docs/cli.md says
        print(f"{prog}: error: {exc} (see '{prog} --help')", file=sys.stderr)
        return 2
    if args.verbose:
        sandbox._engine.observer = _log_message
    return serve_in_foreground(sandbox, lambda: banner(sandbox),
                               where=f"{args.host}:{args.port}")
