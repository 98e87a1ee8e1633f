"""--dag: the job graph as Graphviz dot, Mermaid, or JSON."""

from __future__ import annotations

import json

from .graph import JobGraph


def render(graph: JobGraph, fmt: str) -> str:
    if fmt == "json":
        return json.dumps({
            "nodes": [{"id": j.name, "rule": j.rule.name, "wildcards": j.wildcards, "outputs": list(j.outputs),
                       "inputs": list(j.inputs)} for j in graph.jobs],
            "edges": [{"from": d.name, "to": j.name} for j in graph.jobs for d in j.deps],
        }, indent=1)
    if fmt == "mermaid":
        ids = {j: f"j{i}" for i, j in enumerate(graph.jobs)}
        lines = ["flowchart TD"]
        lines += [f'    {ids[j]}["{j.name.replace(chr(34), "#quot;")}"]' for j in graph.jobs]
        lines += [f"    {ids[d]} --> {ids[j]}" for j in graph.jobs for d in j.deps if d in ids]
        return "\n".join(lines)
    lines = ["digraph pyrule {", "    rankdir=TB;", '    node [shape=box, style=rounded, fontname="sans-serif"];']
    lines += [f"    {json.dumps(j.name)};" for j in graph.jobs]
    lines += [f"    {json.dumps(d.name)} -> {json.dumps(j.name)};" for j in graph.jobs for d in j.deps]
    lines.append("}")
    return "\n".join(lines)
