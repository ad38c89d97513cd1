"""The benchmark harness runs end to end and reports every figure (a smoke test: no timings)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "bench" / "run.py"


def _load_run() -> ModuleType:
    sys.path.insert(0, str(RUN.parent))
    try:
        spec = importlib.util.spec_from_file_location("bench_run", RUN)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(RUN.parent))
    return module


bench = _load_run()
TARGET_LINE = re.compile(r"^\s+\[(MET    |NOT MET)\] (.+): (.+) \(target (>=|<) ")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("bench") / "figures.json"
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, json.loads(out.read_text())


@pytest.mark.slow
def test_every_case_runs_and_is_printed_with_its_rate(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    stdout, figures = quick_run
    rows = figures["rows"]
    assert set(rows) == set(bench.TABLE_ORDER)
    lines = stdout.splitlines()
    for key in bench.TABLE_ORDER:
        row = rows[key]
        assert row["failed"] is None, (key, row["failed"])
        assert row["errors"] == 0, (key, row["first_error"])
        assert row["ok"] >= 200, key
        assert row["rate"] > 0, key
        [line] = [line for line in lines if line.startswith(row["label"] + " ")]
        rate_text = line[len(row["label"]):].split()[0]
        assert float(rate_text.replace(",", "")) > 0, line


@pytest.mark.slow
def test_ratios_are_printed_against_the_peers(quick_run: tuple[str, dict[str, Any]]) -> None:
    stdout, figures = quick_run
    rows = figures["rows"]
    for key in bench.TABLE_ORDER:
        [line] = [line for line in stdout.splitlines()
                  if line.startswith(rows[key]["label"] + " ")]
        ratios = re.findall(r"(\d+\.\d\d)x", line)
        expected = {"webhook": 1, "sandbox": 0}.get(rows[key]["group"], 2)  # vs twilio, vs raw
        assert len(ratios) == expected, line
    async_line = next(line for line in stdout.splitlines()
                      if line.startswith(rows["twilio_async_64"]["label"] + " "))
    assert "1.00x" in async_line  # the peer against itself


@pytest.mark.slow
def test_memory_and_cold_start_are_reported(quick_run: tuple[str, dict[str, Any]]) -> None:
    stdout, figures = quick_run
    memory = figures["memory"]
    assert memory.get("failed") is None, memory
    assert memory["ok"] == memory["messages"] == 2_000
    assert memory["maxrss_mb"] > memory["baseline_rss_mb"] > 0
    assert re.search(r"memory: send_batch of 2,000 messages .* peak RSS \d+\.\d MB", stdout)
    startup = figures["startup"]
    assert startup["providers_failed"] is None and startup["providers_ms"] > 0
    assert startup["import_failed"] is None and startup["import_ms"] > 0
    assert re.search(r"cold start `ratatosk providers`: \d+ ms", stdout)


@pytest.mark.slow
def test_the_default_transport_and_the_sandbox_throughput_are_reported(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    stdout, figures = quick_run
    rows = figures["rows"]
    assert {rows[f"ratatosk_default_{n}"]["transport_class"] for n in bench.CONCURRENCIES} == {
        "AsyncioTransport"}
    assert figures["memory"]["transport_class"] == "AsyncioTransport"
    assert rows["ratatosk_blocking"]["transport_class"] == "StdlibSyncTransport"
    assert rows["ratatosk_blocking_httpx"]["transport_class"] == "HttpxSyncTransport"
    assert "the connector picked AsyncioTransport (async) and StdlibSyncTransport" in stdout
    sandbox = rows["sandbox_creates"]
    assert sandbox["transport_class"] == "AsyncioTransport" and sandbox["ok"] >= 200
    assert re.search(r"sandbox \(issue 5\): [\d,]+ creates/s against TwilioSandbox", stdout)


@pytest.mark.slow
def test_every_target_is_judged(quick_run: tuple[str, dict[str, Any]]) -> None:
    stdout, _ = quick_run
    judged = [m.group(2) for line in stdout.splitlines() if (m := TARGET_LINE.match(line))]
    assert judged[:6] == [
        "async send_batch@64 vs twilio-python async@64",
        "blocking sequential vs twilio-python sync",
        "throughput does not fall from 16 to 256 in flight",
        "webhook receive vs RequestValidator.validate alone",
        "peak RSS, send_batch of 2,000 messages",
        "`ratatosk providers` cold start (median)",
    ]
    assert "n/a" not in "\n".join(line for line in stdout.splitlines() if TARGET_LINE.match(line))


# -- the verdicts, on made-up figures (no processes) ---------------------------------------------
def _figures(**rates: float) -> dict[str, Any]:
    return {
        "machine": bench.machine(), "quick": False,
        "rows": {key: {"label": key, "group": "async", "rate": rate, "ok": 1, "errors": 0}
                 for key, rate in rates.items()},
        "memory": {"ok": 10, "messages": 10, "maxrss_mb": 60.0, "transport": "aiohttp"},
        "startup": {"providers_ms": 120.0, "providers_failed": None},
    }


GOOD = dict(ratatosk_default_16=4000.0, ratatosk_default_64=4500.0, ratatosk_default_256=3600.0,
            twilio_async_64=3000.0, ratatosk_blocking=1500.0, twilio_sync=1000.0,
            ratatosk_webhook=20000.0, twilio_validator=10000.0)


def test_targets_met_at_their_limits() -> None:
    verdicts = bench.targets(_figures(**GOOD))
    assert [t.met for t in verdicts] == [True] * 6
    assert verdicts[2].value == pytest.approx(0.9)


@pytest.mark.parametrize(("key", "rate", "index"), [
    ("ratatosk_default_64", 4499.0, 0),
    ("ratatosk_blocking", 1499.0, 1),
    ("ratatosk_default_256", 3599.0, 2),
    ("ratatosk_default_64", 3599.0, 2),
    ("ratatosk_webhook", 19999.0, 3),
])
def test_targets_not_met_just_below(key: str, rate: float, index: int) -> None:
    verdicts = bench.targets(_figures(**{**GOOD, key: rate}))
    assert not verdicts[index].met
    if key != "ratatosk_default_64":
        assert sum(t.met for t in verdicts) == 5


def test_memory_cold_start_and_missing_figures_are_not_met() -> None:
    figures = _figures(**GOOD)
    figures["memory"]["maxrss_mb"] = 100.0
    figures["startup"] = {"providers_ms": None, "providers_failed": "exit 1: boom"}
    del figures["rows"]["twilio_sync"]
    verdicts = bench.targets(figures)
    assert [t.met for t in verdicts] == [True, False, True, True, False, False]
    assert "n/a" in verdicts[1].line() and "boom" in verdicts[5].line()


def test_check_exits_1_only_when_a_target_is_not_met(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    figures = _figures(**GOOD)
    monkeypatch.setattr(bench, "measure", lambda options, say: json.loads(json.dumps(figures)))
    assert bench.main(["--check"]) == 0
    figures["rows"]["ratatosk_webhook"]["rate"] = 100.0
    assert bench.main(["--check"]) == 1
    assert bench.main([]) == 0  # without --check it is a report
    assert "[NOT MET] webhook receive" in capsys.readouterr().out


def test_repeated_rounds_report_the_fastest_round_and_the_median() -> None:
    case = bench.Case("ratatosk_default_64", "label", "ratatosk_batch", 64)
    rounds = [bench.Row(case, rate=rate, ok=10, cpu_us_per_msg=cpu)
              for rate, cpu in ((4000.0, 150.0), (6000.0, 110.0), (5000.0, 130.0))]
    rounds.append(bench.Row(case, failed="worker exited 1: boom"))
    row = bench._combine(rounds)
    assert (row.rate, row.cpu_us_per_msg, row.median_rate) == (6000.0, 110.0, 5000.0)
    assert row.rates == [4000.0, 6000.0, 5000.0] and row.ok == 30
    assert row.first_error is not None and "1 round(s) failed" in row.first_error
    figures = _figures(**GOOD)
    figures["repeat"] = 3
    for data in figures["rows"].values():
        data["median_rate"] = data["rate"] / 2
    text = bench.render(figures)
    assert "median" in text.splitlines()[3]
    line = next(line for line in text.splitlines() if line.startswith("ratatosk_default_64 "))
    assert line.split()[1] == "4,500" and line.split()[-1] == "2,250"
    assert "the fastest of 3 rounds" in text
