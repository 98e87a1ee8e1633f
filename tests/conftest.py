"""Fixtures and hooks of the whole suite (the helpers themselves are in tests/harness.py): the
`project` fixture, per-test parse caches, killing what a test left running, the --soak options,
and CI's rule that a skip is a failure."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from harness import Project, mount


def in_ci() -> bool:
    """CI=true (set by .ci/run): a test that cannot run for want of a component fails, not skips."""
    return os.environ.get("CI", "").strip().lower() == "true"


def soak_enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("--soak", default=False)) or os.environ.get("PYRULE_SOAK") == "1"


def pytest_addoption(parser: pytest.Parser) -> None:
    # Here, in the root conftest, so that `pytest --soak` works from anywhere (not only with tests/reliability given).
    group = parser.getgroup("reliability")
    group.addoption("--soak", action="store_true", default=False,
                    help="run the long soak tests (marked soak) and the long versions of tests/reliability")
    group.addoption("--trials", type=int, default=None, metavar="N",
                    help="kill trials per signal in tests/reliability/test_faults.py")
    group.addoption("--fuzz-examples", type=int, default=None, metavar="N",
                    help="examples per fuzz test in tests/reliability/test_fuzz.py")


def pytest_configure(config: pytest.Config) -> None:
    # Mutation testing (docs/testing.md): mutmut's "stats" pass records which tests reach each
    # mutated function, in this process only. A `python -m pyrule` child would inherit the mode and
    # fail (it runs in a temporary directory, where mutmut finds no config), so keep it process-local.
    if os.environ.get("MUTANT_UNDER_TEST") == "stats":
        from mutmut.mutation.trampoline import set_mutant_under_test

        set_mutant_under_test("stats")
        del os.environ["MUTANT_UNDER_TEST"]


_SOAK_SKIP = "soak test: run with `pytest --soak` (or PYRULE_SOAK=1)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if soak_enabled(config):
        return
    skip = pytest.mark.skip(reason=_SOAK_SKIP)
    for item in items:
        if item.get_closest_marker("soak") is not None:  # not `in item.keywords`: that holds path parts too
            item.add_marker(skip)


def _fail_skip_in_ci(report, node) -> None:
    """Under CI=true a skip is a failure: CI installs everything, so a skip there means a
    component is missing or broken and the test silently proved nothing. Exceptions: soak tests
    without --soak, and skips a test declares harmless with @pytest.mark.ci_may_skip("REASON TEXT")."""
    if not (report.skipped and in_ci()) or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if reason.removeprefix("Skipped: ") == _SOAK_SKIP:
        return
    if any(m.args and m.args[0] in reason for m in node.iter_markers("ci_may_skip")):
        return
    report.outcome = "failed"
    report.longrepr = f"CI=true, so this skip is a failure (install what it needs): {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    _fail_skip_in_ci(outcome.get_result(), item)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    outcome = yield  # a whole module skipped (pytest.skip(allow_module_level=True), importorskip)
    _fail_skip_in_ci(outcome.get_result(), collector)


@pytest.fixture(autouse=True)
def _stop_leftover_processes(request: pytest.FixtureRequest):
    """After each test (and its other fixtures), kill every process still working in its
    tmp_path: a pyrule or a job the test left running when it failed half-way (a job looping on
    a `hold` file, a pyrule waiting for a lock) would otherwise run on into later tests."""
    if "tmp_path" not in request.fixturenames:
        yield
        return
    root = str(request.getfixturevalue("tmp_path"))
    yield
    import psutil  # a dependency of pyrule's

    left = []
    for proc in psutil.process_iter(["cwd"]):
        cwd = proc.info["cwd"]
        if proc.pid != os.getpid() and cwd and (cwd == root or cwd.startswith(root + os.sep)):
            left.append(proc)
    for proc in left:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(left, timeout=10)


@pytest.fixture(scope="session", autouse=True)
def _own_cache_directory(tmp_path_factory: pytest.TempPathFactory):
    """pyrule's parse cache in a directory of this session, not the user's ~/.cache (for
    module- and session-scoped fixtures; each test gets its own, below)."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))


@pytest.fixture(autouse=True)
def _own_parse_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """A fresh parse cache for each test, so no test's code path (cached or parsed) depends on
    which tests ran before it: a test's first pyrule run always parses, later ones hit the cache.
    (Lark keeps its parser-table cache in the temporary directory, not here, so this costs one
    parse, ~tens of ms, per test.)"""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture
def read_only(tmp_path: Path):
    """Make a directory read-only with a read-only bind mount (even root cannot write there)."""
    mounted: list[Path] = []

    def make(d: Path) -> None:
        if not (mount("--bind", str(d), str(d)) and (mounted.append(d) or True)
                and mount("-o", "remount,ro,bind", str(d))):
            pytest.skip("needs root and mount --bind (a read-only bind mount)")

    yield make
    for d in reversed(mounted):
        # -l: a failed test may leave a file open there; a plain umount would then fail and leave
        # the mount behind for every later run
        subprocess.run(["umount", "-l", str(d)], capture_output=True, timeout=60)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A fresh project directory; the test process also runs in it (for in-process planning)."""
    root = tmp_path / "proj"
    root.mkdir()
    monkeypatch.chdir(root)
    return Project(root)
