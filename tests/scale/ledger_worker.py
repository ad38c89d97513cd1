"""A separate process that claims ledger keys (run by the ledger tests, never imported by them).

    python ledger_worker.py WORKER GO_FILE COUNT sqlite PATH
    python ledger_worker.py WORKER GO_FILE COUNT postgres CONNINFO SCHEMA

Opens its own ledger, says so (GO_FILE.WORKER.ready), waits until GO_FILE exists (so both
processes start together), tries to claim every key ``k0 .. k{COUNT-1}`` in its own random order
(so the processes meet on many keys), pausing 1 ms after each, and prints the keys it won
(one JSON list).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time

from ratatosk.ledger import Ledger, PostgresLedger, SqliteLedger


def main(argv: list[str]) -> int:
    worker, go_file, count, kind, *where = argv
    ledger: Ledger = SqliteLedger(where[0]) if kind == "sqlite" else PostgresLedger(
        where[0], schema=where[1])
    open(f"{go_file}.{worker}.ready", "w").close()
    deadline = time.monotonic() + 30
    while not os.path.exists(go_file):
        if time.monotonic() > deadline:
            print("no go", file=sys.stderr)
            return 2
        time.sleep(0.005)
    keys = [f"k{i}" for i in range(int(count))]
    random.Random(worker).shuffle(keys)
    won = []
    for key in keys:
        if ledger.claim(key, worker):
            won.append(key)
        time.sleep(0.001)  # a worker does other things between claims (and SQLite is not fair)
    ledger.close()
    print(json.dumps(won))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
