"""Ratatosk benchmarks: one command, one run, every figure and every target of issue 6.

    python3 dev.py bench                 # = .venv/bin/python bench/run.py
    .venv/bin/python bench/run.py [--quick] [--check] [--duration S] [--json PATH] [--only K,...]

It starts its own minimal loopback server (``bench/_server.py``, in its own process, 127.0.0.1
only), then runs every case in a fresh worker process (``bench/_worker.py``), one after the other:
Ratatosk ``send_batch`` at 1/16/64/256 in flight (default transport and ``AiohttpTransport``),
Ratatosk blocking sends, twilio-python sync and async, raw httpx / stdlib / aiohttp clients, the
webhook receive path against twilio-python's ``RequestValidator``, the cold start of
``ratatosk providers`` and the peak memory of a 100,000-message ``send_batch``.

It prints a table (messages/s and ratios from this run) and every target as MET / NOT MET. The exit
status is 0 (it is a report) unless ``--check`` is given and a target is not met. ``--quick`` runs
every case on a few hundred messages: a smoke test of the harness, not a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from attrs import define, field, frozen

HERE = Path(__file__).resolve().parent
SERVER = HERE / "_server.py"
WORKER = HERE / "_worker.py"
BIN = Path(sys.executable).parent

CONCURRENCIES = (1, 16, 64, 256)
PEER_CONCURRENCY = 64
FLAT_RATIO = 0.9  # "throughput does not fall": every rate from 16 up is >= 0.9x the rate at 16


@frozen
class Case:
    """One row: a worker case with its parameters."""

    key: str
    label: str
    case: str
    concurrency: int = 1
    transport: str = "default"
    group: str = "async"  # async | sync | webhook | memory


def _send_cases() -> list[Case]:
    cases = [
        Case("twilio_sync", "twilio-python sync client, sequential", "twilio_sync", group="sync"),
        Case("ratatosk_blocking", "Ratatosk blocking send_message, sequential",
             "ratatosk_blocking", group="sync"),
        Case("ratatosk_blocking_stdlib", "Ratatosk blocking, prototype http.client transport",
             "ratatosk_blocking", transport="stdlib", group="sync"),
        Case("httpx_sync", "raw httpx.Client, sequential", "httpx_sync", group="sync"),
        Case("urllib3_sync", "raw urllib3.PoolManager, sequential", "urllib3_sync", group="sync"),
        Case("stdlib_sync", "raw http.client (stdlib), sequential", "stdlib_sync", group="sync"),
        Case("twilio_async_64", "twilio-python async (aiohttp), 64 in flight", "twilio_async", 64),
    ]
    for n in (64, 1, 16, 256):
        cases.append(Case(f"ratatosk_default_{n}", f"Ratatosk send_batch, default transport, {n}",
                          "ratatosk_batch", n, "default"))
        cases.append(Case(f"ratatosk_aiohttp_{n}", f"Ratatosk send_batch, AiohttpTransport, {n}",
                          "ratatosk_batch", n, "aiohttp"))
        if n != 1:
            cases.append(Case(f"ratatosk_protocol_{n}",
                              f"Ratatosk send_batch, prototype Protocol transport, {n}",
                              "ratatosk_batch", n, "protocol"))
        if n == 64:
            cases += [
                Case("ratatosk_httpx_64", "Ratatosk send_batch, HttpxAsyncTransport, 64",
                     "ratatosk_batch", 64, "httpx"),
                Case("ratatosk_httpx_aiohttp_64",
                     "Ratatosk send_batch, httpx on httpx-aiohttp, 64",
                     "ratatosk_batch", 64, "httpx-aiohttp"),
                Case("transport_aiohttp_64", "AiohttpTransport alone (prebuilt request), 64",
                     "transport_alone", 64, "aiohttp"),
                Case("transport_httpx_64", "HttpxAsyncTransport alone (prebuilt request), 64",
                     "transport_alone", 64, "httpx"),
                Case("transport_protocol_64",
                     "prototype Protocol transport alone (prebuilt request), 64",
                     "transport_alone", 64, "protocol"),
                Case("httpx_async_64", "raw httpx.AsyncClient, 64 in flight", "httpx_async", 64),
                Case("httpx_aiohttp_64", "raw httpx on httpx-aiohttp transport, 64",
                     "httpx_aiohttp", 64),
                Case("aiohttp_raw_64", "raw aiohttp.ClientSession, 64 in flight",
                     "aiohttp_raw", 64),
            ]
        if n == 1:
            cases.append(Case("httpx_async_1", "raw httpx.AsyncClient, 1 in flight",
                              "httpx_async", 1))
    cases += [
        Case("ratatosk_webhook", "Ratatosk receive_messages (signature + parse)",
             "ratatosk_webhook", group="webhook"),
        Case("twilio_validator", "twilio-python RequestValidator.validate alone",
             "twilio_validator", group="webhook"),
    ]
    return cases


# Display order of the table (runs happen in _send_cases order, compared pairs side by side).
TABLE_ORDER = (
    ["ratatosk_default_" + str(n) for n in CONCURRENCIES]
    + ["ratatosk_aiohttp_" + str(n) for n in CONCURRENCIES]
    + ["ratatosk_protocol_" + str(n) for n in CONCURRENCIES[1:]]
    + ["ratatosk_httpx_64", "ratatosk_httpx_aiohttp_64", "transport_aiohttp_64",
       "transport_httpx_64", "transport_protocol_64", "twilio_async_64", "httpx_async_1",
       "httpx_async_64", "httpx_aiohttp_64", "aiohttp_raw_64",
       "ratatosk_blocking", "ratatosk_blocking_stdlib", "twilio_sync", "httpx_sync",
       "urllib3_sync", "stdlib_sync",
       "ratatosk_webhook", "twilio_validator"]
)


@define
class Row:
    """A case's outcome as the table shows it."""

    case: Case
    rate: float | None = None
    ok: int = 0
    errors: int = 0
    first_error: str | None = None
    failed: str | None = None
    server_us_per_request: float | None = None
    cpu_us_per_msg: float | None = None
    rates: list[float] = field(factory=list)
    extra: dict[str, Any] = field(factory=dict)


