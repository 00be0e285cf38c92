"""The engine's structure, checked: stage folders, and no import cycles between modules."""

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "ndid_desktop" / "engine"
STAGES = ("files", "features", "match", "groups", "actions", "evaluation")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _load_time_imports(path: Path) -> set[str]:
    """Modules ``path`` depends on at module level, the type checker's imports included (a
    cycle hidden behind TYPE_CHECKING is still two modules that each need the other)."""
    found: set[str] = set()
    body = ast.parse(path.read_text(encoding="utf-8")).body
    for block in body:
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test):
            body = [*body, *block.body]
    for node in body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m.startswith("ndid_desktop.engine")}


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in ENGINE.rglob("*.py")}
    return {
        name: {m for m in _load_time_imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }


def test_the_engine_folders_are_the_pipeline_stages() -> None:
    for stage in STAGES:
        assert (ENGINE / stage / "__init__.py").is_file(), stage
    loose = sorted(p.stem for p in ENGINE.glob("*.py"))
    # Outside the stage folders: the composition (pipeline, compare, report) and what every
    # stage shares (config, types, progress, errors, extras, executors, worker lifetime).
    assert set(loose) <= {
        "__init__", "pipeline", "compare", "report", "config", "types", "progress", "errors",
        "extras", "executors", "worker_lifetime",
    }  # fmt: skip


def test_no_import_cycles_in_the_engine() -> None:
    graph = _graph()
    assert len(graph) > 40 and graph["ndid_desktop.engine.pipeline"]  # the walk found it
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for child in sorted(graph[name]):
            visit(child, [*path, name])
        done.add(name)

    for module in sorted(graph):
        visit(module, [])
