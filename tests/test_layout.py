"""The layout: no import cycles among lstmkit's modules or its subpackages, counting the imports
inside functions too (a lazy import is still a dependency)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _modules() -> dict[str, Path]:
    mods = {}
    for path in (SRC / "lstmkit").rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


def _imports(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """The lstmkit modules ``name`` imports anywhere in its body (``from pkg import sub`` counts
    as an import of ``pkg.sub`` alone)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = ".".join(pkg[: len(pkg) - node.level + 1] + ([base] if base else []))
            subs = {f"{base}.{a.name}" for a in node.names}
            out.update(subs & mods.keys() if subs <= mods.keys() else {base} | (subs & mods.keys()))
    return {m for m in out if m in mods and m not in (name, "lstmkit")}  # lstmkit: lazy names


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (as a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return [*stack[stack.index(m) :], m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {name: _imports(name, path, mods) for name, path in mods.items()}


def test_no_module_imports_itself_back():
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_subpackage_imports_itself_back():
    def pkg(name: str) -> str:
        return ".".join(name.split(".")[:2])

    packages: dict[str, set[str]] = {}
    for name, deps in _graph().items():
        packages.setdefault(pkg(name), set()).update(pkg(d) for d in deps if pkg(d) != pkg(name))
    cycle = _cycle(packages)
    assert cycle is None, "import cycle between subpackages: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


MAX_LINES = 520  # "no module over about 500 lines"


def test_no_module_is_over_about_500_lines():
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}  # fmt: skip
    assert not long, f"modules over {MAX_LINES} lines: {long}"


CLI_TASKS = ("classify_cmds", "regress_cmds", "forecast_cmds", "textgen_cmds")
CLI_BASE = ("args", "launch", "sequence_args")


def test_each_task_cli_module_stands_alone_on_the_shared_base():
    # run_cmds dispatches evaluate / predict / extract / resume to them from above
    graph = _graph()
    for task in CLI_TASKS:
        cli = {d.rsplit(".", 1)[1] for d in graph[f"lstmkit.cli.{task}"] if ".cli." in d}
        assert cli <= set(CLI_BASE), f"lstmkit.cli.{task} imports {sorted(cli - set(CLI_BASE))}"
    base = {d for b in CLI_BASE for d in graph[f"lstmkit.cli.{b}"] if ".cli." in d}
    assert base <= {f"lstmkit.cli.{b}" for b in CLI_BASE}, base
    assert {f"lstmkit.cli.{t}" for t in CLI_TASKS} <= graph["lstmkit.cli.run_cmds"]
