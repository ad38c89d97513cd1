#!/usr/bin/env python3
"""Set up the development environment and run the project's main tasks.

    python3 dev.py demo     # create .venv, install everything, run `ratatosk demo`
    python3 dev.py test     # create .venv, install everything, run ruff, mypy --strict and pytest
    python3 dev.py setup    # only create .venv and install
    python3 dev.py bench    # run the benchmarks in bench/

Only the Python standard library is used here, so this works on a machine with nothing but Python
and pip. The virtual environment lives in `.venv` (override with RATATOSK_VENV).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("RATATOSK_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".ratatosk-installed"
# The project's distributions, by path: ratatosk-messaging (core, import name `ratatosk`) with its
# extras, ratatosk-messaging-twilio, ratatosk-messaging-vonage, ratatosk-messaging-contrib, and the
# workspace's dev tools.
PACKAGES = ["./core[cli,aiohttp,phonenumbers,otel]", "./providers/twilio",
            "./providers/vonage[jwt]", "./contrib[all]", ".[dev]"]
DISTRIBUTIONS = ["ratatosk-messaging", "ratatosk-messaging-twilio", "ratatosk-messaging-vonage",
                 "ratatosk-messaging-contrib"]
# Names the distributions had before; an old .venv still has them installed (and `ratatosk` on the
# package index is an unrelated project), so setup removes them.
FORMER_NAMES = ["ratatosk", "ratatosk-twilio", "ratatosk-contrib"]
PYPROJECTS = ["pyproject.toml", "core/pyproject.toml", "providers/twilio/pyproject.toml",
              "providers/vonage/pyproject.toml",
              "contrib/pyproject.toml"]


def run(*args: str | Path, check: bool = True) -> int:
    print("+", " ".join(str(a) for a in args), flush=True)
    return subprocess.run([str(a) for a in args], cwd=ROOT, check=check).returncode


def _fingerprint() -> str:
    h = hashlib.sha256()
    for name in PYPROJECTS:
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def setup() -> None:
    if not PY.exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    if STAMP.exists() and STAMP.read_text() == _fingerprint():
        return
    run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    installed = subprocess.run([str(PY), "-m", "pip", "list", "--format=freeze"], cwd=ROOT,
                               capture_output=True, text=True).stdout.lower().splitlines()
    former = [n for n in FORMER_NAMES if any(line.startswith(n + "==") for line in installed)]
    if former:
        run(PY, "-m", "pip", "uninstall", "--quiet", "--yes", *former)
    args: list[str] = []
    for pkg in PACKAGES:
        args += ["-e", pkg]
    run(PY, "-m", "pip", "install", "--quiet", *args)
    STAMP.write_text(_fingerprint())


def test(extra: list[str]) -> int:
    setup()
    env_bin = str(BIN)
    if run(BIN / "ruff", "check", ".", check=False):
        return 1
    if run(BIN / "mypy", "--strict", "core/src", "providers/twilio/src", "providers/vonage/src",
           "contrib/src",
           check=False):
        return 1
    os.environ["PATH"] = env_bin + os.pathsep + os.environ.get("PATH", "")
    return run(PY, "-m", "pytest", *extra, check=False)


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "help"
    rest = argv[1:]
    if cmd == "setup":
        setup()
        return 0
    if cmd == "test":
        return test(rest)
    if cmd == "demo":
        setup()
        return run(BIN / "ratatosk", "demo", *rest, check=False)
    if cmd == "bench":
        setup()
        return run(PY, "bench/run.py", *rest, check=False)
    print(__doc__)
    return 0 if cmd == "help" else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
