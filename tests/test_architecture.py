"""The shape of the code (issue 18): pyrule's modules import each other without a cycle, counting
imports inside functions, and none imports another module's _private name. The import graph is
read from the source with `ast`, so an import that only runs on some path counts too."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "pyrule"


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
