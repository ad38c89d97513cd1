"""``ratatosk twilio inbound``: inject an inbound message into a running sandbox.

The sandbox (``ratatosk twilio sandbox``) delivers it to the webhook, signed as Twilio signs,
through its control route ``POST /sandbox/Accounts/{AccountSid}/Inbound.json``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode


def add_sandbox_arguments(parser: argparse.ArgumentParser) -> None:
    """``--sandbox-url``, ``--account-sid``, ``--auth-token`` (defaults: ``TWILIO_*``)."""
    parser.add_argument(
        "--sandbox-url",
        default=os.environ.get("TWILIO_BASE_URL"),
        help="the sandbox's base URL (default: $TWILIO_BASE_URL)",
    )
    parser.add_argument(
        "--account-sid",
        default=os.environ.get("TWILIO_ACCOUNT_SID"),
        help="the sandbox's Account SID (default: $TWILIO_ACCOUNT_SID)",
    )
    parser.add_argument(
        "--auth-token",
        default=os.environ.get("TWILIO_AUTH_TOKEN"),
        help="the sandbox's auth token (default: $TWILIO_AUTH_TOKEN)",
    )


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Send an inbound message from a running sandbox to a webhook, signed with "
        "X-Twilio-Signature as Twilio signs it."
    )
    add_sandbox_arguments(parser)
    parser.add_argument(
        "--from", dest="from_", required=True, help="sender (E.164 or whatsapp:+E164)"
    )
    parser.add_argument("--to", required=True, help="recipient: your number")
    parser.add_argument("--body", default="", help="message text")
    parser.add_argument(
        "--media",
        action="append",
        default=[],
        metavar="URL[,TYPE]",
        help="media URL with an optional content type (repeatable)",
    )
    parser.add_argument("--url", help="the webhook URL (default: the sandbox's inbound webhook)")
    parser.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="K=V",
        help="another webhook field, e.g. ProfileName=Ada (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print the sandbox's answer as JSON")


class _Usage(Exception):
    """Bad arguments: one ``PROG: error: ...`` line, exit status 2 (as docs/cli.md says)."""


def usage_error(prog: str, message: str) -> int:
    print(f"{prog}: error: {message} (see '{prog} --help')", file=sys.stderr)
    return 2


def post_control(
    args: argparse.Namespace, prog: str, route: str, form: list[tuple[str, str]],
    what: str = "the request",
) -> dict[str, Any] | int:
    """POST ``form`` to the sandbox's control route ``/sandbox/Accounts/{AccountSid}/ROUTE``;
    the JSON answer, or an exit status after printing one ``error:`` line."""
    missing = [
        flag
        for flag, value in (
            ("--sandbox-url", args.sandbox_url),
            ("--account-sid", args.account_sid),
            ("--auth-token", args.auth_token),
        )
        if not value
    ]
    if missing:
        return usage_error(
            prog,
            f"give {', '.join(missing)} (or set TWILIO_BASE_URL, TWILIO_ACCOUNT_SID, "
            "TWILIO_AUTH_TOKEN)",
        )
    url = f"{args.sandbox_url.rstrip('/')}/sandbox/Accounts/{args.account_sid}/{route}"
    credentials = base64.b64encode(f"{args.account_sid}:{args.auth_token}".encode()).decode()
    request = urllib.request.Request(
        url,
        data=urlencode(form).encode(),
        method="POST",
        headers={
            "Authorization": f"Basic {credentials}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("message", exc.reason)
        except ValueError:
            message = exc.reason
        print(f"error: the sandbox refused {what} ({exc.code}): {message}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        print(f"error: cannot reach the sandbox at {args.sandbox_url}: {reason}", file=sys.stderr)
        return 1
    return answer


def _form(args: argparse.Namespace) -> list[tuple[str, str]]:
    form = [("From", args.from_), ("To", args.to), ("Body", args.body)]
    if args.url:
        form.append(("Url", args.url))
    for item in args.media:
        url, _, content_type = item.partition(",")
        form.append(("MediaUrl", url))
        form.append(("MediaContentType", content_type or "image/jpeg"))
    for item in args.field:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise _Usage(f"--field expects K=V, got {name!r}")
        form.append((name, value))
    return form


def run(args: argparse.Namespace) -> int:
    prog = "ratatosk twilio inbound"
    try:
        form = _form(args)
    except _Usage as exc:
        return usage_error(prog, str(exc))
    answer = post_control(args, prog, "Inbound.json", form, "the message")
    if isinstance(answer, int):
        return answer
    if args.json:
        print(json.dumps(answer, indent=2))
    elif answer.get("error"):
        print(f"{answer['message_sid']}: the webhook {answer['url']} failed: {answer['error']}")
    else:
        print(
            f"{answer['message_sid']}: delivered to {answer['url']}, HTTP {answer['status_code']}"
        )
        for reply in answer.get("replies", []):
            print(f"  reply {reply['sid']} to {reply['to']}: {reply['body']!r}")
    status = answer.get("status_code")
    return 0 if not answer.get("error") and isinstance(status, int) and status < 400 else 1
