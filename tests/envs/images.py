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
