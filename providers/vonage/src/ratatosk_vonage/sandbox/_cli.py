"""``main()``: run the sandbox in the foreground (``ratatosk vonage sandbox``)."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from ratatosk.provider import serve_in_foreground

from ._engine import PROGRESSION_MODES, SMS_WEBHOOK_METHODS
from ._numbers import ERRORS, MAGIC_ERRORS, PROGRESSIONS_BY_TO, SandboxError

if TYPE_CHECKING:
    from ._models import SandboxMessage
    from ._sandbox import VonageSandbox

__all__ = ["add_arguments", "banner", "build_parser", "configure", "dsn_for", "main", "run"]

_EXTRA = {
    "15550000013": " (WhatsApp: read after delivered)",
    "15550000014": " (every status webhook sent twice)",
    "15550000015": " (status webhooks newest first)",
    "15550000016": " (then the recipient replies STOP)",
}


def dsn_for(sandbox: VonageSandbox, connector: str = "messages") -> str:
    """A DSN for ``ratatosk.connect`` / ``ratatosk send --dsn`` / ``RATATOSK_DSN`` that points
    at ``sandbox``: ``vonage://KEY:SECRET@127.0.0.1:PORT?SignatureSecret=...&SignatureMethod=...``
    (the Messages API connector; ``connector="sms"`` gives ``vonage+sms://...``, the SMS API
    connector). A loopback ``host:port`` means ``http://``. The secrets are the sandbox's own."""
    if connector not in ("messages", "sms"):
        raise ValueError("connector must be 'messages' or 'sms'")
    scheme = "vonage" if connector == "messages" else "vonage+sms"
    user = f"{quote(sandbox.api_key, safe='')}:{quote(sandbox.api_secret, safe='')}"
    netloc = urlsplit(sandbox.base_url).netloc
    query = (f"SignatureSecret={quote(sandbox.signature_secret, safe='')}"
             f"&SignatureMethod={sandbox.signature_method}")
    return f"{scheme}://{user}@{netloc}?{query}"


def _refusal(error: SandboxError) -> str:
    return (f"Messages API {error.http_status} #{error.code} {error.title}; "
            f"SMS API status {error.sms_status} ({error.sms_error_text})")


def banner(sandbox: VonageSandbox) -> str:
    """What ``ratatosk vonage sandbox`` prints when it starts: where it listens, the (sandbox
    only) credentials, ready-to-paste settings and the magic numbers."""
    base = sandbox.base_url
    key, secret, signing = sandbox.api_key, sandbox.api_secret, sandbox.signature_secret
    lines = [
        f"Vonage sandbox (Messages API v1 and SMS API) listening on {base}",
        f"  Messages API:     POST {base}/v1/messages",
        f"  SMS API:          POST {base}/sms/json",
        f"  API key:          {key}",
        f"  API secret:       {secret}  (sandbox credentials: they work only against this "
        "sandbox, never against Vonage)",
        f"  Signature secret: {signing}  (signs the webhooks; method {sandbox.signature_method})",
        f"  Progression:      {sandbox.progression}"
        + ("  (move messages on: ratatosk vonage advance [ID])"
           if sandbox.progression == "manual" else ""),
        f"  Status webhooks:  {sandbox.status_webhook_url or '(only to the URL a message gives)'}",
        f"  Inbound webhooks: {sandbox.inbound_webhook_url or '(none)'}",
        "",
        "Settings for ratatosk send (paste in a shell):",
        f"  export VONAGE_API_KEY={shlex.quote(key)}",
        f"  export VONAGE_API_SECRET={shlex.quote(secret)}",
        f"  export VONAGE_SIGNATURE_SECRET={shlex.quote(signing)}",
        f"  export VONAGE_SIGNATURE_METHOD={shlex.quote(sandbox.signature_method)}",
        f"  export VONAGE_BASE_URL={shlex.quote(base)}",
        "  export RATATOSK_CONNECTOR=vonage/messages  # or vonage/sms, the SMS API",
        "or one DSN (ratatosk send --dsn, $RATATOSK_DSN, ratatosk.connect):",
        f"  export RATATOSK_DSN={shlex.quote(dsn_for(sandbox))}",
        f"  (the SMS API: {dsn_for(sandbox, 'sms')})",
        "An inbound message (with the settings above):",
        "  ratatosk vonage inbound --from 15551239999 --to 15551230000 --text STOP "
        "[--api sms] [--channel whatsapp]",
        "",
        "Magic numbers (to, digits):",
        *(f"  {number} -> refused: {_refusal(ERRORS[kind])}"
          for number, kind in MAGIC_ERRORS.items()),
        *(f"  {number} -> {' -> '.join(path)}{_EXTRA.get(number, '')}"
          for number, path in PROGRESSIONS_BY_TO.items()),
        "  any other number -> submitted -> delivered",
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
    "Run a local, Vonage-compatible server (Messages API v1 and SMS API) for development, demos "
    "and tests. Point a connector's BaseUrl at the printed address and use the printed "
    "(sandbox-only) credentials."
)


