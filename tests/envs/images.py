"""Test images and engines for the container tests (tests/e2e/test_containers.py, tests/slurm): the
images are made here with `podman import` / `docker import` from a directory holding a static
busybox, as no image registry is used. Docker runs as a test daemon of its own
(tests/envs/dockerd.sh: its own socket and data under DOCKER_DIR)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CONF = str(HERE / "containers.conf")
ENV = {"CONTAINERS_CONF": CONF, "PYRULE_CONTAINER_ENGINE": "podman"}
IMAGE = "localhost/pyrule-envs-test:1"
DOCKER_DIR = os.environ.get("PYRULE_DOCKER_DIR", "/tmp/pyrule-docker")
DOCKER_ENV = {"DOCKER_HOST": f"unix://{DOCKER_DIR}/docker.sock", "PYRULE_CONTAINER_ENGINE": "docker"}
ENVS = {"podman": ENV, "docker": DOCKER_ENV}  # what pyrule and the engine's client need, per engine


def cli(engine: str, *args: str) -> str:
    """Run the engine's client (with ENVS[engine]); its stdout; an AssertionError when it fails."""
    p = subprocess.run([engine, *args], env={**os.environ, **ENVS[engine]}, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, f"{engine} {' '.join(args)}: {p.stderr}"
    return p.stdout


def podman(*args: str) -> str:
    return cli("podman", *args)


def make_image(tmp: Path, tag: str, release: str, engine: str = "podman", user: str = "") -> str:
    """An image holding busybox, its applets and /etc/os-release (ID=`release`), run as `user` (its
    USER; default root); returns its id."""
    root = tmp / f"root-{release}"
    (root / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True).stdout.split()
    for name in applets:
        if name != "busybox":
            (root / "bin" / name).symlink_to("busybox")
    (root / "etc" / "os-release").write_text(f"ID={release}\n")
    archive = tmp / f"{release}.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(root, arcname=".")
    quiet = ["-q"] if engine == "podman" else []  # docker import has no -q: it prints the id alone
    change = ["--change", f"USER {user}"] if user else []
    return cli(engine, "import", *quiet, *change, str(archive), tag).split()[-1]


def _dockerd(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(HERE / "dockerd.sh"), command, DOCKER_DIR], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def start_docker() -> bool:
    """Start the test dockerd unless it runs (True: started here, so the caller stops it with
    stop_docker); skip the test (a failure under CI=true) with the daemon's log tail when it cannot
    start, or when `docker` is not Docker's own client (podman-docker's shim is not what is tested)."""
    docker = shutil.which("docker")
    if docker is None or os.geteuid() != 0:
        pytest.skip("needs root and docker (bash tests/envs/install.sh, as root)")
    version = subprocess.run([docker, "--version"], capture_output=True, text=True).stdout
    if not version.startswith("Docker version"):
        pytest.skip(f"{docker} is not Docker's client ({version.strip()!r}): podman-docker's shim?")
    if _dockerd("status").returncode == 0:
        return False
    p = _dockerd("start")
    if p.returncode != 0:
        pytest.skip(f"the test dockerd did not start (tests/envs/dockerd.sh start {DOCKER_DIR}):\n{p.stdout}{p.stderr}")
    return True


def stop_docker() -> None:
    _dockerd("stop")


PYTHON_IMAGE = "localhost/pyrule-envs-python:1"
_STDLIB_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data", "site-packages",
                "dist-packages", "unittest", "distutils", "asyncio", "email", "xml", "http", "curses", "sqlite3"}


def make_python_image(tmp: Path, tag: str = PYTHON_IMAGE) -> str:
    """An image holding busybox (its sh), /etc/os-release (ID=pyrule-python) and a copy of this
    machine's /usr/bin/python3.X with its standard library (the big, unneeded packages left out)
    and the shared libraries `ldd` names; made once (an image of that tag is reused)."""
    if subprocess.run(["podman", "image", "exists", tag], env={**os.environ, **ENV}).returncode == 0:
        return tag
    version = f"python3.{subprocess.run(['/usr/bin/python3', '-c', 'import sys; print(sys.version_info[1])'], capture_output=True, text=True).stdout.strip()}"  # noqa: E501
    root = tmp / "root-python"
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "bin").mkdir()
    (root / "etc").mkdir()
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    for name in ("sh", "cat", "echo", "ls"):
        (root / "bin" / name).symlink_to("busybox")
    (root / "etc" / "os-release").write_text("ID=pyrule-python\n")
    shutil.copy(f"/usr/bin/{version}", root / "usr" / "bin" / "python3")
    shutil.copytree(f"/usr/lib/{version}", root / "usr" / "lib" / version, symlinks=True,
                    ignore=lambda d, names: [n for n in names if n in _STDLIB_SKIP or n.startswith("config-")])
    libs = subprocess.run(["ldd", f"/usr/bin/{version}"], capture_output=True, text=True).stdout
    for path in lib_paths(libs):
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.realpath(path), target)
    archive = tmp / "python.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(root, arcname=".")
    podman("import", "-q", str(archive), tag)
    return tag


def lib_paths(ldd: str) -> list[str]:
    """The absolute library paths in `ldd`'s output."""
    import re

    return re.findall(r"(/\S+) \(0x", ldd)
