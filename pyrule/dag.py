"""--dag: the job graph as Graphviz dot, Mermaid, JSON, SVG (laid out by pyrule) or PNG (by Graphviz).

Given the decisions of a dry run, every format also carries each job's current status:
"up-to-date" (decision reason None) or "stale" (it would run), with the reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence

from .errors import UsageError
from .graph import JobGraph

# the same colours as the HTML report (pyrule/report/graph.py)
_FILL = {"up-to-date": "#ced4da", "stale": "#1c7ed6"}
_INK = {"up-to-date": "#212529", "stale": "#ffffff"}


def statuses(decisions: Sequence | None) -> dict[str, tuple[str, str]]:
    """job name -> (status, reason or why) from dry-run decisions."""
    out: dict[str, tuple[str, str]] = {}
    for d in decisions or ():
        if d.reason is None:
            out[d.job.name] = ("up-to-date", d.why or "")
        else:
            out[d.job.name] = ("stale", d.reason)
    return out


def render(graph: JobGraph, fmt: str, decisions: Sequence | None = None) -> str:
    st = statuses(decisions)
    if fmt == "svg":
        return _svg(graph, st)
    if fmt == "json":
        nodes = []
        for j in graph.jobs:
            node = {"id": j.name, "rule": j.rule.name, "wildcards": dict(j.wildcards), "outputs": list(j.outputs),
                    "inputs": list(j.inputs)}
            if j.name in st:
                node["status"], node["reason"] = st[j.name]
            nodes.append(node)
        return json.dumps({
            "nodes": nodes,
            "edges": [{"from": d.name, "to": j.name} for j in graph.jobs for d in j.deps],
        }, indent=1)
    if fmt == "mermaid":
        ids = {j: f"j{i}" for i, j in enumerate(graph.jobs)}
        lines = ["flowchart TD"]
        lines += [f'    {ids[j]}["{j.name.replace(chr(34), "#quot;")}"]' for j in graph.jobs]
        lines += [f"    {ids[d]} --> {ids[j]}" for j in graph.jobs for d in j.deps if d in ids]
        if st:
            for s in ("up-to-date", "stale"):
                members = [ids[j] for j in graph.jobs if st.get(j.name, ("",))[0] == s]
                if members:
                    cls = s.replace("-", "_")
                    lines.append(f"    classDef {cls} fill:{_FILL[s]},color:{_INK[s]}")
                    lines.append(f"    class {','.join(members)} {cls}")
        return "\n".join(lines)
    if fmt in ("dot", "png"):
        return _dot(graph, st)
    raise ValueError(f"unknown --dag format {fmt!r}")


def _dot(graph: JobGraph, st: dict[str, tuple[str, str]]) -> str:
    style = "rounded,filled" if st else "rounded"
    lines = ["digraph pyrule {", "    rankdir=TB;",
             f'    node [shape=box, style="{style}", fontname="sans-serif"];']
    for j in graph.jobs:
        if j.name in st:
            s, why = st[j.name]
            lines.append(f"    {json.dumps(j.name)} [class={json.dumps(s)}, fillcolor={json.dumps(_FILL[s])}, "
                         f"fontcolor={json.dumps(_INK[s])}, tooltip={json.dumps(f'{s}: {why}' if why else s)}];")
        else:
            lines.append(f"    {json.dumps(j.name)};")
    lines += [f"    {json.dumps(d.name)} -> {json.dumps(j.name)};" for j in graph.jobs for d in j.deps]
    lines.append("}")
    return "\n".join(lines)


def _svg(graph: JobGraph, st: dict[str, tuple[str, str]]) -> str:
    from .report import graph as g

    jobs = [{"job": j.name, "rule": j.rule.name, "status": st.get(j.name, ("unknown", ""))[0],
             "reason": st.get(j.name, ("", ""))[1], "deps": [d.name for d in j.deps]} for j in graph.jobs]
    if len(jobs) > g.COLLAPSE_ABOVE:
        nodes, edges = g.rule_nodes(jobs)
    else:
        nodes, edges = g.job_nodes(jobs)
    return g.svg(nodes, edges, standalone=True)


def render_png(graph: JobGraph, decisions: Sequence | None = None) -> bytes:
    """The dot text drawn by Graphviz (`dot -Tpng`), which must be installed."""
    dot = shutil.which("dot")
    if dot is None:
        raise UsageError("--dag png needs Graphviz's `dot` command, which is not installed (not found on PATH)",
                         hint="install Graphviz (e.g. apt-get install graphviz), or use `--dag svg`, "
                              "which pyrule draws itself without Graphviz")
    proc = subprocess.run([dot, "-Tpng"], input=render(graph, "dot", decisions).encode("utf-8"),
                          capture_output=True, check=False)
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise UsageError(f"Graphviz `dot -Tpng` failed (exit {proc.returncode}): {msg[-1] if msg else 'no message'}",
                         hint="`--dag svg` draws the graph without Graphviz")
    return proc.stdout
