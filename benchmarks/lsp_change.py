"""How fast `pyrule --lsp` answers edits of a large Pipefile, through a real LSP client.

    python benchmarks/lsp_change.py [--rules 2000] [--edits 20]

Generates a chain of N rules (2,000: ~480 KB), starts `python -m pyrule --lsp` (this checkout),
opens the file and times, from the notification sent to the diagnostics received:
an edit inside one rule, a line inserted at the top (every piece moves down), an error typed in
a rule (the error is re-parsed in place), and a completion request after `{params.`.
Needs the optional extra (pip install 'pyrule[lsp]'). The on-save check is off: it is not on
the typing path.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types as T
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parent.parent


def generated(n: int) -> str:
    parts = ['SAMPLES = ["a", "b"]\n']
    for i in range(n):
        source = '"in/{sample}.txt"' if i == 0 else f"rules.r{i - 1}.output"
        parts.append(f'rule r{i}:\n    """Step {i}."""\n    output: "out/{i}/{{sample}}.txt"\n    input: {source}\n'
                     f'    params: n = {i}, label = "x{i}"\n    shell: echo {{params.n}} {{input}} > {{output}}\n')
    return "\n".join(parts)


async def main(rules: int, edits: int) -> None:
    text = generated(rules)
    lines = text.split("\n")
    middle = next(i for i, ln in enumerate(lines) if ln.startswith(f"    params: n = {rules // 2},"))
    client = LanguageClient("bench", "1")
    published: asyncio.Queue = asyncio.Queue()

    @client.feature(T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def _published(params):
        published.put_nowait(time.perf_counter())

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "Pipefile").write_text(text)
        uri = (Path(d) / "Pipefile").as_uri()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        await client.start_io(sys.executable, "-m", "pyrule", "--lsp", cwd=d, env=env)
        await client.initialize_async(T.InitializeParams(capabilities=T.ClientCapabilities(),
                                                         initialization_options={"checkOnSave": False}))
        client.initialized(T.InitializedParams())
        start = time.perf_counter()
        client.text_document_did_open(T.DidOpenTextDocumentParams(T.TextDocumentItem(uri, "pipefile", 1, text)))
        print(f"{rules} rules, {len(text) / 1000:.0f} KB; open: {await published.get() - start:.3f} s")
        version = 1

        async def change(rng: T.Range, new: str) -> float:
            nonlocal version
            version += 1
            sent = time.perf_counter()
            client.text_document_did_change(T.DidChangeTextDocumentParams(
                T.VersionedTextDocumentIdentifier(version=version, uri=uri),
                [T.TextDocumentContentChangePartial(rng, new)]))
            return await published.get() - sent

        def at(line: int, a: int, b: int) -> T.Range:
            return T.Range(T.Position(line, a), T.Position(line, b))

        results: dict[str, list[float]] = {"edit in a rule": [], "line inserted at the top": [],
                                           "error typed (and removed)": [], "completion after {params.": []}
        for k in range(edits):
            results["edit in a rule"].append(await change(at(middle, 16, 20 + (k > 0)), str(10000 + k)))
            results["line inserted at the top"].append(await change(at(1, 0, 0), f"X{k} = {k}\n"))
            middle += 1
            results["error typed (and removed)"].append(await change(at(middle - 2, 4, 10), "ouput:"))
            await change(at(middle - 2, 4, 10), "output")
            sent = time.perf_counter()
            await client.text_document_completion_async(T.CompletionParams(
                T.TextDocumentIdentifier(uri), T.Position(middle + 1, len("    shell: echo {params."))))
            results["completion after {params."].append(time.perf_counter() - sent)
        for name, times in results.items():
            print(f"{name}: median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", type=int, default=2000)
    ap.add_argument("--edits", type=int, default=20)
    args = ap.parse_args()
    asyncio.run(main(args.rules, args.edits))
