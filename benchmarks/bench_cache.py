"""Restoring a large output from the cache (pyrule/cache.py) against `cp` of the same file.

    python benchmarks/bench_cache.py [SIZE_MB] [DIR]     (default 1024 MB in /tmp)

Prints the file system, then the best of 3 of: `cp` of the file, a restore from the cache
(copy or reflink + verifying the copy against its xxh3-128 hash), and a publication."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyrule.cache import Cache  # noqa: E402


def best(f, n: int = 3) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    size_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    base = sys.argv[2] if len(sys.argv) > 2 else "/tmp"
    work = tempfile.mkdtemp(prefix="pyrule-bench-cache-", dir=base)
    try:
        os.chdir(work)
        fs = subprocess.run(["df", "-T", "."], capture_output=True, text=True).stdout.splitlines()[-1].split()[1]
        with open("out.bin", "wb") as f:
            for _ in range(size_mb):
                f.write(os.urandom(1 << 20))
        cache = Cache(os.path.join(work, "cache"))

        def publish() -> None:
            shutil.rmtree(cache.root)
            os.makedirs(cache.root)
            cache.__init__(cache.root)
            cache.publish("a" * 32, ["out.bin"])

        t_publish = best(publish)

        def restore() -> None:
            assert cache.restore("a" * 32, ["out.bin"]) is not None

        def cp() -> None:
            subprocess.run(["cp", "out.bin", "copy.bin"], check=True)
            os.unlink("copy.bin")

        t_cp, t_restore = best(cp), best(restore)
        print(f"{size_mb} MB on {fs}: cp {t_cp:.2f} s, restore {t_restore:.2f} s "
              f"({t_restore / t_cp:.2f}x cp), publish {t_publish:.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
