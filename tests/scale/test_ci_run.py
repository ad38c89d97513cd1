"""`.ci/run`: it checks the services the tests need, starts one that is down, never passes a run
that ran no test. Real services are checked for real; a service that is down is played by stand-in
`redis-cli`/`redis-server` commands put first on PATH (the real servers stay untouched)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

REDIS_START = ("--daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save  --appendonly no "
               "--dir /var/lib/redis --logfile /var/log/redis/ci.log")


def _script(path: Path, body: str) -> None:
    path.write_text("#!/usr/bin/env bash\n" + body, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def run_ci(tmp_path: Path, *, tests_exit: int, fakes: dict[str, str] | None = None,
           wait: int = 90) -> subprocess.CompletedProcess[str]:
    """Run a copy of .ci/run whose `python3` (the test run) just exits ``tests_exit``."""
    repo = tmp_path / "repo"
    (repo / ".ci").mkdir(parents=True)
    shutil.copy(ROOT / ".ci" / "run", repo / ".ci" / "run")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _script(bin_dir / "python3",
            f'echo "tests ran: $*" > "{tmp_path}/tests-ran"\nexit {tests_exit}\n')
    for name, body in (fakes or {}).items():
        _script(bin_dir / name, body)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               SERVICE_WAIT_SECONDS=str(wait))
    return subprocess.run(["bash", str(repo / ".ci" / "run")], env=env, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_with_every_service_up_it_runs_the_tests_and_passes_their_exit_code(
    tmp_path: Path,
) -> None:
    ok = run_ci(tmp_path / "ok", tests_exit=0)
    assert ok.returncode == 0, ok.stderr
    for service in ("postgres", "redis", "rabbitmq"):
        assert f"ci: {service} answers" in ok.stdout
    assert "starting" not in ok.stderr  # idempotent: nothing was started
    assert (tmp_path / "ok" / "tests-ran").read_text() == "tests ran: dev.py test\n"
    failed = run_ci(tmp_path / "failed", tests_exit=1)
    assert failed.returncode == 1


@pytest.mark.slow
def test_a_run_that_collected_no_test_fails(tmp_path: Path) -> None:
    run = run_ci(tmp_path, tests_exit=5)
    assert run.returncode == 1
    assert "ran no test" in run.stderr


@pytest.mark.slow
def test_a_service_that_does_not_answer_is_started_with_the_machine_command(
    tmp_path: Path,
) -> None:
    up = tmp_path / "redis-up"
    run = run_ci(tmp_path, tests_exit=0, fakes={
        "redis-cli": f'[ -e "{up}" ] && echo PONG || exit 1\n',
        "redis-server": f'echo "$*" > "{tmp_path}/redis-server-args"\ntouch "{up}"\n',
    })
    assert run.returncode == 0, run.stderr
    assert "ci: redis does not answer; starting it" in run.stderr
    assert "ci: redis started and answers" in run.stdout
    assert (tmp_path / "redis-server-args").read_text().strip() == REDIS_START
    assert (tmp_path / "tests-ran").exists()


@pytest.mark.slow
def test_a_service_that_cannot_start_fails_loudly_before_the_tests(tmp_path: Path) -> None:
    run = run_ci(tmp_path, tests_exit=0, wait=2, fakes={
        "redis-cli": "exit 1\n",
        "redis-server": "echo 'cannot start' >&2; exit 1\n",
    })
    assert run.returncode == 1
    assert "ci: ERROR: redis did not answer within 2s" in run.stderr
    assert "not running the tests" in run.stderr
    assert not (tmp_path / "tests-ran").exists()