# -- processes -----------------------------------------------------------------------------------
class LoopbackServer:
    """``bench/_server.py`` in its own process; ``base_url`` once it listens."""

    def __init__(self, workers: int = 1) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(SERVER), "--port", "0", "--workers", str(workers)],
            stdout=subprocess.PIPE, text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if len(line) != 2 or line[0] != "LISTENING":
            self.close()
            raise RuntimeError("the loopback server did not start")
        self.base_url = f"http://127.0.0.1:{line[1]}"

    def cpu_seconds(self) -> float | None:
        """User + system CPU the server (main process) used so far (Linux /proc), else None."""
        try:
            with open(f"/proc/{self.process.pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def run_worker(case: Case, base_url: str, budget: list[str], timeout: float) -> dict[str, Any]:
    """Run one case in a fresh interpreter; its JSON report (or ``failed``)."""
    command = [sys.executable, str(WORKER), case.case, "--base-url", base_url,
               "--concurrency", str(case.concurrency), "--transport", case.transport, *budget]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              cwd=HERE.parent)
    except subprocess.TimeoutExpired:
        return {"failed": f"timed out after {timeout:.0f} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"failed": f"worker exited {done.returncode}: {tail}"[:300]}
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def cold_start(argv: Sequence[str], repeats: int) -> tuple[float | None, str | None]:
    """Median wall time (ms) of running ``argv`` to completion; (None, why) when it fails."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=60)
        times.append((time.perf_counter() - start) * 1000)
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return None, f"exit {done.returncode}: {tail}"[:300]
    return statistics.median(times), None


# -- the run -------------------------------------------------------------------------------------
@define
class Options:
    quick: bool
    duration: float
    memory_messages: int
    cold_repeats: int
    only: frozenset[str] | None
    server_workers: int
    repeat: int = 1

    def budget(self, case: Case) -> list[str]:
        warmup = max(2 * case.concurrency, 20 if self.quick else 100)
        if case.group == "webhook":
            return (["--count", "200"] if self.quick else ["--duration", str(self.duration)])
        if self.quick:
            return ["--count", "200", "--warmup", str(min(warmup, 64))]
        return ["--duration", str(self.duration), "--warmup", str(warmup)]

    def wanted(self, key: str) -> bool:
        return self.only is None or key in self.only


def measure(options: Options, say: Callable[[str], None]) -> dict[str, Any]:
    """Run everything; the raw figures as a JSON-able dict."""
    rows: dict[str, Row] = {}
    server = LoopbackServer(options.server_workers)
    say(f"loopback server at {server.base_url} (pid {server.process.pid})")
    try:
        rounds: dict[str, list[Row]] = {}
        for round_ in range(options.repeat):
            if options.repeat > 1:
                say(f"round {round_ + 1} of {options.repeat}")
            for case in _send_cases():
                if options.wanted(case.key):
                    rounds.setdefault(case.key, []).append(
                        _run_case(case, server, options.budget(case), say))
        rows = {key: _combine(runs) for key, runs in rounds.items()}
        memory: dict[str, Any] = {}
        if options.wanted("memory"):
            transport = _memory_transport(rows)
            case = Case("memory", f"send_batch of {options.memory_messages:,} messages, 64",
                        "ratatosk_memory", 64, transport, group="memory")
            say(f"  {case.label} ({transport} transport) ...")
            memory = run_worker(case, server.base_url,
                                ["--count", str(options.memory_messages), "--warmup", "0"],
                                timeout=600)
            memory["transport"] = transport
    finally:
        server.close()
    startup: dict[str, Any] = {"repeats": options.cold_repeats}
    if options.wanted("cold_start"):
        say("  cold start of `ratatosk providers` ...")
        ms, why = cold_start([str(BIN / "ratatosk"), "providers"], options.cold_repeats)
        startup["providers_ms"], startup["providers_failed"] = ms, why
        ms, why = cold_start([sys.executable, "-c", "import ratatosk"], options.cold_repeats)
        startup["import_ms"], startup["import_failed"] = ms, why
    return {
        "machine": machine(),
        "quick": options.quick,
        "duration_s": options.duration,
        "repeat": options.repeat,
        "rows": {key: _row_json(row) for key, row in rows.items()},
        "memory": memory,
        "startup": startup,
    }


def _run_case(case: Case, server: LoopbackServer, budget: list[str],
              say: Callable[[str], None]) -> Row:
    say(f"  {case.label} ...")
    before = server.cpu_seconds()
    report = run_worker(case, server.base_url, budget, timeout=300)
    after = server.cpu_seconds()
    row = Row(case)
    if "failed" in report:
        row.failed = report["failed"]
        return row
    row.rate, row.ok, row.errors = report["rate"], report["ok"], report["errors"]
    row.rates = [row.rate]
    row.first_error = report.get("first_error")
    row.cpu_us_per_msg = report.get("cpu_us_per_msg")
    row.extra = {k: v for k, v in report.items()
                 if k not in {"rate", "ok", "errors", "first_error", "elapsed", "cpu_us_per_msg"}}
    requests = row.ok + row.errors
    if before is not None and after is not None and requests and case.group != "webhook":
        warmup = int(budget[budget.index("--warmup") + 1]) if "--warmup" in budget else 0
        row.server_us_per_request = (after - before) * 1e6 / (requests + warmup)
    return row


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _combine(runs: list[Row]) -> Row:
    """Rounds of one case as one row: median rate, CPU and server cost; errors added up."""
    good = [r for r in runs if r.failed is None]
    if not good:
        return runs[-1]
    row = Row(good[-1].case, extra=good[-1].extra)
    row.rates = [r.rate for r in good if r.rate is not None]
    row.rate = _median([r.rate for r in good])
    row.cpu_us_per_msg = _median([r.cpu_us_per_msg for r in good])
    row.server_us_per_request = _median([r.server_us_per_request for r in good])
    row.ok = sum(r.ok for r in good)
    row.errors = sum(r.errors for r in good)
    row.first_error = next((r.first_error for r in good if r.first_error), None)
    if len(good) < len(runs):
        row.first_error = f"{len(runs) - len(good)} round(s) failed: " + str(
            next(r.failed for r in runs if r.failed))
    return row


def _row_json(row: Row) -> dict[str, Any]:
    return {
        "label": row.case.label, "group": row.case.group, "concurrency": row.case.concurrency,
        "transport": row.case.transport, "rate": row.rate, "ok": row.ok, "errors": row.errors,
        "first_error": row.first_error, "failed": row.failed,
        "server_us_per_request": row.server_us_per_request,
        "cpu_us_per_msg": row.cpu_us_per_msg, "rates": row.rates, **row.extra,
    }


def _memory_transport(rows: dict[str, Row]) -> str:
    """The faster of the default transport and AiohttpTransport at 64 in flight in this run."""
    default = rows.get("ratatosk_default_64")
    fast = rows.get("ratatosk_aiohttp_64")
    if default and default.rate and fast and fast.rate and default.rate >= fast.rate:
        return "default"
    return "aiohttp" if fast and fast.rate else "default"


def machine() -> dict[str, Any]:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    return {
        "nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
        "implementation": platform.python_implementation(), "platform": platform.platform(),
        "loadavg": [round(x, 2) for x in load],
    }


# -- the report ----------------------------------------------------------------------------------
@frozen
class Target:
    name: str
    value: float | None
    limit: float
    unit: str
    higher_is_better: bool = True
    note: str = ""

    @property
    def met(self) -> bool:
        if self.value is None:
            return False
        return self.value >= self.limit if self.higher_is_better else self.value < self.limit

    def line(self) -> str:
        verdict = "MET    " if self.met else "NOT MET"
        op = ">=" if self.higher_is_better else "<"
        shown = "n/a" if self.value is None else f"{self.value:,.2f}{self.unit}"
        note = f"  ({self.note})" if self.note else ""
        return f"  [{verdict}] {self.name}: {shown} (target {op} {self.limit:g}{self.unit}){note}"


def _rate(results: dict[str, Any], key: str) -> float | None:
    row = results["rows"].get(key)
    return row["rate"] if row and row.get("rate") else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def targets(results: dict[str, Any], transport: str = "default") -> list[Target]:
    """Issue 6's targets, as ratios from this run (for the given Ratatosk async transport)."""
    def r(key: str) -> float | None:
        return _rate(results, key)

    prefix = f"ratatosk_{transport}_"
    flat = None
    base = r(prefix + "16")
    if base:
        higher = [r(prefix + str(n)) for n in (64, 256)]
        if all(h is not None for h in higher):
            flat = min(h for h in higher if h is not None) / base
    memory = results.get("memory") or {}
    startup = results.get("startup") or {}
    peak = memory.get("maxrss_mb") if not memory.get("failed") and memory.get("ok") else None
    return [
        Target("async send_batch@64 vs twilio-python async@64",
               _ratio(r(prefix + "64"), r("twilio_async_64")), 1.5, "x"),
        Target("blocking sequential vs twilio-python sync",
               _ratio(r("ratatosk_blocking"), r("twilio_sync")), 1.5, "x"),
        Target("throughput does not fall from 16 to 256 in flight",
               flat, FLAT_RATIO, "x", note="min(rate@64, rate@256) / rate@16"),
        Target("webhook receive vs RequestValidator.validate alone",
               _ratio(r("ratatosk_webhook"), r("twilio_validator")), 2.0, "x"),
        Target(f"peak RSS, send_batch of {memory.get('messages', 100_000):,} messages",
               peak, 100.0, " MB", higher_is_better=False,
               note=f"{memory.get('transport', '?')} transport" if peak else
               str(memory.get("failed") or memory.get("first_error") or "not run")),
        Target("`ratatosk providers` cold start (median)", startup.get("providers_ms"),
               300.0, " ms", higher_is_better=False,
               note=str(startup.get("providers_failed") or "")),
    ]


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    rows = results["rows"]
    out = [
        "",
        f"Ratatosk benchmark - {m['nproc']} CPU(s) {m['cpu']}, {m['implementation']} "
        f"{m['python']}, load average at end {m['loadavg']}"
        + ("  [QUICK: smoke run, not a measurement]" if results["quick"] else ""),
        "",
        f"{'case':<56}{'msg/s':>9}{'vs twilio':>11}{'vs raw':>9}{'cpu us/msg':>12}"
        f"{'srv us/req':>12}",
        "-" * 109,
    ]
    twilio_async, twilio_sync = _rate(results, "twilio_async_64"), _rate(results, "twilio_sync")
    raw_async, raw_sync = _rate(results, "aiohttp_raw_64"), _rate(results, "httpx_sync")
    validator = _rate(results, "twilio_validator")
    for key in TABLE_ORDER:
        row = rows.get(key)
        if row is None:
            continue
        label = row["label"]
        if row.get("failed"):
            out.append(f"{label:<56}{'FAILED':>9}  {row['failed']}")
            continue
        rate = row["rate"]
        if row["group"] == "webhook":
            vs_twilio, vs_raw = _ratio(rate, validator), None
        elif row["group"] == "sync":
            vs_twilio, vs_raw = _ratio(rate, twilio_sync), _ratio(rate, raw_sync)
        else:
            vs_twilio, vs_raw = _ratio(rate, twilio_async), _ratio(rate, raw_async)
        line = (f"{label:<56}{rate:>9,.0f}{_fmt_ratio(vs_twilio):>11}{_fmt_ratio(vs_raw):>9}"
                f"{_fmt_us(row.get('cpu_us_per_msg')):>12}"
                f"{_fmt_us(row.get('server_us_per_request')):>12}")
        if row["errors"]:
            line += f"  ({row['errors']} errors: {row['first_error']})"
        out.append(line)
    memory, startup = results.get("memory") or {}, results.get("startup") or {}
    out.append("")
    default = next((row.get("transport_class") for key, row in rows.items()
                    if key.startswith("ratatosk_default_") and row.get("transport_class")), None)
    if default:
        out.append(f"default transport: the connector picked {default}")
    if memory:
        if memory.get("failed"):
            out.append(f"memory: FAILED {memory['failed']}")
        else:
            out.append(
                f"memory: send_batch of {memory.get('messages') or 0:,} messages "
                f"({memory.get('transport_class') or memory.get('transport', '?')}, 64 in "
                f"flight): peak RSS {memory.get('maxrss_mb') or 0:.1f} MB, RSS before the batch "
                f"{memory.get('baseline_rss_mb') or 0:.1f} MB, {memory.get('rate') or 0:,.0f} "
                "msg/s" + (f", {memory['errors']} errors: {memory.get('first_error')}"
                           if memory.get("errors") else ""))
    if startup:
        for key, label in (("providers", "`ratatosk providers`"), ("import", "`import ratatosk`")):
            ms, why = startup.get(f"{key}_ms"), startup.get(f"{key}_failed")
            shown = f"FAILED {why}" if why else "not measured" if ms is None else f"{ms:.0f} ms"
            out.append(f"cold start {label}: {shown} (median of {startup.get('repeats', '?')})")
    out += ["", "vs twilio: ratio to twilio-python from this run (async@64, sync, or the "
            "validator); vs raw: ratio to raw aiohttp@64 (async) or raw httpx (sync).",
            "cpu us/msg: CPU time the client process spent per message (steadier than msg/s on "
            "a loaded machine).",
            "srv us/req: the loopback server's CPU per request (it is not the bottleneck while "
            "us/req x msg/s stays well below 1e6).", "", "Targets (issue 6):"]
    met = targets(results)
    out += [t.line() for t in met]
    for transport, name in (("aiohttp", "AiohttpTransport"),
                            ("protocol", "the prototype Protocol transport (bench only)")):
        if any(k.startswith(f"ratatosk_{transport}_") for k in rows):
            alt = [targets(results, transport)[i] for i in (0, 2)]
            out += ["", f"The async send targets with {name} injected:"]
            out += [t.line() for t in alt]
    return "\n".join(out)


def _fmt_us(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def _fmt_ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmarks of Ratatosk against twilio-python and raw HTTP (issue 6).")
    parser.add_argument("--quick", action="store_true",
                        help="a few hundred messages per case: a smoke test, not a measurement")
    parser.add_argument("--check", action="store_true",
                        help="exit with status 1 when a target is not met")
    parser.add_argument("--duration", type=float, default=2.0,
                        help="seconds each throughput case is timed (default 2)")
    parser.add_argument("--memory-messages", type=int, default=None,
                        help="messages in the memory case (default 100,000; --quick 2,000)")
    parser.add_argument("--cold-repeats", type=int, default=None,
                        help="cold-start runs, the median is reported (default 7; --quick 2)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run every throughput case N times, report the median (default 1)")
    parser.add_argument("--server-workers", type=int, default=1,
                        help="loopback server processes (default 1)")
    parser.add_argument("--only", default=None,
                        help="comma-separated case keys to run (plus 'memory', 'cold_start')")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    options = Options(
        quick=args.quick,
        duration=args.duration,
        memory_messages=args.memory_messages or (2_000 if args.quick else 100_000),
        cold_repeats=args.cold_repeats or (2 if args.quick else 7),
        only=frozenset(args.only.split(",")) if args.only else None,
        server_workers=args.server_workers,
        repeat=max(1, args.repeat),
    )
    started = time.perf_counter()
    results = measure(options, lambda text: print(text, file=sys.stderr, flush=True))
    results["wall_s"] = round(time.perf_counter() - started, 1)
    print(render(results))
    print(f"\n(run took {results['wall_s']:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.check and not all(t.met for t in targets(results)):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
