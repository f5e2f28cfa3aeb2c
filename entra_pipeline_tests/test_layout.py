"""The layout is the data flow: each folder imports only the stages before it (docs/architecture.md,
"Layout"). A new import that crosses the flow the other way fails here, naming the modules."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "entra_pipeline"
# Top-level modules every stage may use; they import only each other.
SHARED = {"config", "entities", "redact", "interrupts", "killpoints", "memory", "retry", "jsontext", "dagster_private"}
STAGES = ("store", "graph", "transform", "destinations", "sync", "defs", "cli")  # in the order of the flow
MAY_IMPORT = {
    **{stage: SHARED | set(STAGES[:i]) for i, stage in enumerate(STAGES)},
    "cli": SHARED | set(STAGES) | {"simulator"},  # the demo and `simulator serve` start the simulator
    "definitions": SHARED | {"defs"},  # the code location
    "simulator": set(),  # a model of Graph: the connector reaches it only over HTTPS
}


def _imports(path: Path) -> set[str]:
    """The first-level units (folder or top module) of the project that `path` imports."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts[:-1]  # the package a relative import starts from
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            names = [".".join([*base, node.module])] if node.module else [".".join([*base, a.name]) for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {name.split(".")[1] for name in names if name.startswith("entra_pipeline.")}
    return found


def test_each_folder_imports_only_the_stages_before_it():
    crossing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        unit = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if unit == "__init__":
            continue
        allowed = MAY_IMPORT.get(unit, SHARED) | {unit}
        crossing += [
            f"{path.relative_to(PACKAGE.parent)} imports entra_pipeline.{other}"
            for other in sorted(_imports(path) - allowed)
        ]
    assert crossing == [], "imports against the data flow:\n" + "\n".join(crossing)


def test_every_folder_and_top_module_has_a_place_in_the_flow():
    units = {
        p.name.removesuffix(".py")
        for p in PACKAGE.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"
    } - {"__init__"}
    assert units - set(MAY_IMPORT) - SHARED == set(), "a new folder or module: give it a place in MAY_IMPORT"
