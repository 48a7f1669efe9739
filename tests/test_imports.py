"""The package's import graph: every module imports on its own, module-level imports form no
cycle, and the core (pipeline, engine) never imports what plugs into it (docs/architecture.md)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "flowsql"
# What plugs into the core through flowsql.frontends and the sink factory, and what sits above it.
NOT_IN_CORE = (
    "flowsql.kda",
    "flowsql.cdc",
    "flowsql.catalog",
    "flowsql.status",
    "flowsql.delivery",
    "flowsql.sources",
    "flowsql.runner",
    "flowsql.cli",
    "flowsql.compile",
)
CORE = ("flowsql.pipeline", "flowsql.engine")


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            package = module if is_package else module.rpartition(".")[0]
            parent = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*parent, base] if base else parent)
        return [f"{base}.{alias.name}" for alias in node.names] + [base]
    return []


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path, modules: dict[str, Path], module_level: bool) -> set[str]:
    """The package's modules `module` imports: at module level (the body, outside TYPE_CHECKING
    blocks) or anywhere outside TYPE_CHECKING blocks."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _is_type_checking(node):
            return
        for name in _imported(node, module, path.name == "__init__.py"):
            resolved = _resolve(name, modules) if name.startswith("flowsql") else None
            if resolved is not None and resolved != module:
                found.add(resolved)
        if not module_level:
            for child in ast.iter_child_nodes(node):
                visit(child)

    for node in tree.body:
        visit(node)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, if it has one (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for following in sorted(graph.get(node, ())):
            if state.get(following) == 1:
                return path[path.index(following) :] + [following]
            if following not in state:
                found = visit(following)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_module_level_imports_form_no_cycle() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules, module_level=True) for name, path in modules.items()}
    # A module's own packages are initialised before it, so an import of one is no cycle.
    graph = {name: {d for d in deps if not name.startswith(d + ".")} for name, deps in graph.items()}
    assert _cycle(graph) is None


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_core_imports_no_extension() -> None:
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        if name.startswith(CORE):
            for imported in _imports(name, path, modules, module_level=False):
                if imported.startswith(NOT_IN_CORE):
                    wrong.append(f"{name} imports {imported}")
    assert wrong == []


def test_every_module_imports_alone() -> None:
    """Each module imported first, in a fresh set of flowsql modules (third-party ones stay loaded)."""
    script = (
        "import importlib, sys\n"
        "failed = []\n"
        "for name in sys.argv[1:]:\n"
        "    for loaded in [m for m in sys.modules if m == 'flowsql' or m.startswith('flowsql.')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{name}: {type(exc).__name__}: {exc}')\n"
        "print('\\n'.join(failed))\n"
    )
    names = [n for n in _modules() if n != "flowsql.__main__"]
    result = subprocess.run(
        [sys.executable, "-c", script, *names],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PACKAGE.parent,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


# Loaded only by the runs that use them: each costs start-up time that `validate` and a run from
# files never need (benchmarks/startup.py measures it).
LOADED_WHERE_USED = (
    "boto3",
    "botocore",
    "pyiceberg",
    "krcf",
    "fastparquet",
    "urllib3",
    "http.server",
    "pandas",
    "pyarrow.parquet",
    "pyarrow.csv",
    "pyarrow.fs",
    "flowsql.sources.kinesis",
)


def _loaded_after(argv: list[str], cwd: Path) -> list[str]:
    """Which of LOADED_WHERE_USED a `flowsql` command in a fresh process has imported."""
    script = (
        "import sys\n"
        "from flowsql.cli import main\n"
        "code = main()\n"
        f"print(sorted(m for m in {LOADED_WHERE_USED!r} if m in sys.modules))\n"
        "sys.exit(code)\n"
    )
    # As the command runs: main() reads its arguments from sys.argv.
    result = subprocess.run(
        [sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


def test_validate_and_a_small_run_import_no_cloud_library(tmp_path: Path) -> None:
    example = PACKAGE.parent / "pipelines" / "clickstream_demo.sql"
    assert _loaded_after(["validate", str(example)], PACKAGE.parent) == []
    pipeline = tmp_path / "tiny.sql"
    pipeline.write_text(
        "CREATE SOURCE clicks (page VARCHAR, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5 seconds') "
        "WITH (connector = 'generator', count = 10);\n"
        f"CREATE SINK out WITH (connector = 'file', path = '{tmp_path / 'out'}', format = 'json');\n"
        "INSERT INTO out SELECT window_end, page, count(*) AS views FROM TUMBLE(clicks, ts, INTERVAL '1 minute') "
        "GROUP BY ALL;\n"
    )
    assert _loaded_after(["run", str(pipeline), "--quiet", "--no-checkpoint"], PACKAGE.parent) == []
    assert len(list((tmp_path / "out").rglob("*.json"))) == 1
    # A Parquet sink loads the Parquet writer it uses, and still no cloud library.
    parquet = tmp_path / "parquet.sql"
    parquet.write_text(pipeline.read_text().replace("'json'", "'parquet'"))
    assert _loaded_after(["run", str(parquet), "--quiet", "--no-checkpoint"], PACKAGE.parent) == [
        "pyarrow.fs",
        "pyarrow.parquet",
    ]
