"""The shape of the code (issue 18): pyrule's modules import each other without a cycle, counting
imports inside functions, and none imports another module's _private name. The import graph is
read from the source with `ast`, so an import that only runs on some path counts too. Nothing
outside executors/ knows a particular executor. The tests keep their layout: tests/unit/ and
tests/e2e/, one harness."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[2] / "pyrule"


def _name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path) -> tuple[nx.DiGraph, list[str]]:
    """The package's modules and who imports whom; and each import of another module's _private name."""
    files = {_name(root, p): p for p in sorted(root.rglob("*.py"))}
    graph, private = nx.DiGraph(), []
    for module, path in files.items():
        graph.add_node(module)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                graph.add_edges_from((module, a.name) for a in node.names if a.name in files)
                continue
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + [node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                if f"{target}.{alias.name}" in files:  # `from . import module`
                    graph.add_edge(module, f"{target}.{alias.name}")
                elif target in files:
                    graph.add_edge(module, target)
                    name = alias.name
                    if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
                        private.append(f"{path.relative_to(root.parent)}:{node.lineno}: {module} imports {target}.{name}")
    graph.remove_edges_from(list(nx.selfloop_edges(graph)))
    return graph, private


def cycles(graph: nx.DiGraph) -> list[list[str]]:
    return [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]


def test_no_import_cycle_among_pyrules_modules():
    graph, _ = import_graph(PACKAGE)
    assert len(graph) > 40  # the whole package was read
    found = cycles(graph)
    assert not found, "import cycle(s): " + "; ".join(
        " -> ".join(next(iter(nx.simple_cycles(graph.subgraph(c))))) for c in found)


def test_no_module_imports_another_modules_private_names():
    _, private = import_graph(PACKAGE)
    assert not private, "\n".join(private)


def test_the_checks_find_a_cycle_and_a_private_import(tmp_path: Path):
    """The two tests above can fail: a cycle made by an import inside a function, and a private name."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub.b import f\n")
    (pkg / "sub" / "b.py").write_text(textwrap.dedent("""
        def f():
            from ..a import _helper
            from .. import a
    """))
    graph, private = import_graph(pkg)
    assert cycles(graph) == [["pkg.a", "pkg.sub.b"]]
    assert private == ["pkg/sub/b.py:3: pkg.sub.b imports pkg.a._helper"]


# -- executors: everything particular to one lives in pyrule/executors/ ---------------------------

