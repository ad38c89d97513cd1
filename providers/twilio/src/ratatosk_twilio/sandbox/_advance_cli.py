"""``ratatosk twilio advance``: move messages of a running sandbox on their way.

What ``ratatosk twilio sandbox --progression manual`` waits for (it works in the other
progressions too). Talks to the sandbox's control route
``POST /sandbox/Accounts/{AccountSid}/Advance.json``.
"""

from __future__ import annotations

import argparse
import json

from ._inbound_cli import add_sandbox_arguments, post_control

PROG = "ratatosk twilio advance"
STATUSES = ("queued", "sending", "sent", "delivered", "undelivered", "failed", "read")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Move a message of a running sandbox (or every message in flight) one status on, or on "
        "to a given status, sending its status callbacks on the way."
    )
    parser.add_argument(
        "sid", nargs="?", help="the message's SID (SM...); default: every message in flight"
    )
    parser.add_argument(
        "--to",
        dest="status",
        choices=STATUSES,
        type=str.lower,
        help="go on until this status (e.g. delivered); default: one step",
    )
    add_sandbox_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the sandbox's answer as JSON")


def run(args: argparse.Namespace) -> int:
    form = [("MessageSid", args.sid)] if args.sid else []
    if args.status:
        form.append(("To", args.status))
    answer = post_control(args, PROG, "Advance.json", form, "to advance")
    if isinstance(answer, int):
        return answer
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    if not answer["messages"]:
        print("no message moved (none in flight)")
    for message in answer["messages"]:
        error = f" (error {message['error_code']})" if message.get("error_code") else ""
        final = "" if message["in_flight"] else ", final"
        print(f"{message['sid']}: {message['status']}{error}{final}")
    return 0
