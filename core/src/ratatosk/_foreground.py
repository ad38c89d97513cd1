"""Run a local server (a provider's sandbox) in the foreground until Ctrl-C or SIGTERM: what the
``ratatosk <provider> sandbox`` commands share."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Protocol

__all__ = ["Startable", "serve_in_foreground"]


class Startable(Protocol):
    """A server with ``start()`` (raises OSError when it cannot listen) and ``stop()``."""

    def start(self) -> object: ...

    def stop(self) -> None: ...


def serve_in_foreground(server: Startable, banner: Callable[[], str], *, where: str) -> int:
    """Start ``server``, print ``banner()``, serve until SIGINT/SIGTERM (or Ctrl-C), stop it.

    Returns the command's exit status: 0, or 1 (one ``error:`` line naming ``where``, the
    host:port) when the server cannot listen.
    """
    try:
        server.start()
    except OSError as exc:
        print(f"error: cannot listen on {where}: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        print(banner(), flush=True)
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
    print("sandbox stopped", flush=True)
    return 0
