"""The sandbox for a newcomer: a banner with ready-to-paste settings and the magic numbers, and
``ratatosk twilio advance`` moving ``--progression manual`` messages from the command line."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import ratatosk
from ratatosk import ConnectionSettings
from ratatosk_twilio.sandbox import (
    DUPLICATE_CALLBACKS_TO,
    FAILED_TO,
    MAGIC_FROM,
    MAGIC_TO,
    OUT_OF_ORDER_TO,
    READ_TO,
    STOP_REPLY_TO,
    UNDELIVERED_TO,
    TwilioSandbox,
)
from ratatosk_twilio.sandbox._cli import banner, dsn_for

RATATOSK = shutil.which("ratatosk", path=str(Path(sys.executable).parent)) or "ratatosk"
DOCS = Path(__file__).resolve().parents[2] / "docs"


def _clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "RATATOSK_"))}
    return {**base, **(extra or {})}


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RATATOSK, *args], capture_output=True, text=True, timeout=120,
                          env=_clean_env(env))


@pytest.fixture
def manual() -> Iterator[TwilioSandbox]:
    with TwilioSandbox(progression="manual") as sb:
        yield sb


def _create(sb: TwilioSandbox, to: str = "+15550002222", from_: str = "+15005550006") -> str:
    response = httpx.post(f"{sb.base_url}/2010-04-01/Accounts/{sb.account_sid}/Messages.json",
                          data={"To": to, "From": from_, "Body": "hi"},
                          auth=(sb.account_sid, sb.auth_token))
    assert response.status_code == 201, response.text
    sid: str = response.json()["sid"]
    return sid


def _env(sb: TwilioSandbox) -> dict[str, str]:
    return {"TWILIO_BASE_URL": sb.base_url, "TWILIO_ACCOUNT_SID": sb.account_sid,
            "TWILIO_AUTH_TOKEN": sb.auth_token}


def _status(sb: TwilioSandbox, sid: str) -> str:
    message = sb.get_message(sid)
    assert message is not None
    return message.status


# -- the banner ---------------------------------------------------------------------------------


def _exports(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            [found[name]] = shlex.split(value, comments=True)
    return found


def test_the_banner_prints_settings_that_work_as_pasted() -> None:
    process = subprocess.Popen(
        [RATATOSK, "twilio", "sandbox", "--progression", "manual"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=_clean_env({"PYTHONUNBUFFERED": "1"}),
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("Press Ctrl-C"):
            line = process.stdout.readline()
            assert line, "the sandbox stopped before its banner ended"
            lines.append(line.rstrip("\n"))
        text = "\n".join(lines)
        exports = _exports(text)
        assert set(exports) == {"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_BASE_URL",
                                "RATATOSK_CONNECTOR", "RATATOSK_DSN"}
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", exports["TWILIO_BASE_URL"])
        assert "ratatosk twilio advance" in text  # how a manual sandbox moves on
        assert "client.api.base_url = " in text  # twilio-python
        for number in (UNDELIVERED_TO, FAILED_TO, READ_TO, DUPLICATE_CALLBACKS_TO, OUT_OF_ORDER_TO,
                   STOP_REPLY_TO, *MAGIC_TO, *MAGIC_FROM):
            assert number in text, number
        # the lines as pasted: with a second provider installed (Vonage) the banner's
        # RATATOSK_CONNECTOR names the connector the TWILIO_* variables are for
        twilio_env = {k: v for k, v in exports.items() if k != "RATATOSK_DSN"}
        # the TWILIO_* variables work for ratatosk send ...
        sent = _run("send", "--to", "+15550002222", "--from", "+15005550006", "--text", "a",
                    "--json", env=twilio_env)
        assert sent.returncode == 0, sent.stderr
        sid = json.loads(sent.stdout)["remote_message_id"]
        # ... and so does the DSN alone
        by_dsn = _run("send", "--to", "+15550002222", "--from", "+15005550006", "--text", "b",
                      env={"RATATOSK_DSN": exports["RATATOSK_DSN"]})
        assert by_dsn.returncode == 0, by_dsn.stderr
        # the manual sandbox waits; ratatosk twilio advance moves the message on
        status = _run("status", sid, env=twilio_env)
        assert status.returncode == 0 and ": QUEUED (queued)" in status.stdout
        advanced = _run("twilio", "advance", sid, "--to", "delivered", env=twilio_env)
        assert advanced.returncode == 0, advanced.stderr
        assert advanced.stdout.strip() == f"{sid}: delivered, final"
        status = _run("status", sid, "--json", env={"RATATOSK_DSN": exports["RATATOSK_DSN"]})
        assert json.loads(status.stdout)["status"] == "delivered"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert exports["TWILIO_AUTH_TOKEN"] not in sent.stdout + sent.stderr


def test_the_banner_of_a_sandbox_behind_another_url_puts_it_in_baseurl() -> None:
    with TwilioSandbox(public_base_url="https://sandbox.example.test/twilio") as sb:
        dsn = dsn_for(sb)
        assert dsn.startswith(f"twilio://{sb.account_sid}:{sb.auth_token}@default?BaseUrl=")
        assert dsn in banner(sb)
        settings = ConnectionSettings.from_dsn(dsn, principal="AccountSid",
                                               credential="AuthToken")
        assert settings.get_parameter("BaseUrl") == "https://sandbox.example.test/twilio"
        assert settings.get_parameter("AuthToken") == sb.auth_token
    with TwilioSandbox() as sb:
        sent = ratatosk.connect(dsn_for(sb)).blocking().send_message(
            ratatosk.MessageBuilder().from_phone("+15005550006").to_phone("+15550002222")
            .with_text("by DSN").build())
        assert sent.is_success and sb.messages[0].body == "by DSN"


def test_the_magic_numbers_are_documented() -> None:
    text = (DOCS / "twilio.md").read_text()
    section = text.split("### Magic numbers", 1)[1]
    for number in (UNDELIVERED_TO, FAILED_TO, READ_TO, DUPLICATE_CALLBACKS_TO, OUT_OF_ORDER_TO,
                   STOP_REPLY_TO, *MAGIC_TO, *MAGIC_FROM):
        assert number in section, number
    for code in (*MAGIC_TO.values(), *MAGIC_FROM.values(), 30003, 30006):
        assert str(code) in section, code
    assert "client.api.base_url" in text and "ratatosk twilio advance" in text


# -- the control route --------------------------------------------------------------------------


def _advance(sb: TwilioSandbox, **form: str) -> httpx.Response:
    return httpx.post(f"{sb.base_url}/sandbox/Accounts/{sb.account_sid}/Advance.json",
                      data=form, auth=(sb.account_sid, sb.auth_token))


def test_advance_moves_one_step_or_on_to_a_status(manual: TwilioSandbox) -> None:
    sid = _create(manual)
    other = _create(manual, to="+15550003333")
    assert _status(manual, sid) == "queued"
    one = _advance(manual, MessageSid=sid)
    assert one.status_code == 200
    assert one.json()["messages"] == [{"sid": sid, "to": "+15550002222", "status": "sending",
                                       "error_code": None, "in_flight": True}]
    assert _status(manual, other) == "queued"  # only the message named
    to_delivered = _advance(manual, MessageSid=sid, To="delivered").json()
    assert to_delivered["messages"][0]["status"] == "delivered"
    assert not to_delivered["messages"][0]["in_flight"]
    every = _advance(manual).json()  # every message in flight, one step
    assert [m["sid"] for m in every["messages"]] == [other]
    assert _status(manual, other) == "sending"


def test_advance_to_a_failure_carries_its_error_code(manual: TwilioSandbox) -> None:
    sid = _create(manual, to=UNDELIVERED_TO)
    answer = _advance(manual, MessageSid=sid, To="undelivered").json()
    assert answer["messages"][0]["error_code"] == 30003


def test_advance_refuses_a_status_that_is_not_ahead(manual: TwilioSandbox) -> None:
    sid = _create(manual, to=FAILED_TO)
    refused = _advance(manual, MessageSid=sid, To="delivered")
    assert refused.status_code == 400 and refused.json()["code"] == 20001
    assert "statuses ahead: failed" in refused.json()["message"]
    assert _status(manual, sid) == "queued"  # nothing moved
    unknown = _advance(manual, MessageSid="SM" + "0" * 32)
    assert unknown.status_code == 404
    no_auth = httpx.post(f"{manual.base_url}/sandbox/Accounts/{manual.account_sid}/Advance.json")
    assert no_auth.status_code == 401
    assert httpx.get(f"{manual.base_url}/sandbox/Accounts/{manual.account_sid}/Advance.json",
                     auth=(manual.account_sid, manual.auth_token)).status_code == 405


def test_the_advance_command(manual: TwilioSandbox) -> None:
    env = _env(manual)
    sid = _create(manual, to=FAILED_TO)
    refused = _run("twilio", "advance", sid, "--to", "delivered", env=env)
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert line.startswith("error: ") and "statuses ahead: failed" in line
    moved = _run("twilio", "advance", "--json", env=env)
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout)["messages"][0]["status"] == "failed"
    idle = _run("twilio", "advance", env=env)
    assert idle.returncode == 0 and "no message moved" in idle.stdout
    wrong = _run("twilio", "advance", "--to", "someday", env=env)
    assert wrong.returncode == 2 and "invalid choice" in wrong.stderr
    assert manual.auth_token not in refused.stderr + moved.stdout


def test_advance_to_from_python(manual: TwilioSandbox) -> None:
    sid = _create(manual, to="whatsapp:" + READ_TO, from_="whatsapp:+15005550006")
    assert manual.advance(sid, to="Read") == 1
    message = manual.get_message(sid)
    assert message is not None and message.status == "read"
    with pytest.raises(ValueError, match="no status is ahead"):
        manual.advance(sid, to="delivered")
    with pytest.raises(LookupError):
        manual.advance("SM" + "0" * 32, to="sent")
    with pytest.raises(TypeError):
        manual.advance(to="sent")