# Outside pyrule/executors/, only these of its modules are imported: the registry, the interface
# (JobSpec, JobResult, Executor) and the node side of a remote run (`pyrule --run-job`).
EXECUTOR_API = {"pyrule.executors", "pyrule.executors.base", "pyrule.executors.node"}
# The one place "slurm" may appear outside pyrule/executors/: the rule's `slurm:` section of the
# Pipefile language (parsed and checked there, read by executors/slurm.py). Pinned word by word.
PIPEFILE_SLURM_SECTION = {
    "pyrule.define": {"slurm", "_SLURM_KEYS", "unknown slurm option '"},
    "pyrule.highlight": {"slurm"},
    "pyrule.load": {"slurm"},
}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring constants of a module, its classes and functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def _words(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, word) of each identifier and string constant (not docstrings; comments are not in
    the tree) that code holds."""
    skip = _docstrings(tree)
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            out.append((line, node.value))
        elif isinstance(node, ast.Name):
            out.append((line, node.id))
        elif isinstance(node, ast.Attribute):
            out.append((line, node.attr))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.append((line, node.name))
        elif isinstance(node, ast.arg):
            out.append((line, node.arg))
        elif isinstance(node, ast.keyword) and node.arg:
            out.append((line, node.arg))
        elif isinstance(node, ast.alias):
            out.append((line, node.asname or node.name))
    return out


def executor_leaks(root: Path, word: str = "slurm", allowed: dict[str, set[str]] | None = None) -> list[str]:
    """What modules outside ROOT/executors/ know of particular executors: an import of an
    executors/ module other than the registry, the interface and the node program, or of a
    concrete executor class; and any word of code holding `word` beyond `allowed`."""
    allowed = PIPEFILE_SLURM_SECTION if allowed is None else allowed
    package = root.name
    api = {m.replace("pyrule", package, 1) for m in EXECUTOR_API}
    graph, _ = import_graph(root)
    found = []
    for module, target in graph.edges:
        if not module.startswith(f"{package}.executors") and target.startswith(f"{package}.executors") \
                and target not in api:
            found.append(f"{module} imports {target}")
    for path in sorted(root.rglob("*.py")):
        module = _name(root, path)
        if module.startswith(f"{package}.executors"):
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("executors"):
                found += [f"{module}:{node.lineno}: imports {a.name}" for a in node.names
                          if a.name.endswith("Executor") and a.name != "Executor"]
        ok = allowed.get(module.replace(package, "pyrule", 1), set())
        found += [f"{module}:{line}: {w!r}" for line, w in _words(tree) if word in w.lower() and w not in ok]
    return found


def test_no_module_outside_executors_knows_a_particular_executor():
    """Adding an executor touches executors/ and one registry line: the runner, the scheduler, the
    store, --status and the command line ask the registry and the Executor interface."""
    leaks = executor_leaks(PACKAGE)
    assert not leaks, "\n".join(leaks)


def test_the_executor_check_finds_what_leaks(tmp_path: Path):
    """Today's run.py (before executors/ held it all) fails it: an import of executors.slurm, a
    Slurm branch, and the Slurm id as a negative pgid."""
    pkg = tmp_path / "pyrule"
    (pkg / "executors").mkdir(parents=True)
    for name in ("__init__", "executors/__init__", "executors/base", "executors/slurm", "executors/local"):
        (pkg / f"{name}.py").write_text("")
    (pkg / "define.py").write_text('SECTIONS = ("slurm",)\n')
    (pkg / "run.py").write_text(textwrap.dedent('''
        """Slurm in a docstring is fine."""
        from .executors import LocalExecutor, get  # a concrete class through the registry
        # Slurm in a comment is fine.

        def _start(self, job, pid):
            from .executors.slurm import cancel_orphans
            slurm = self.options.executor == "slurm"
            self.state.set_pgid(job.name, -pid if slurm else pid, now=slurm)
    '''))
    assert sorted(executor_leaks(pkg)) == [
        "pyrule.run imports pyrule.executors.slurm",
        "pyrule.run:3: imports LocalExecutor",
        "pyrule.run:8: 'slurm'",  # the variable, and the executor's name
        "pyrule.run:8: 'slurm'",
        "pyrule.run:9: 'slurm'",  # the variable, twice
        "pyrule.run:9: 'slurm'",
    ]


# --- the tests' own layout ------------------------------------------------------------------------

TESTS = PACKAGE.parent / "tests"
TOP_LEVEL = ("conftest.py", "harness.py")  # fixtures and hooks; the one project harness


def layout_problems(tests: Path) -> list[str]:
    """What breaks the tests' layout (docs/testing.md, "Layout"): a Python file directly in tests/
    other than conftest.py and harness.py (tests go to unit/ or e2e/), and a folder of unit/ or
    e2e/ without __init__.py (the two are packages, so that unit/test_run.py and e2e/test_run.py
    may share a name)."""
    found = [f"tests/{p.name}: put tests in tests/unit/ (in process) or tests/e2e/ (the pyrule command), "
             "helpers in tests/harness.py" for p in sorted(tests.glob("*.py")) if p.name not in TOP_LEVEL]
    for top in ("unit", "e2e"):
        # (not __pycache__, nor hidden folders, which pytest does not collect: an installer's venv)
        folders = [tests / top, *sorted(d for d in (tests / top).rglob("*") if d.is_dir() and d.name != "__pycache__"
                                        and not any(part.startswith(".") for part in d.relative_to(tests).parts))]
        found += [f"tests/{d.relative_to(tests)}/: no __init__.py" for d in folders
                  if d.is_dir() and not (d / "__init__.py").exists()]
    return found


def test_no_test_file_directly_in_tests_and_unit_and_e2e_are_packages():
    assert (TESTS / "unit").is_dir() and (TESTS / "e2e").is_dir()
    problems = layout_problems(TESTS)
    assert not problems, "\n".join(problems)


def test_the_layout_check_finds_a_stray_test_file_and_a_missing_package(tmp_path: Path):
    for name in ("conftest.py", "harness.py", "test_run.py", "runner_helpers.py", "unit/__init__.py",
                 "unit/test_plan.py", "unit/executors/test_local.py", "e2e/test_run.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    assert [p.split(":")[0] for p in layout_problems(tmp_path)] == [
        "tests/runner_helpers.py", "tests/test_run.py", "tests/unit/executors/", "tests/e2e/"]
