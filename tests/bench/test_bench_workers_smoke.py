"""bench/bench_workers.py runs end to end against the real RabbitMQ, PostgreSQL and Celery workers
(a smoke test on a few messages): it checks the counts, and that two Celery workers sharing one
rate limit in Redis send within 5% of it at the provider. Throughput timings are not judged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def test_the_worker_benchmark_accounts_for_every_message(tmp_path: Path) -> None:
    out = tmp_path / "workers.json"
    done = subprocess.run(  # exit 1 when the limit is off by more than 5%: shown below
        [sys.executable, str(ROOT / "bench" / "bench_workers.py"), "--messages", "30",
         "--limited-messages", "50", "--rate", "5", "--window", "2", "--json", str(out)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 2+: it crashed
    report = json.loads(out.read_text())
    assert report["one_worker_msgs_per_s"] > 0 and report["two_workers_msgs_per_s"] > 0
    killed = report["sigkill"]
    assert killed["sent_twice"] == 0 and killed["lost"] == 0
    assert killed["in_ledger"] == 30
    assert sum(killed["ledger"].values()) == 30
    assert "MET" in done.stdout and "2 workers" in done.stdout
    # two workers on RabbitMQ, one Redis limit of 5/s (a 2 s moving window, so a worker's
    # short stall is made up within the window): the provider saw it within 5%. The workers
    # can each send about 40/s, so the limit, not their speed, sets the pace.
    limited = report["shared_limit"]
    assert abs(limited["ratio"] - 1) <= 0.05, limited
    assert done.returncode == 0, done.stdout
