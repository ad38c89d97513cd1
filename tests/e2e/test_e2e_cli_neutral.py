"""`ratatosk send` / `status` speak in neutral terms: the provider's message id (not a "SID") and
a sender that may be an alphanumeric name, run as a user runs them against the Twilio sandbox."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ratatosk_twilio.sandbox import TwilioSandbox

RATATOSK = shutil.which("ratatosk", path=str(Path(sys.executable).parent)) or "ratatosk"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[TwilioSandbox]:
    with TwilioSandbox(progression="immediate") as sb:
        yield sb


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "RATATOSK_"))}
    return subprocess.run([RATATOSK, *args], capture_output=True, text=True, timeout=120, env=env)


def _dsn(sb: TwilioSandbox) -> str:
    return f"twilio://{sb.account_sid}:{sb.auth_token}@{sb.base_url.split('://', 1)[1]}"


def test_an_alphanumeric_sender_and_the_message_id(sandbox: TwilioSandbox) -> None:
    run = _run("send", "--to", "+15550002222", "--from", "Acme", "--text", "Hi from a name",
               "--dsn", _dsn(sandbox), "--json")
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["ok"] is True and "sid" not in payload
    remote_id = payload["remote_message_id"]
    assert sandbox.get_message(remote_id).from_ == "Acme"
    status = _run("status", remote_id, "--dsn", _dsn(sandbox))
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith(f"{remote_id}: ")


def test_help_speaks_of_message_ids_and_sender_names() -> None:
    send = " ".join(_run("send", "--help").stdout.split())
    assert "alphanumeric sender name" in send and "--from SENDER" in send
    status = _run("status", "--help").stdout
    assert "MESSAGE_ID" in status and "SID" not in status
    missing = _run("status")
    assert missing.returncode == 2 and "MESSAGE_ID" in missing.stderr
