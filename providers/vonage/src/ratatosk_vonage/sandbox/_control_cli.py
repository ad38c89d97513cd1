"""``ratatosk vonage inbound`` and ``ratatosk vonage advance``: drive a running sandbox.

They POST to its control routes (``/sandbox/inbound``, ``/sandbox/advance``; JSON, HTTP Basic
with the sandbox's API key and secret), found through ``--sandbox-url``/``--api-key``/
``--api-secret`` or ``VONAGE_BASE_URL``/``VONAGE_API_KEY``/``VONAGE_API_SECRET`` (what the
sandbox's banner exports).
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


def _sandbox_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sandbox-url", default=os.environ.get("VONAGE_BASE_URL"),
                        help="the sandbox's base URL (default: $VONAGE_BASE_URL)")
    parser.add_argument("--api-key", default=os.environ.get("VONAGE_API_KEY"),
                        help="the sandbox's API key (default: $VONAGE_API_KEY)")
    parser.add_argument("--api-secret", default=os.environ.get("VONAGE_API_SECRET"),
                        help="the sandbox's API secret (default: $VONAGE_API_SECRET)")
    parser.add_argument("--json", action="store_true", help="print the sandbox's answer as JSON")


def configure_inbound(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Make a running Vonage sandbox send a signed inbound message to a "
                          "webhook (Messages API JSON with a JWT, or SMS API fields with sig).")
    parser.add_argument("--from", dest="from_", required=True, help="sender (E.164)")
    parser.add_argument("--to", required=True, help="recipient: your number")
    parser.add_argument("--text", default="", help="message text (STOP, a reply, ...)")
    parser.add_argument("--api", choices=("messages", "sms"), default="messages",
                        help="which API's inbound format (default: messages)")
    parser.add_argument("--channel", default="sms",
                        help="Messages API channel: sms, mms, whatsapp, ... (default: sms)")
    parser.add_argument("--profile-name", help="WhatsApp profile name")
    parser.add_argument("--url", help="the webhook URL (default: the sandbox's inbound URL)")
    _sandbox_arguments(parser)


def configure_advance(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Move a message of a running Vonage sandbox (or every message in "
                          "flight) one status on, sending its status webhooks.")
    parser.add_argument("message_id", nargs="?",
                        help="message_uuid or SMS message-id (default: every message in flight)")
    _sandbox_arguments(parser)


def _post(args: argparse.Namespace, prog: str, route: str,
          payload: dict[str, Any]) -> dict[str, Any] | int:
    missing = [flag for flag, value in (("--sandbox-url", args.sandbox_url),
                                        ("--api-key", args.api_key),
                                        ("--api-secret", args.api_secret)) if not value]
    if missing:
        print(f"{prog}: error: give {', '.join(missing)} (or set VONAGE_BASE_URL, "
              f"VONAGE_API_KEY, VONAGE_API_SECRET) (see '{prog} --help')", file=sys.stderr)
        return 2
    credentials = base64.b64encode(f"{args.api_key}:{args.api_secret}".encode()).decode()
    request = urllib.request.Request(
        f"{args.sandbox_url.rstrip('/')}/sandbox/{route}", data=json.dumps(payload).encode(),
        method="POST", headers={"Authorization": f"Basic {credentials}",
                                "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("detail", exc.reason)
        except ValueError:
            detail = exc.reason
        print(f"error: the sandbox refused the request ({exc.code}): {detail}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        print(f"error: cannot reach the sandbox at {args.sandbox_url}: {reason}", file=sys.stderr)
        return 1
    return answer


def run_inbound(args: argparse.Namespace) -> int:
    payload: dict[str, Any] = {"from": args.from_, "to": args.to, "text": args.text,
                               "api": args.api, "channel": args.channel}
    for name in ("profile_name", "url"):
        if getattr(args, name):
            payload[name] = getattr(args, name)
    answer = _post(args, "ratatosk vonage inbound", "inbound", payload)
    if isinstance(answer, int):
        return answer
    if args.json:
        print(json.dumps(answer, indent=2))
    ok = True
    for delivery in answer["deliveries"]:
        status = delivery["status_code"]
        good = delivery["error"] is None and isinstance(status, int) and status < 400
        ok = ok and good
        if not args.json:
            what = f"HTTP {status}" if good else f"failed: {delivery['error']}"
            print(f"{delivery['message_id']}: delivered to {delivery['url']}, {what}")
    return 0 if ok else 1


def run_advance(args: argparse.Namespace) -> int:
    payload = {"message_id": args.message_id} if args.message_id else {}
    answer = _post(args, "ratatosk vonage advance", "advance", payload)
    if isinstance(answer, int):
        return answer
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print(f"{answer['moved']} message(s) moved one status on" if answer["moved"]
              else "no message moved (none in flight)")
    return 0
