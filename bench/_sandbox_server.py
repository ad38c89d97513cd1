"""The Twilio sandbox in its own process, for the sandbox create-throughput case (issue 5).

    python bench/_sandbox_server.py [--port 0]

Starts ``TwilioSandbox(progression="immediate")`` on 127.0.0.1 with the benchmark's account SID
and auth token (``bench/_common.py``), prints ``LISTENING <port>`` once it accepts connections,
then serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from _common import ACCOUNT_SID, AUTH_TOKEN


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free)")
    args = parser.parse_args(argv)

    from ratatosk_twilio.sandbox import TwilioSandbox

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    sandbox = TwilioSandbox("127.0.0.1", args.port, account_sid=ACCOUNT_SID,
                            auth_token=AUTH_TOKEN, progression="immediate")
    sandbox.start()
    try:
        print(f"LISTENING {sandbox.port}", flush=True)
        while not stop.wait(0.2):
            pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
