"""Test images for the container tests (tests/e2e/test_containers.py, tests/slurm): made here with
`podman import` from a directory holding a static busybox, as no image registry is used."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

CONF = str(Path(__file__).resolve().parent / "containers.conf")
ENV = {"CONTAINERS_CONF": CONF, "PYRULE_CONTAINER_ENGINE": "podman"}
IMAGE = "localhost/pyrule-envs-test:1"


def podman(*args: str) -> str:
    p = subprocess.run(["podman", *args], env={**os.environ, **ENV}, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"podman {' '.join(args)}: {p.stderr}"
    return p.stdout


def make_image(tmp: Path, tag: str, release: str) -> str:
    """An image holding busybox, its applets and /etc/os-release (ID=`release`); returns its id."""
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
    return podman("import", "-q", str(archive), tag).strip()


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
