"""``ratatosk vonage sandbox`` run as a user runs it, its banner and DSN, and the magic numbers
of docs/vonage-sandbox.md compared with the code."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import ratatosk
from ratatosk import MessageBuilder
from ratatosk_vonage.sandbox import (
    DELIVERED_TO,
    ERRORS,
    MAGIC_ERRORS,
    PROGRESSIONS_BY_TO,
    VonageSandbox,
    dsn_for,
)
from ratatosk_vonage.sandbox._cli import banner

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "vonage-sandbox.md"
RATATOSK = Path(sys.executable).with_name("ratatosk")


def _table(heading: str) -> list[list[str]]:
    """The rows of the first table after the line holding ``heading``."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if heading in line)
    rows = []
    for line in lines[start + 1:]:
        if line.startswith("|"):
            cells = [c.strip().strip("`") for c in line.strip("|").split("|")]
            if not set(cells[0]) <= {"-"}:
                rows.append(cells)
        elif rows:
            break
    return rows[1:]  # without the header


def test_the_refusal_table_matches_the_code() -> None:
    rows = _table("These are refused when sent")
    documented = {row[0]: row[1] for row in rows}
    assert documented == dict(MAGIC_ERRORS)
    for number, kind, messages, sms in rows:
        error = ERRORS[kind]
        assert messages.replace("`", "").startswith(f"{error.http_status} #{error.code}"), number
        assert sms == error.sms_status, number


def test_the_progression_table_matches_the_code() -> None:
    rows = _table("the codes are the sandbox's picks.)")
    documented = {row[0]: tuple(s.strip() for s in row[1].split(",")) for row in rows}
    assert documented == dict(PROGRESSIONS_BY_TO)
    assert DELIVERED_TO in documented


def test_the_error_kinds_are_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for kind in ERRORS:
        assert f"`{kind}`" in text, kind


def test_the_banner_has_ready_to_paste_settings_and_only_sandbox_secrets() -> None:
    with VonageSandbox(api_key="k3y", api_secret="s3cret", signature_secret="x" * 32) as sb:
        text = banner(sb)
        assert f"export VONAGE_BASE_URL={sb.base_url}" in text
        assert "export VONAGE_API_KEY=k3y" in text and "export VONAGE_API_SECRET=s3cret" in text
        assert f"export RATATOSK_DSN='{dsn_for(sb)}'" in text
        for number in (*MAGIC_ERRORS, *PROGRESSIONS_BY_TO):
            assert number in text
    assert dsn_for(sb) == (f"vonage://k3y:s3cret@127.0.0.1:{sb.port}?SignatureSecret={'x' * 32}"
                           "&SignatureMethod=sha256")
    assert dsn_for(sb, "sms").startswith("vonage+sms://k3y:s3cret@127.0.0.1:")


