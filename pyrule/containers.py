"""Containers: a rule's body run in an image (`container:`; docs/environments.md).

The engine is named by --container-engine (or $PYRULE_CONTAINER_ENGINE), else the first of
ENGINES found on PATH. Each engine is one command template (`_command`): the project directory
is mounted at its own path and is the working directory, so the body's paths do not change.
The image's identity (the engine's image id; for a .sif file, its content) is resolved once per
run and is part of the job's signature. A job's container is named after the run and the job,
and a marker file (.pyrule/containers/NAME) holds the engine while it runs: an interrupt stops
the container (not only the engine's client), and recovery (recover.py) stops the containers of
a pyrule that died.
"""

from __future__ import annotations

import os
import shlex

from .errors import PipefileError, UsageError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .graph import Job
    from .rules import Rule

ENGINES = ("podman", "docker", "apptainer", "singularity")  # the order PATH is searched in
ENGINE_VAR = "PYRULE_CONTAINER_ENGINE"  # --container-engine sets it (so that a Slurm node sees it)
MARKERS = os.path.join(".pyrule", "containers")
_NAMED = ("podman", "docker")  # engines whose containers outlive their client: named, stopped by name

_ids: dict[tuple[str, str], str] = {}  # (engine, image) -> identity, once per run


def forget() -> None:
    """A new run (in a process that ran one before): resolve the images again."""
    _ids.clear()


def engine(rule: Rule | None = None) -> str:
    """The engine's program (a name on PATH or a path); a UsageError when there is none."""
    import shutil

    chosen = os.environ.get(ENGINE_VAR)
    for name in [chosen] if chosen else ENGINES:
        if shutil.which(name):
            return name
    where = f" (rule '{rule.name}' has container: at {rule.where('container')})" if rule else ""
    if chosen:
        there = ", ".join(n for n in ENGINES if shutil.which(n)) or "none"
        raise UsageError(f"container engine '{chosen}' is not on PATH{where}",
                         hint=f"--container-engine (or ${ENGINE_VAR}) named it: install it (docs/environments.md), "
                              f"or name one on PATH now: {there}")
    raise UsageError(f"no container engine on PATH{where}",
                     hint=f"install one of {', '.join(ENGINES)} (docs/environments.md), or name one with "
                          "--container-engine PATH")


def kind(program: str) -> str:
    """`podman`, `docker` or `apptainer` (singularity is apptainer's former name)."""
    base = os.path.basename(program)
    return "apptainer" if base in ("apptainer", "singularity") else "docker" if base == "docker" else "podman"


def identity(rule: Rule) -> str:
    """`IMAGE@ID`: the rule's image and the engine's identity of it, resolved once per run; a
    PipefileError naming the rule when the engine has no such image."""
    assert rule.container is not None
    program = engine(rule)
    key = (program, rule.container)
    known = _ids.get(key)
    if known is None:
        known = _ids[key] = f"{rule.container}@{_resolve(program, rule)}"
    return known


def software(rule: Rule) -> str:
    """What the signature records of the rule's software: its image's or its venv's identity."""
    if rule.container is not None:
        return "container " + identity(rule)
    from .venvs import identity as venv_identity

    return "venv " + venv_identity(rule)


def check(graph: Any, namespace: dict[str, Any] | None = None) -> None:
    """Before any job starts (and before -n decides): resolve the image and build the venv of every
    rule the graph's jobs use, afresh, so that a missing one stops the run at once, naming the rule;
    for a Python body in a container, also that the image has python3 and that the top-level names
    the body uses can be shipped to it (pyjob.py)."""
    from . import venvs

    forget()
    venvs.forget()
    seen = set()
    for job in graph.jobs:
        rule = job.rule
        if (rule.container is not None or rule.venv is not None) and id(rule) not in seen:
            seen.add(id(rule))
            software(rule)
            if rule.container is not None and (rule.python is not None or rule.script is not None):
                _check_python(rule, namespace or {})


def _check_python(rule: Rule, namespace: dict[str, Any]) -> None:
    import subprocess

    from .pyjob import Unshippable
    from .pyjob import check as shippable

    try:
        shippable(rule, namespace, True)
    except Unshippable as e:
        raise PipefileError(str(e), rule.where("python") or rule.where("container"),
                            "in a container, a Python body gets the values of the top-level names it uses, and "
                            "the functions defined in the Pipefile by their source: pass what it needs as "
                            "params:, or define it inside the body (docs/environments.md)") from None
    program = engine(rule)
    image = rule.container
    assert image is not None
    key = (program, "python3 " + image)
    if key in _ids:
        return
    probe = ["python3", "-c", "import sys; sys.exit(sys.version_info < (3, 6))"]
    cmd = ([program, "exec", image, *probe] if kind(program) == "apptainer"
           else [program, "run", "--rm", image, *probe])
    p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        said = (p.stderr.strip().splitlines() or [f"exit code {p.returncode}"])[-1]
        if p.returncode in (126, 127) or "not found" in said.lower() or "no such file" in said.lower():
            what = "has no python3"
        elif p.returncode == 1 and not p.stderr.strip():
            what = "has a python3 older than 3.6"
        else:
            raise PipefileError(f"rule '{rule.name}': cannot start the image {image} to look for python3 for its "
                                f"Python body: {program}: {said}", rule.where("container"),
                                f"check that '{shlex.join(cmd)}' runs")
        raise PipefileError(f"rule '{rule.name}': the image {image} {what} to run its Python body ({program}: {said})",
                            rule.where("container"), "install Python 3 in the image, or write the body as a shell: body")
    _ids[key] = "yes"


