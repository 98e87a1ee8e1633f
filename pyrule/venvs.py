"""Python environments: a rule's `venv: "envs/x.txt"` (a pip requirements file; docs/environments.md).

Each environment is built once into a cache shared by every project, keyed by the file's content
and the Python version: $PYRULE_VENV_CACHE, else $XDG_CACHE_HOME/pyrule/venvs, else
~/.cache/pyrule/venvs. A lock file makes concurrent runs build it once; a build that died is
redone. Its identity, part of the job's signature, is the installed package list (pip freeze).
Shell bodies get its bin/ first on PATH; Python bodies (run in pyrule's interpreter, which has
the same version) get its site-packages first on sys.path as well.
"""

from __future__ import annotations

import os
import sys

from .errors import PipefileError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from collections.abc import Callable

    from .rules import Rule

CACHE_VAR = "PYRULE_VENV_CACHE"
_DONE = "pyrule-freeze.txt"  # written last: the environment is complete; holds its identity

_built: dict[str, str] = {}  # requirements path -> environment directory, once per run
_identities: dict[str, str] = {}  # requirements path -> identity()


def forget() -> None:
    """A new run (in a process that ran one before): read the environments again."""
    _built.clear()
    _identities.clear()


def cache_dir() -> str:
    if os.environ.get(CACHE_VAR):
        return os.environ[CACHE_VAR]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pyrule", "venvs")


def directory(rule: Rule, say: Callable[[str], None] | None = None) -> str:
    """The rule's environment, built first if the cache has none."""
    assert rule.venv is not None
    known = _built.get(rule.venv)
    if known is not None:
        return known
    try:
        with open(rule.venv, "rb") as f:
            text = f.read()
    except OSError as e:
        raise PipefileError(f"rule '{rule.name}': venv: '{rule.venv}': {e.strerror}", rule.where("venv")) from None
    import xxhash

    version = f"py{sys.version_info[0]}.{sys.version_info[1]}"
    key = f"{version}-{xxhash.xxh3_64_hexdigest(text + sys.version.encode())}"
    cache = cache_dir()
    path = os.path.join(cache, key)
    if not os.path.exists(os.path.join(path, _DONE)):
        _build(rule, path, say)
    _built[rule.venv] = path
    return path


def _build(rule: Rule, path: str, say: Callable[[str], None] | None) -> None:
    import fcntl
    import shutil
    import subprocess

    assert rule.venv is not None
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run building it: wait, then find it done
        if os.path.exists(os.path.join(path, _DONE)):
            return
        shutil.rmtree(path, ignore_errors=True)  # a build that died half-way
        (say or _stderr)(f"building the Python environment of {rule.venv} in {path}")
        log = path + ".log"
        python = os.path.join(path, "bin", "python")
        with open(log, "w") as out:
            steps = ([sys.executable, "-m", "venv", path],
                     [python, "-m", "pip", "install", "--disable-pip-version-check", "-r", os.path.abspath(rule.venv)])
            for step in steps:
                if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode:
                    with open(log, encoding="utf-8", errors="replace") as f:
                        tail = "".join(f.readlines()[-5:]).strip()
                    raise PipefileError(f"rule '{rule.name}': building the environment of {rule.venv} failed:\n{tail}",
                                        rule.where("venv"), f"the whole output is in {log}")
        freeze = subprocess.run([python, "-m", "pip", "freeze", "--disable-pip-version-check"], capture_output=True,
                                text=True, stdin=subprocess.DEVNULL).stdout
        with open(os.path.join(path, _DONE + ".tmp"), "w", encoding="utf-8") as f:
            f.write(freeze)
        os.replace(os.path.join(path, _DONE + ".tmp"), os.path.join(path, _DONE))


def _stderr(text: str) -> None:
    print(f"pyrule: {text}", file=sys.stderr, flush=True)


def identity(rule: Rule) -> str:
    """`FILE@DIGEST`: the requirements file and a digest of the installed packages (pip freeze);
    read once per run."""
    import xxhash

    assert rule.venv is not None
    known = _identities.get(rule.venv)
    if known is None:
        with open(os.path.join(directory(rule), _DONE), "rb") as f:
            known = _identities[rule.venv] = f"{rule.venv}@{xxhash.xxh3_64_hexdigest(f.read())[:12]}"
    return known


def activate(rule: Rule, sys_path: bool = False) -> dict[str, str]:
    """The environment variables that put the rule's environment first (and with `sys_path`, in
    a Python body's process, its site-packages first on sys.path)."""
    path = directory(rule)
    if sys_path:
        import glob
        import site

        before = list(sys.path)
        for packages in glob.glob(os.path.join(path, "lib", "python*", "site-packages")):
            site.addsitedir(packages)
        sys.path[:] = [p for p in sys.path if p not in before] + before
    return {"VIRTUAL_ENV": path, "PATH": os.path.join(path, "bin") + os.pathsep + os.environ.get("PATH", "")}
