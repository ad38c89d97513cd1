"""The documented install commands install this project's own distributions.

``ratatosk`` on the public package index is an unrelated project, so the core is published as
``ratatosk-messaging`` (import name ``ratatosk``) and the other distributions as
``ratatosk-messaging-<part>``. The wheels are built from the repository (``pip wheel --no-deps``,
offline) and every ``pip install`` command in README.md, the packages' READMEs and docs/ must name
only distributions that are among them; no wheel may depend on a bare ``ratatosk``.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = {"core": ROOT / "core", "providers/twilio": ROOT / "providers" / "twilio",
            "providers/vonage": ROOT / "providers" / "vonage", "contrib": ROOT / "contrib"}
DOCUMENTS = sorted([ROOT / "README.md", *ROOT.glob("docs/**/*.md"), *ROOT.glob("*/README.md"),
                    *ROOT.glob("providers/*/README.md")])
PIP_INSTALL = re.compile(r"pip install ([^`\n#]+)")
EXPECTED = {"ratatosk-messaging", "ratatosk-messaging-twilio", "ratatosk-messaging-vonage",
            "ratatosk-messaging-contrib"}


def _documented_requirements() -> list[tuple[str, Requirement]]:
    found = []
    for doc in DOCUMENTS:
        for match in PIP_INSTALL.finditer(doc.read_text(encoding="utf-8")):
            for token in shlex.split(match.group(1)):
                if token.startswith("-") or token.startswith((".", "/")):
                    continue  # options, local paths
                found.append((doc.relative_to(ROOT).as_posix(), Requirement(token)))
    return found


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    """name -> {"path": wheel, "metadata": parsed METADATA, "project": repo folder}."""
    out = tmp_path_factory.mktemp("wheels")
    built: dict[str, dict[str, object]] = {}
    for folder, project in PROJECTS.items():
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-input",
                   "--disable-pip-version-check", "--quiet", "-w", str(out / folder)]
        if importlib.util.find_spec("hatchling") is not None:
            command.append("--no-build-isolation")  # offline when the backend is already here
        done = subprocess.run([*command, str(project)], capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"pip wheel {folder} failed:\n{done.stdout}\n{done.stderr}"
        (wheel,) = (out / folder).glob("*.whl")
        with zipfile.ZipFile(wheel) as archive:
            (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
            metadata = Parser().parsestr(archive.read(name).decode("utf-8"))
        built[canonicalize_name(metadata["Name"])] = {"path": wheel, "metadata": metadata,
                                                      "project": folder}
    return built


def test_the_wheels_carry_the_projects_own_names(wheels: dict[str, dict[str, object]]) -> None:
    assert set(wheels) == EXPECTED
    assert {str(w["project"]) for w in wheels.values()} == set(PROJECTS)


def test_no_wheel_depends_on_the_unrelated_ratatosk(wheels: dict[str, dict[str, object]]) -> None:
    for name, wheel in wheels.items():
        metadata = wheel["metadata"]
        requires = [Requirement(r) for r in metadata.get_all("Requires-Dist") or []]  # type: ignore[attr-defined]
        names = {canonicalize_name(r.name) for r in requires}
        assert "ratatosk" not in names, f"{name} depends on the unrelated ratatosk"
        if name != "ratatosk-messaging":
            assert "ratatosk-messaging" in names, f"{name} does not depend on the core"


def test_documented_install_commands_resolve_to_our_wheels(
    wheels: dict[str, dict[str, object]],
) -> None:
    documented = _documented_requirements()
    assert len(documented) >= 4, "the docs lost their install commands"
    for where, requirement in documented:
        name = canonicalize_name(requirement.name)
        assert name != "ratatosk", f"{where} installs the unrelated `ratatosk`: {requirement}"
        assert name in wheels, f"{where}: {requirement} is not a distribution of this project"
        metadata = wheels[name]["metadata"]
        extras = set(metadata.get_all("Provides-Extra") or [])  # type: ignore[attr-defined]
        assert requirement.extras <= extras, f"{where}: {requirement} names an unknown extra"
    # the two main commands are documented
    assert {"ratatosk-messaging", "ratatosk-messaging-twilio"} <= {
        canonicalize_name(r.name) for _, r in documented}


def test_the_readme_table_names_each_folders_distribution(
    wheels: dict[str, dict[str, object]],
) -> None:
    rows = re.findall(r"^\| `([\w/]+)/` \| `([\w-]+)` \|", (ROOT / "README.md").read_text(),
                      re.MULTILINE)
    assert {folder: name for folder, name in rows} == {
        str(w["project"]): name for name, w in wheels.items()}


def test_the_third_party_example_depends_on_the_core_by_its_own_name(tmp_path: Path) -> None:
    """The test plugin stands for a third-party provider: it must pull in our core."""
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-input",
               "--disable-pip-version-check", "--quiet", "-w", str(tmp_path)]
    if importlib.util.find_spec("hatchling") is not None:
        command.append("--no-build-isolation")
    acme = ROOT / "tests" / "plugins" / "ratatosk-acme"
    done = subprocess.run([*command, str(acme)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(name).decode("utf-8"))
    names = {canonicalize_name(Requirement(r).name) for r in metadata.get_all("Requires-Dist")}
    assert names == {"ratatosk-messaging"}


def test_no_install_hint_in_the_code_names_the_unrelated_ratatosk() -> None:
    """Error messages and docstrings that say what to install use the project's own names."""
    hint = re.compile(r"(?<![\w-])ratatosk\[|pip install ['\"]?ratatosk(?![\w-])")
    sources = [p for folder in ("core/src", "providers", "contrib/src")
               for p in (ROOT / folder).rglob("*.py")]
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in sources
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if hint.search(line)]
    assert offenders == []
