"""The layering of ARCHITECTURE.md, read from the code with `ast` so that it stays true.

schemas ← connectors ← pipelines ← doors (safecampus/: CLI, demo, gateways, simulator, …), config at the
bottom. A layer imports only layers below it and itself; nothing imports in a cycle; modules of
pipelines/ and connectors/ are readable in one sitting.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"schemas": 1, "connectors": 2, "pipelines": 3}  # config is 0, the doors 4
CONFIG = "safecampus.config"


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] != "safecampus":
        parts.insert(0, "safecampus")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in ("safecampus", "schemas", "connectors", "pipelines", "dashboards"):
        for path in (ROOT / folder).rglob("*.py"):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _imports(path: Path, name: str) -> set[str]:
    """Project modules imported anywhere in the file (top level, in functions, under TYPE_CHECKING)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


GRAPH = {name: _imports(path, name) for name, path in MODULES.items()}


def _layer(module: str) -> int:
    if module == CONFIG:
        return 0
    parts = module.split(".")
    return LAYERS.get(parts[1], 4) if len(parts) > 1 else 4


def test_the_project_has_modules_in_every_layer() -> None:
    assert {_layer(m) for m in MODULES} == {0, 1, 2, 3, 4}
    assert sum(len(targets) for targets in GRAPH.values()) > 100  # the walk found the imports


def test_no_layer_imports_one_above_it() -> None:
    upward = sorted(
        f"{module} → {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if _layer(module) < 4 and _layer(target) > _layer(module)
    )
    assert upward == []


def test_no_import_cycles() -> None:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(module: str, stack: list[str]) -> None:
        state[module] = 1
        for target in sorted(GRAPH.get(module, ())):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target, [*stack, target])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_modules_and_classes_are_readable_in_one_sitting() -> None:
    long_modules, long_classes = [], []
    for name, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 400:  # every layer, the doors and dashboards/ included
            long_modules.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and (node.end_lineno or 0) - node.lineno + 1 > 200:
                long_classes.append(f"{name}.{node.name}: {(node.end_lineno or 0) - node.lineno + 1} lines")
    assert long_modules == []
    assert long_classes == []
