"""Run one benchmark case in this (fresh) process.

    python bench/_worker.py CASE --base-url URL [--concurrency N] [--transport T] [--warmup N]
                            (--duration SECONDS | --count N | --serve)

The case is set up once and warmed up (``--warmup`` messages, untimed). Then either

* one timed run (``--duration`` or ``--count``), printed as one JSON line; or
* ``--serve``: it prints ``{"ready": true}`` and runs one timed slice per command read from stdin,
  ``run duration SECONDS [CONCURRENCY]`` or ``run count N [CONCURRENCY]``, each answered by a
  JSON line; ``stop`` (or the end of stdin) closes the case and prints its closing JSON line
  (extra figures, peak RSS). ``--concurrency 16,64,256`` sets up one session per value in this
  process (a concurrency sweep whose rates differ by the concurrency alone).

``bench/run.py`` starts one worker per case, so every case gets a clean interpreter (no imports,
pools or garbage left over from another case) and the loopback server runs in yet another
process; with ``--serve`` it interleaves the slices of the cases it compares.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
from typing import Any

from _common import Budget, Measurement, Session


def _session(args: argparse.Namespace, concurrency: int) -> Session:
    import peers
    import ratatosk_cases

    if args.case in peers.CASES:
        return peers.CASES[args.case](args.base_url, concurrency)
    if args.case in ratatosk_cases.CASES:
        return ratatosk_cases.CASES[args.case](args.base_url, concurrency, args.transport)
    raise SystemExit(f"unknown case {args.case!r}")


def _figures(result: Measurement) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "errors": result.errors,
        "elapsed": result.elapsed,
        "cpu": result.cpu,
        "rate": result.rate,
        "cpu_us_per_msg": result.cpu * 1e6 / result.ok if result.ok else None,
        "first_error": result.first_error,
    }


def _closing(sessions: dict[int, Session]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for session in sessions.values():
        extra.update(session.close())
    return {**extra, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _say(report: dict[str, Any]) -> None:
    print(json.dumps(report), flush=True)


def _serve(sessions: dict[int, Session]) -> None:
    _say({"ready": True})
    first = next(iter(sessions))
    for line in sys.stdin:
        command = line.split()
        if not command or command[0] == "stop":
            break
        concurrency = int(command[3]) if len(command) == 4 else first
        if (command[0] != "run" or len(command) not in (3, 4)
                or command[1] not in ("duration", "count") or concurrency not in sessions):
            _say({"failed": f"unknown command {line.strip()[:80]!r}"})
            continue
        budget = (Budget(duration=float(command[2])) if command[1] == "duration"
                  else Budget(count=int(command[2])))
        gc.collect()
        _say(_figures(sessions[concurrency].run(budget)))
    _say(_closing(sessions))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case")
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--concurrency", default="1",
                        help="requests in flight; with --serve, a comma-separated list runs "
                        "one session per value in this process (``run ... N`` picks one)")
    parser.add_argument("--transport", default="default")
    parser.add_argument("--duration", type=float, default=None)
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--serve", action="store_true",
                        help="run timed slices on command (see the module docstring)")
    args = parser.parse_args(argv)
    if args.duration is None and args.count is None:
        args.duration = 2.0
    try:
        concurrencies = [int(c) for c in args.concurrency.split(",")]
        if len(concurrencies) > 1 and not args.serve:
            raise SystemExit("several concurrencies need --serve")
        sessions = {c: _session(args, c) for c in concurrencies}
        if args.warmup > 0:
            for concurrency, session in sessions.items():
                session.run(Budget(count=max(args.warmup, 2 * concurrency)))
        gc.collect()
        if args.serve:
            _serve(sessions)
            return 0
        budget = Budget(count=args.count) if args.count is not None else Budget(args.duration)
        report = _figures(sessions[concurrencies[0]].run(budget))
        report.update(_closing(sessions))
    except Exception as exc:  # the harness reports it as a failed row, the run goes on
        report = {"failed": f"{type(exc).__name__}: {exc}"[:500]}
    _say(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
