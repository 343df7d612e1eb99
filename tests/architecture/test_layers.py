"""The layering of docs/architecture.md, checked on the source: imports point downward only.

Every `import` counts, including lazy ones inside functions. A module may import modules
of its own layer or of a lower one; inside a layer, packages (and inside a package,
modules) must not import each other in a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "slipway"

# lowest first; a module belongs to the first entry whose prefix it has
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "vocabulary",
        (
            "slipway._version",
            "slipway.entities",
            "slipway.errors",
            "slipway.config",
            "slipway.reports",
        ),
    ),
    ("persistence", ("slipway.store", "slipway.artifacts")),
    ("model format", ("slipway.models",)),
    ("registry", ("slipway.registry",)),
    ("tracking", ("slipway.tracking",)),
    (
        "lifecycle",
        (
            "slipway.serving",
            "slipway.monitoring",
            "slipway.features",
            "slipway.data",
            "slipway.pipelines",
            "slipway.auth",
            "slipway.deploy",
        ),
    ),
]
ENTRY = "entry points"  # everything else: slipway/__init__, cli, server, demo, shortcuts
RANK = {name: rank for rank, (name, _) in enumerate([*LAYERS, (ENTRY, ())])}


def layer_of(module: str) -> str:
    for name, prefixes in LAYERS:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return name
    return ENTRY


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}


def resolve(name: str) -> str | None:
    """The slipway module an imported name refers to (a module, or the module defining it)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> set[str]:
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from slipway import config` imports the submodule slipway.config;
            # `from slipway.store.db import x` imports slipway.store.db
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            ]
        else:
            continue
        for name in names:
            if name == "slipway" or name.startswith("slipway."):
                target = resolve(name)
                if target and target != module:
                    found.add(target)
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


def unit_of(module: str) -> str:
    """The package a module counts under for the package-cycle check."""
    parts = module.split(".")
    return ".".join(parts[:2])


def test_no_lower_layer_imports_a_higher_one() -> None:
    wrong = [
        f"{m} ({layer_of(m)}) imports {t} ({layer_of(t)})"
        for m, targets in GRAPH.items()
        for t in targets
        if RANK[layer_of(t)] > RANK[layer_of(m)]
    ]
    assert not wrong, "imports against the layering:\n" + "\n".join(sorted(wrong))


def test_only_entry_points_import_the_slipway_package_itself() -> None:
    wrong = sorted(m for m, t in GRAPH.items() if "slipway" in t and layer_of(m) != ENTRY)
    assert not wrong, f"these import `slipway` (the whole fluent API) instead of a module: {wrong}"


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_cycle_between_packages() -> None:
    edges: dict[str, set[str]] = {}
    for m, targets in GRAPH.items():
        if m == "slipway":
            continue  # the root re-exports the fluent API; nothing below may import it
        for t in targets:
            if unit_of(t) != unit_of(m):
                edges.setdefault(unit_of(m), set()).add(unit_of(t))
    assert _cycle(edges) is None, " -> ".join(_cycle(edges) or [])


@pytest.mark.parametrize("package", sorted({unit_of(m) for m in MODULES if m != "slipway"}))
def test_no_cycle_between_modules_of_a_package(package: str) -> None:
    edges = {
        m: {t for t in targets if unit_of(t) == package}
        for m, targets in GRAPH.items()
        if unit_of(m) == package
    }
    assert _cycle(edges) is None, " -> ".join(_cycle(edges) or [])


def test_the_checker_sees_a_lazy_upward_import(tmp_path: Path) -> None:
    """The check reads imports inside functions too (a lazy import is still an import)."""
    source = "def f():\n    from slipway.tracking.fluent import log_model\n"
    tree = ast.parse(source)
    lazy = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert lazy and resolve(lazy[0].module or "") == "slipway.tracking.fluent"
    assert RANK[layer_of("slipway.tracking.fluent")] > RANK[layer_of("slipway.models.pyfunc")]