def build_parser(prog: str = "ratatosk vonage sandbox") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    return parser


def configure(parser: argparse.ArgumentParser) -> None:
    """``ratatosk vonage sandbox``: the sandbox's description and options."""
    parser.description = DESCRIPTION
    add_arguments(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sandbox's options (``ratatosk vonage sandbox`` and ``python -m``)."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=_port, default=0, help="port (default: a free one)")
    parser.add_argument("--api-key", help="API key to accept (default: generated)")
    parser.add_argument("--api-secret", help="API secret to accept (default: generated)")
    parser.add_argument("--signature-secret",
                        help="secret the webhooks are signed with (default: generated)")
    parser.add_argument("--signature-method", default="sha256",
                        choices=("md5", "sha1", "sha256", "sha512"),
                        help="HMAC of the SMS API's sig (default: sha256)")
    parser.add_argument("--progression", choices=PROGRESSION_MODES, default="realtime",
                        help="how messages move through their statuses (default: realtime)")
    parser.add_argument("--step-delay", type=float, default=0.5,
                        help="seconds between statuses in realtime mode")
    parser.add_argument("--status-webhook-url",
                        help="where status webhooks go when a message names no URL")
    parser.add_argument("--inbound-webhook-url",
                        help="where inbound messages (and STOP replies) go")
    parser.add_argument("--sms-webhook-method", choices=SMS_WEBHOOK_METHODS, default="POST",
                        help="how SMS API webhooks are sent (default: POST, a form)")
    parser.add_argument("--messages-per-second", type=float,
                        help="sends per second before answering 429 / SMS status 1")
    parser.add_argument("--duplicate-status-webhooks", action="store_true",
                        help="send every status webhook twice")
    parser.add_argument("--out-of-order-status-webhooks", action="store_true",
                        help="send each message's status webhooks newest first")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print every message and status change")


def _log_message(message: SandboxMessage) -> None:
    stamp = time.strftime("%H:%M:%S")
    text = message.text or ""
    text = text if len(text) <= 40 else text[:39] + "…"
    print(f"{stamp} {message.id} {message.api:<8} {message.direction:<8} "
          f"{message.status or '-':<13} {message.from_} -> {message.to} {text!r}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C or SIGTERM; 0 then, 1 when the server cannot start, 2 for a bad
    option value."""
    parser = build_parser()
    return run(parser.parse_args(argv), parser.prog)


def run(args: argparse.Namespace, prog: str = "ratatosk vonage sandbox") -> int:
    """Run the sandbox with parsed options (see ``add_arguments``) until Ctrl-C or SIGTERM."""
    from ._sandbox import VonageSandbox

    try:
        sandbox = VonageSandbox(
            args.host, args.port, api_key=args.api_key, api_secret=args.api_secret,
            signature_secret=args.signature_secret, signature_method=args.signature_method,
            progression=args.progression, step_delay=args.step_delay,
            status_webhook_url=args.status_webhook_url,
            inbound_webhook_url=args.inbound_webhook_url,
            sms_webhook_method=args.sms_webhook_method,
            messages_per_second=args.messages_per_second,
            duplicate_status_webhooks=args.duplicate_status_webhooks,
            out_of_order_status_webhooks=args.out_of_order_status_webhooks,
        )
    except ValueError as exc:
        print(f"{prog}: error: {exc} (see '{prog} --help')", file=sys.stderr)
        return 2
    if args.verbose:
        sandbox._engine.observer = _log_message
    return serve_in_foreground(sandbox, lambda: banner(sandbox),
                               where=f"{args.host}:{args.port}")
