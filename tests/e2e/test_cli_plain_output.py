"""`ratatosk send --file` output without rich formatting when it is piped or NO_COLOR is set
(issue 12): no ANSI escapes, no box drawing, no carriage returns in a log; on a terminal (a
pseudo-terminal here) the rich table and bar stay, unless NO_COLOR is set."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ratatosk_twilio.sandbox import TwilioSandbox

RATATOSK = str(Path(sys.executable).parent / "ratatosk")
ESC = "\x1b["


@pytest.fixture
def sandbox() -> Iterator[TwilioSandbox]:
    with TwilioSandbox() as sb:
        yield sb


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "rows.csv"
    path.write_text("to,text\n" + "".join(f"+1555{i:07d},hi {i}\n" for i in range(20)))
    return path


def _args(sandbox: TwilioSandbox, path: Path) -> list[str]:
    dsn = f"twilio://{sandbox.account_sid}:{sandbox.auth_token}@{sandbox.base_url.split('://')[1]}"
    return [RATATOSK, "send", "--file", str(path), "--from", "+15005550006", "--dsn", dsn]


def _env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("TWILIO_", "RATATOSK_")) and k not in ("NO_COLOR", "FORCE_COLOR")}
    return {**base, "COLUMNS": "100", **extra}


def _plain(text: str) -> None:
    assert ESC not in text and "\r" not in text
    assert not any(ch in text for ch in "┏━┃│└─"), text


def test_piped_output_is_plain_text(sandbox: TwilioSandbox, tmp_path: Path) -> None:
    run = subprocess.run(_args(sandbox, _file(tmp_path)), capture_output=True, text=True,
                         env=_env(), cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    _plain(run.stdout)
    _plain(run.stderr)
    assert "sent" in run.stdout and "20" in run.stdout and "report:" in run.stdout
    assert "sent 20" in run.stderr


def _on_a_terminal(args: list[str], env: dict[str, str], cwd: Path) -> str:
    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, stdout=follower, stderr=follower, stdin=subprocess.DEVNULL,
                            env=env, cwd=cwd)
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the command is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=120)
    os.close(leader)
    assert proc.returncode == 0
    return b"".join(chunks).decode("utf-8", "replace")


def test_a_terminal_gets_rich_output_unless_no_color(sandbox: TwilioSandbox,
                                                     tmp_path: Path) -> None:
    path = _file(tmp_path)
    rich = _on_a_terminal([*_args(sandbox, path), "--report", "a.jsonl"], _env(), tmp_path)
    assert "━" in rich or "┏" in rich or "─" in rich  # the summary table is drawn
    plain = _on_a_terminal([*_args(sandbox, path), "--report", "b.jsonl"],
                           _env(NO_COLOR="1"), tmp_path)
    assert ESC not in plain
    assert not any(ch in plain for ch in "┏━┃└")
    assert "report:" in plain