def test_the_command_serves_until_sigterm_and_its_dsn_sends() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RATATOSK_", "VONAGE_"))}
    process = subprocess.Popen(
        [str(RATATOSK), "vonage", "sandbox", "--progression", "immediate"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(lines)
        assert "Vonage sandbox (Messages API v1 and SMS API) listening on http://127.0.0.1:" \
            in text, text + (process.stderr.read() if process.poll() is not None else "")
        match = re.search(r"export RATATOSK_DSN='([^']+)'", text)
        assert match is not None
        connector = ratatosk.connect(match.group(1)).blocking()
        try:
            sent = connector.send_message(
                MessageBuilder().from_phone("+15551230000").to_phone("+15551239999")
                .with_text("from the CLI's DSN").build())
            assert sent.is_success, sent.error
        finally:
            connector.shutdown()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        assert "sandbox stopped" in out
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_a_bad_option_is_one_line_and_status_2() -> None:
    run = subprocess.run([str(RATATOSK), "vonage", "sandbox", "--messages-per-second", "0"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "ratatosk vonage sandbox: error: messages_per_second must be > 0 "
        "(see 'ratatosk vonage sandbox --help')"]
    assert "Traceback" not in run.stderr


def test_inbound_and_advance_commands_drive_a_running_sandbox() -> None:
    from test_vonage_sandbox_webhooks import Receiver

    receiver = Receiver()
    try:
        with VonageSandbox(progression="manual", status_webhook_url=f"{receiver.url}/status",
                           inbound_webhook_url=f"{receiver.url}/inbound") as sb:
            env = {**{k: v for k, v in os.environ.items()
                      if not k.startswith(("RATATOSK_", "VONAGE_"))},
                   "VONAGE_BASE_URL": sb.base_url, "VONAGE_API_KEY": sb.api_key,
                   "VONAGE_API_SECRET": sb.api_secret}
            run = subprocess.run(
                [str(RATATOSK), "vonage", "inbound", "--from", "+15551239999", "--to",
                 "15551230000", "--text", "STOP", "--channel", "whatsapp", "--profile-name",
                 "Ada"], capture_output=True, text=True, timeout=60, env=env)
            assert run.returncode == 0, run.stderr
            assert "delivered to " + receiver.url + "/inbound, HTTP 200" in run.stdout
            body = receiver.on("/inbound")[0].json()
            assert (body["text"], body["channel"], body["profile"]) == (
                "STOP", "whatsapp", {"name": "Ada"})
            sms = subprocess.run(
                [str(RATATOSK), "vonage", "inbound", "--from", "15551239999", "--to",
                 "15551230000", "--text", "x" * 200, "--api", "sms", "--json"],
                capture_output=True, text=True, timeout=60, env=env)
            assert sms.returncode == 0, sms.stderr
            assert len(json.loads(sms.stdout)["deliveries"]) == 2
            connector = ratatosk.connect(dsn_for(sb)).blocking()
            try:
                sent = connector.send_message(
                    MessageBuilder().from_phone("+15551230000").to_phone("+15551239999")
                    .with_text("x").build())
                assert sent.is_success
            finally:
                connector.shutdown()
            advance = [str(RATATOSK), "vonage", "advance"]
            first = subprocess.run(advance, capture_output=True, text=True, timeout=60, env=env)
            assert first.stdout.strip() == "1 message(s) moved one status on"
            sb.wait_for_callbacks(1)
            assert sent.data is not None
            subprocess.run([*advance, sent.data.remote_message_id], check=True,
                           capture_output=True, timeout=60, env=env)
            sb.wait_for_callbacks(2)
            sb.wait_until_idle()
            last = subprocess.run(advance, capture_output=True, text=True, timeout=60, env=env)
            assert last.stdout.strip() == "no message moved (none in flight)"
            wrong = subprocess.run(advance, capture_output=True, text=True, timeout=60,
                                   env={**env, "VONAGE_API_SECRET": "nope"})
            assert wrong.returncode == 1 and "refused the request (401)" in wrong.stderr
            unset = subprocess.run(advance, capture_output=True, text=True, timeout=60,
                                   env={k: v for k, v in env.items() if k != "VONAGE_API_KEY"})
            assert unset.returncode == 2 and "--api-key" in unset.stderr
    finally:
        receiver.close()


def test_the_control_routes_check_what_they_are_given() -> None:
    with VonageSandbox() as sb, httpx.Client(timeout=5, trust_env=False) as client:
        auth = (sb.api_key, sb.api_secret)
        url = f"{sb.base_url}/sandbox/inbound"
        assert client.post(url, json={"from": "1", "to": "2"}).status_code == 401
        missing = client.post(url, json={"to": "2", "text": 3}, auth=auth)
        assert missing.status_code == 422
        assert {p["name"] for p in missing.json()["invalid_parameters"]} == {"from", "text"}
        no_url = client.post(url, json={"from": "1", "to": "2"}, auth=auth)
        assert no_url.status_code == 422 and "inbound_webhook_url" in no_url.json()["detail"]
        assert client.post(url, content=b"[", auth=auth).status_code == 400
        assert client.get(url, auth=auth).status_code == 405


@pytest.mark.parametrize("connector", ["vonage/messages", "vonage/sms"])
def test_ratatosk_send_with_the_banners_variables(connector: str) -> None:
    with VonageSandbox() as sb:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("RATATOSK_", "VONAGE_", "TWILIO_"))}
        exports = dict(re.findall(r"export (VONAGE_\w+)=(\S+)", banner(sb)))
        env.update(exports, RATATOSK_CONNECTOR=connector)
        run = subprocess.run([str(RATATOSK), "send", "--to", "+15551239999", "--from",
                              "+15551230000", "--text", "from the environment", "--json"],
                             capture_output=True, text=True, timeout=60, env=env)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["ok"] is True
        (message,) = sb.messages
        assert message.text == "from the environment"
        assert message.api == connector.split("/")[1]
