"""The README's first command works in a fresh clone: it sets everything up and runs the demo.

This repeats what a newcomer does on a new machine (a clone, a new virtual environment, pip
installing the three distributions), so a missing install step fails here, not for the newcomer.
The second README command (`python3 dev.py test`) is what CI runs on a fresh clone.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", readme, re.DOTALL)
    assert block is not None, "the README starts with a bash block of commands"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_the_demo_and_test_commands() -> None:
    assert _readme_commands()[:2] == ["python3 dev.py demo", "python3 dev.py test"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 dev.py test" in ci


@pytest.mark.slow
def test_demo_command_in_a_fresh_clone(tmp_path: Path) -> None:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.fail("this test needs git and a git checkout of the project")
    clone = tmp_path / "clone"
    subprocess.run([git, "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items()
           if k not in {"VIRTUAL_ENV", "PYTHONPATH"} and not k.startswith("RATATOSK_")}
    env["RATATOSK_VENV"] = str(tmp_path / "venv")
    command = _readme_commands()[0].split()
    assert command[0] == "python3"
    run = subprocess.run([sys.executable, *command[1:]], cwd=clone, env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Demo finished: every step succeeded." in run.stdout
    assert (tmp_path / "venv").is_dir()


def _clone(tmp_path: Path) -> Path:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.fail("this test needs git and a git checkout of the project")
    clone = tmp_path / "empty" / "clone"
    clone.parent.mkdir()
    subprocess.run([git, "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    assert sorted(p.name for p in clone.parent.iterdir()) == ["clone"]
    return clone


def test_no_code_reads_outside_the_repository() -> None:
    """No test, tool or command reaches for the shared folder beside the checkout."""
    offenders = []
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if path.suffix not in {".py", ".toml", ".cfg", ".ini", ""} or not path.is_file():
            continue
        if parts[0] in {".venv", ".git", "site", "build"} or "__pycache__" in parts:
            continue
        if path == Path(__file__).resolve():
            continue
        if parts[0] == ".ci" or path.suffix:
            text = path.read_text(encoding="utf-8", errors="replace")
            if re.search(r"\.\./shared|/work/shared|shared/(twilio|vonage)", text):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


@pytest.mark.slow
def test_reference_data_tests_pass_in_a_clone_with_nothing_beside_it(tmp_path: Path) -> None:
    """A fresh clone alone collects every test and passes those that read reference data."""
    clone = _clone(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RATATOSK_")}
    collect = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=clone, env=env, capture_output=True, text=True, timeout=300)
    assert collect.returncode == 0, collect.stdout[-3000:] + collect.stderr[-3000:]
    assert "error" not in collect.stdout.splitlines()[-1].lower()
    readers = sorted(str(p.relative_to(clone)) for p in (clone / "tests").rglob("test_*.py")
                     if "e2e" not in p.parts and "reference_file(" in p.read_text(encoding="utf-8"))
    assert len(readers) >= 5
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *readers],
        cwd=clone, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
