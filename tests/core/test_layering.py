"""The core's shape: imports go one way, at module top, and providers use only public names.

* No import cycles among the core's modules (module-level imports; ``TYPE_CHECKING`` blocks are
  for annotations only and do not count).
* Imports inside functions only for heavy optional leaves (asyncio, httpx, rich, ...), the lazy
  public namespace (``ratatosk.__getattr__``) and the listed lazy loads that keep start-up fast.
* The project's providers and the documented example import no ``ratatosk._*`` module and touch
  no underscored attribute of :class:`ratatosk.Connector`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import ratatosk

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core" / "src" / "ratatosk"

# what a function may import: heavy or optional leaves, never a part of the core's own layers
HEAVY_LEAVES = {
    "asyncio", "httpx", "rich", "rich.console", "rich.table", "rich.progress", "certifi",
    "phonenumbers", "aiohttp", "yarl", "psycopg", "limits", "limits.storage", "limits.strategies",
    "limits.errors", "importlib.metadata", "importlib.resources", "importlib.util",
    "urllib.request", "json", "cattrs", "concurrent.futures", "opentelemetry",
}
# lazy loads inside the core that keep `import ratatosk` / `ratatosk providers` fast; each is a
# leaf that is not needed on start-up (module -> what it loads on first use)
LAZY_LOADS = {
    "ratatosk.connector._runtime": {"ratatosk.transports._asyncio", "ratatosk.transports._stdlib"},
    "ratatosk.connector._base": {"ratatosk.connector._blocking"},
    "ratatosk.schema._model": {"ratatosk.schema._json"},
    "ratatosk.cli._main": {"ratatosk.cli._send", "ratatosk._connect", "ratatosk._errors",
                           "ratatosk"},
    "ratatosk.cli._send": {"ratatosk._connect", "ratatosk._serialization", "ratatosk.plugins"},
    "ratatosk.transports._asyncio": {"ratatosk.transports._http"},
    "ratatosk.transports._stdlib": {"ratatosk.transports._http"},
    "ratatosk.transports._h11": {"ratatosk"},
    "ratatosk._connect": {"ratatosk.plugins", "ratatosk.schema", "ratatosk.routing"},
    "ratatosk.testing": {"ratatosk._connect", "ratatosk.schema", "ratatosk.connector",
                         "ratatosk.hookspecs", "ratatosk.plugins"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(module: str, is_package: bool, level: int, target: str | None) -> str:
    if not level:
        return target or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, *([target] if target else [])])


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path) -> Iterator[tuple[str, bool, list[str]]]:
    """(imported module, at module level?, names) for each import statement of ``path``."""
    module = _module_name(path)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def visit(node: ast.AST, top: bool) -> Iterator[tuple[str, bool, list[str]]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, ast.ImportFrom):
                target = _absolute(module, is_package, child.level, child.module)
                yield target, top, [a.name for a in child.names]
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, top, []
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                yield from visit(child, False)
            else:
                yield from visit(child, top)

    yield from visit(tree, True)


def _core_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in CORE.rglob("*.py")}


def _resolve(target: str, names: list[str], modules: dict[str, Path]) -> set[str]:
    """The core modules an import statement loads (``from pkg import mod`` loads pkg.mod)."""
    submodules = {f"{target}.{name}" for name in names if f"{target}.{name}" in modules}
    if submodules:  # `from package import module`: the package itself is already loaded
        return submodules
    return {target} if target in modules else set()


def _find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def walk(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                walk(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node, [])
    return cycles


def test_the_cycle_finder_finds_cycles() -> None:
    assert _find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _find_cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_the_core_import_graph_is_read() -> None:
    modules = _core_modules()
    base = {t for t, top, _ in _imports(modules["ratatosk.connector._base"]) if top}
    assert {"ratatosk.plugins", "ratatosk.schema", "ratatosk.connector._operation"} <= base


def test_the_core_has_no_import_cycles() -> None:
    modules = _core_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for target, top, names in _imports(path):
            if top and target.startswith("ratatosk"):
                graph[name] |= _resolve(target, names, modules) - {name}
    cycles = _find_cycles(graph)
    assert cycles == []


def test_imports_inside_functions_are_only_heavy_leaves_or_listed_lazy_loads() -> None:
    problems = []
    for name, path in sorted(_core_modules().items()):
        if name == "ratatosk":  # the lazy public namespace (PEP 562 __getattr__)
            continue
        for target, top, names in _imports(path):
            if top:
                continue
            loaded = _resolve(target, names, _core_modules()) or {target}
            for module in loaded:
                if module in HEAVY_LEAVES or module.split(".")[0] in HEAVY_LEAVES:
                    continue
                if module in LAZY_LOADS.get(name, set()):
                    continue
                problems.append(f"{name} imports {module} inside a function")
    assert problems == []


def _provider_sources() -> list[Path]:
    return [*sorted((ROOT / "providers" / "twilio" / "src").rglob("*.py")),
            *sorted((ROOT / "providers" / "vonage" / "src").rglob("*.py")),
            *sorted((ROOT / "tests" / "plugins" / "ratatosk-acme" / "src").rglob("*.py")),
            ROOT / "tests" / "core" / "example_connector.py"]


def test_providers_import_only_public_core_names() -> None:
    offenders = []
    for path in _provider_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                parts = node.module.split(".")
                private = [p for p in parts if p.startswith("_")]
                if parts[0] == "ratatosk" and private:
                    offenders.append(f"{path.relative_to(ROOT)}: from {node.module}")
                if parts[0] == "ratatosk":
                    offenders += [f"{path.relative_to(ROOT)}: {a.name} from {node.module}"
                                  for a in node.names if a.name.startswith("_")]
            elif isinstance(node, ast.Import):
                offenders += [f"{path.relative_to(ROOT)}: import {a.name}" for a in node.names
                              if a.name.startswith("ratatosk.") and "._" in a.name]
    assert offenders == []


def _connector_private_names() -> set[str]:
    names = {n for n in vars(ratatosk.Connector) if n.startswith("_") and not n.startswith("__")}
    base = CORE / "connector" / "_base.py"
    for node in ast.walk(ast.parse(base.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "self" and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            names.add(node.attr)
    return names


def test_providers_touch_no_underscored_connector_attribute() -> None:
    private = _connector_private_names()
    assert {"_state", "_schema", "_initialize", "_settings"} <= private
    offenders = []
    for path in _provider_sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for cls in ast.walk(tree):
            if not isinstance(cls, ast.ClassDef):
                continue
            bases = " ".join(ast.unparse(b) for b in cls.bases)
            if "Connector" not in bases and "Mixin" not in bases:
                continue  # only connector classes (and their mixins) inherit the base's names
            for node in ast.walk(cls):
                if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                        and node.value.id == "self" and node.attr in private):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} self.{node.attr}")
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                        node.name in private):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} def {node.name}")
    assert offenders == []
