"""The VS Code extension's language client (editors/vscode/extension.js): it starts `pyrule
--lsp` for Pipefiles. VS Code itself is not run here; what can be checked without it is: the
manifest wires the code in, the code is valid JavaScript for node, the client library it needs
is a (locked) dependency, installed where node finds it, and requires no newer VS Code than the
manifest says. (The server itself is tested through a real client in tests/e2e/test_lsp.py.)"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import editor_support as es  # noqa: E402

MANIFEST = json.loads((es.VSCODE / "package.json").read_text())


def _version(spec: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", spec)[:3])


def test_the_manifest_starts_the_client_for_pipefiles():
    assert (es.VSCODE / MANIFEST["main"]).is_file()
    assert "onLanguage:pipefile" in MANIFEST["activationEvents"]
    assert "vscode-languageclient" in MANIFEST["dependencies"]
    lock = json.loads((es.VSCODE / "package-lock.json").read_text())
    assert lock["packages"][""]["dependencies"] == MANIFEST["dependencies"]
    assert "node_modules/vscode-languageclient" in lock["packages"]
    settings = MANIFEST["contributes"]["configuration"]["properties"]
    assert settings["pipefile.server.path"]["default"] == "pyrule"
    code = (es.VSCODE / MANIFEST["main"]).read_text()
    for name in settings:  # every setting is read by the code
        assert f'"{name.removeprefix("pipefile.")}"' in code, name
    assert 'args: ["--lsp"]' in code


def test_the_code_is_valid_and_its_library_is_there():
    node = shutil.which("node")
    es.require(node is not None, "node")
    result = es.run([node, "--check", str(es.VSCODE / MANIFEST["main"])])
    assert result.returncode == 0, result.stderr
    es.require((es.VSCODE / "node_modules" / "vscode-languageclient").is_dir(),
               "vscode-languageclient (npm install in editors/vscode)")
    result = es.run([node, "-e", "console.log(require.resolve('vscode-languageclient/node'))"], cwd=es.VSCODE)
    assert result.returncode == 0, result.stderr
    library = json.loads((es.VSCODE / "node_modules" / "vscode-languageclient" / "package.json").read_text())
    assert _version(MANIFEST["engines"]["vscode"]) >= _version(library["engines"]["vscode"])


def test_packaging_keeps_the_client_library():
    """`.vscodeignore` leaves the test tools out of a .vsix, but not the client library."""
    ignore = (es.VSCODE / ".vscodeignore").read_text().split()
    kept = {line[1:] for line in ignore if line.startswith("!")}
    lock = json.loads((es.VSCODE / "package-lock.json").read_text())
    runtime = {name.removeprefix("node_modules/") for name, p in lock["packages"].items()
               if name.startswith("node_modules/") and not p.get("dev") and name.count("node_modules/") == 1}
    assert runtime, "no runtime dependency in the lock file"
    for name in runtime:
        assert f"node_modules/{name}/**" in kept, name
