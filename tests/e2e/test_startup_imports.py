"""What a plain run imports. Start-up is most of a small build's time (benchmarks W0 and W2), and
each of these modules cost a millisecond or more to import: they must not creep back onto the
path of a build or a no-op (a guard without timings; the benchmarks measure the time)."""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import pytest
from harness import pipefile

import pyrule

# dataclasses pulls in inspect, ast, dis and tokenize; pathlib pulls in urllib.parse and ipaddress
HEAVY = {"dataclasses", "inspect", "ast", "dis", "tokenize", "pathlib", "urllib", "ipaddress", "typing",
         "lark", "networkx", "psutil", "rich", "subprocess", "shutil", "hashlib", "tempfile", "logging",
         "threading", "random", "difflib", "ctypes",
         "pygls", "lsprotocol", "cattrs", "asyncio"}  # the language server's (pyrule --lsp only)

# -S: no site-packages .pth files, which import some of these before pyrule does (the
# interpreter's own start-up, not pyrule's); pyrule and its dependencies come from PYTHONPATH.
_CODE = ("import os, sys\nfrom pyrule.cli import main\nrc = main(sys.argv[1:])\n"
         "open(os.environ['MODULES_OUT'], 'w').write('\\n'.join(sorted(sys.modules)))\nsys.exit(rc)\n")


def _imported(d: Path, *args: str) -> set[str]:
    out = d.parent / "modules.txt"
    path = [os.path.dirname(os.path.dirname(pyrule.__file__)), *site.getsitepackages()]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path), MODULES_OUT=str(out), XDG_CACHE_HOME=str(d.parent / "cache"))
    p = subprocess.run([sys.executable, "-S", "-c", _CODE, *args], cwd=d, env=env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    return set(out.read_text().split())


@pytest.mark.parametrize("run", ["build", "no-op", "dry run"])
def test_a_run_imports_none_of_the_slow_modules(tmp_path: Path, run: str):
    d = tmp_path / "project"
    d.mkdir()
    pipefile(d, """
        rule b:
            output: "b.txt"
            input: "a.txt"
            shell: cat {input} > {output}

        rule a:
            output: "a.txt"
            params: n=3
            shell: echo {params.n} > {output}
    """)
    assert "lark" in _imported(d, "-n")  # the first parse: a later run reads the parse cache
    if run == "no-op":
        _imported(d, "-q")
    modules = _imported(d, "-n" if run == "dry run" else "-q")
    assert (d / "b.txt").exists() == (run != "dry run")
    assert {"pyrule.run", "pyrule.state"} <= modules
    assert ("sqlite3" in modules) == (run != "dry run")  # (a dry run here: no store yet, see below)
    assert {m.split(".")[0] for m in modules} & HEAVY == set()


# Imported by the first store (state.State) or journal opened: a dry run of a project without
# them (a first `pyrule -n`) needs none of them.
STORE = {"sqlite3", "json", "datetime"}


@pytest.mark.parametrize("store", [False, True])
def test_a_dry_run_without_a_store_imports_no_sqlite3_nor_json(tmp_path: Path, store: bool):
    d = tmp_path / "project"
    d.mkdir()
    pipefile(d, """
        rule all:
            input: expand("out/{i}.txt", i=range(3))

        rule copy:
            output: "out/{i}.txt"
            shell: echo {wildcards.i} > {output}
    """)
    _imported(d, "-n")  # (the parse cache)
    if store:
        _imported(d, "-q", "out/0.txt")
    imported = _imported(d, "-n")
    modules = {m.split(".")[0] for m in imported}
    assert (d / "out" / "1.txt").exists() is False
    assert modules & STORE == (STORE if store else set())
    # no store, no no-op memo to look up: its key (a pass over every rule's paths) is not made
    assert ("pyrule.noop_memo" in imported) == store