def build_all(rules: Any, say: Callable[[str], None]) -> int:
    """--build-envs: build every rule's venv and resolve every rule's image (with python3, for a
    Python body's); print each once."""
    seen = set()
    for rule in rules.rules.values():
        if (rule.container or rule.venv) and (rule.container, rule.venv) not in seen:
            seen.add((rule.container, rule.venv))
            say(software(rule))
        if rule.container is not None and (rule.python is not None or rule.script is not None):
            _check_python(rule, rules.namespace)
    return 0


def _resolve(program: str, rule: Rule) -> str:
    import subprocess

    image = rule.container
    assert image is not None
    if kind(program) == "apptainer":
        if "://" in image:  # docker://..., library://...: the engine pulls it; its name is all we know
            return image
        try:
            import xxhash

            with open(image, "rb") as f:
                return "xxh3:" + xxhash.xxh3_128_hexdigest(f.read())
        except OSError as e:
            raise PipefileError(f"rule '{rule.name}': container image '{image}': {e.strerror}",
                                rule.where("container")) from None
    p = subprocess.run([program, "image", "inspect", "--format", "{{.Id}}", image], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0 or not p.stdout.strip():
        raise PipefileError(f"rule '{rule.name}': {program} has no image '{image}'", rule.where("container"),
                            f"pyrule pulls no images: '{program} pull {image}' (or build it) first")
    return p.stdout.split()[0].removeprefix("sha256:")[:12]


def name_of(marker: str) -> str:
    """The container's name for a job (`PYRULE_JOB`'s value: RUN-ID/JOB)."""
    import xxhash

    return "pyrule-" + xxhash.xxh3_64_hexdigest(marker.encode("utf-8", "surrogateescape"))


def wrap(job: Job, body: str, env: dict[str, str], workdir: str) -> str:
    """A bash script that runs `body` in the job's container and stops that container when the
    job is interrupted."""
    rule = job.rule
    program = engine(rule)
    image = rule.container
    assert image is not None
    kind_ = kind(program)
    mounts = [workdir]
    for path in job.inputs:  # inputs outside the project: read-only, at their own paths
        if os.path.isabs(path) and not path.startswith(workdir + os.sep) and path not in mounts:
            mounts.append(path)
    # the image's sh, with -eu (and pipefail when it has it), as bash -euo pipefail runs shell bodies
    inner = ["sh", "-euc", "(set -o pipefail) 2>/dev/null && set -o pipefail\n" + body]
    names = sorted({*env, "PYRULE_REPORT"})
    if kind_ == "apptainer":  # runs as the user, in the job's processes: nothing to stop by name
        binds = [a for m in mounts for a in ("--bind", m if m == workdir else f"{m}:{m}:ro")]
        return shlex.join([program, "exec", *binds, "--pwd", workdir, image, *inner]) + "\n"
    name = name_of(env["PYRULE_JOB"])
    cmd = [program, "run", "--rm", "--name", name, "--label", f"pyrule.job={env['PYRULE_JOB']}",
           *(a for m in mounts for a in ("-v", f"{m}:{m}" if m == workdir else f"{m}:{m}:ro")), "-w", workdir,
           *(a for n in names for a in ("-e", n))]
    if kind_ == "docker" or os.geteuid() == 0:  # outputs belong to the invoking user, whatever the image's USER
        cmd += ["--user", f"{os.getuid()}:{os.getgid()}"]
    else:  # rootless podman: the user's own id inside too
        cmd += ["--userns=keep-id"]
    marker = shlex.quote(os.path.join(MARKERS, name))
    return (f"mkdir -p {MARKERS}; printf '%s\\n' {shlex.quote(program)} > {marker}\n"
            f"stop() {{ {shlex.quote(program)} stop -t 2 {name} >/dev/null 2>&1 || :; rm -f {marker}; }}\n"
            "trap 'stop; exit 143' TERM INT HUP\n"
            f"{shlex.join([*cmd, image, *inner])} &\n"
            f"wait $! && s=0 || s=$?\nrm -f {marker}\nexit $s\n")


def stop_leftover(run_id: str, job: str) -> bool:
    """Stop the container of a job that a dead pyrule ran, if it has one (recover.py)."""
    import subprocess

    name = name_of(f"{run_id}/{job}")
    marker = os.path.join(MARKERS, name)
    try:
        with open(marker, encoding="utf-8") as f:
            program = f.read().strip()
    except OSError:
        return False
    if program:
        subprocess.run([program, "stop", "-t", "2", name], capture_output=True, stdin=subprocess.DEVNULL)
        subprocess.run([program, "rm", "-f", name], capture_output=True, stdin=subprocess.DEVNULL)
    os.unlink(marker)
    return True
