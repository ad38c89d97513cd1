"""Run one benchmark case in this (fresh) process and print its result as one JSON line.

    python bench/_worker.py CASE --base-url URL [--concurrency N] [--transport T]
                            (--duration SECONDS | --count N) [--warmup N]

``bench/run.py`` starts one worker per case, so every case gets a clean interpreter: no imports,
pools or garbage left over from another case, and the loopback server runs in yet another process.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import sys
from typing import Any

from _common import Budget, Measurement


def _run(args: argparse.Namespace) -> dict[str, Any]:
    import peers
    import ratatosk_cases

    budget = Budget(duration=args.duration, count=args.count, warmup=args.warmup)
    extra: dict[str, Any] = {}
    result: Measurement
    if args.case in peers.SYNC_CASES:
        result = peers.SYNC_CASES[args.case](args.base_url, budget, args.concurrency)
    elif args.case in peers.ASYNC_CASES:
        result = asyncio.run(peers.ASYNC_CASES[args.case](args.base_url, budget, args.concurrency))
    elif args.case in ratatosk_cases.CASES:
        result, extra = ratatosk_cases.CASES[args.case](
            args.base_url, budget, args.concurrency, args.transport
        )
    else:
        raise SystemExit(f"unknown case {args.case!r}")
    return {
        "ok": result.ok,
        "errors": result.errors,
        "elapsed": result.elapsed,
        "rate": result.rate,
        "cpu_us_per_msg": result.cpu * 1e6 / result.ok if result.ok else None,
        "first_error": result.first_error,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **extra,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case")
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--transport", default="default")
    parser.add_argument("--duration", type=float, default=None)
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args(argv)
    if args.duration is None and args.count is None:
        args.duration = 2.0
    gc.collect()
    try:
        report = _run(args)
    except Exception as exc:  # the harness reports it as a failed row, the run goes on
        report = {"failed": f"{type(exc).__name__}: {exc}"[:500]}
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
