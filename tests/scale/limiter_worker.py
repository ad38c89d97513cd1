"""A separate process that sends as fast as a shared rate limit lets it (run by the tests).

    python limiter_worker.py REDIS_URL ACCOUNT SENDER LIMIT START DURATION SEED

Waits until the wall clock reaches START, then for DURATION seconds charges messages of 1 to 3
units (segments, random with SEED) through a SharedRateLimiter, sleeping as ``reserve`` says,
and prints one JSON list of [time, units] per charge it was granted.
"""

from __future__ import annotations

import json
import random
import sys
import time

from ratatosk.ratelimit import SharedRateLimiter


def main(argv: list[str]) -> int:
    url, account, sender, limit, start, duration, seed = argv
    limiter = SharedRateLimiter(url, account=account, sender=sender, limit=limit)
    rng = random.Random(seed)
    begin, end = float(start), float(start) + float(duration)
    time.sleep(max(0.0, begin - time.time()))
    granted: list[list[float]] = []
    cost = rng.randint(1, 3)
    while time.time() < end:
        wait = limiter.reserve(cost)
        if wait == 0:
            granted.append([time.time(), cost])
            cost = rng.randint(1, 3)
        else:
            time.sleep(min(wait, max(0.0, end - time.time())))
    print(json.dumps(granted))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
