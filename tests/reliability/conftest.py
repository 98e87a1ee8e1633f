"""The reliability suite: fault injection, concurrency, fuzzing, hostile names, damaged state.

By default every test runs a small number of trials (the whole directory in a few minutes).
`pytest tests/reliability --soak` runs the long versions: at least 200 kill trials per signal,
100k fuzz inputs, and the tests marked `soak`, which are skipped otherwise. The option is
registered here, so give the directory on the command line (or set PYRULE_SOAK=1, which works
from anywhere). `--trials N` and `--fuzz-examples N` override the counts.

PYRULE_RELIABILITY_SEED sets the base seed of the random kill moments (default 20240601);
PYRULE_RELIABILITY_REPORT=FILE appends one JSON line per test with its figures (trials, kills
survived, processes, fuzz inputs, names): docs/reliability.md was filled from such a file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_util import soak_enabled  # beside this file (not in here: see there)

HERE = Path(__file__).resolve().parent


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("reliability")
    group.addoption("--soak", action="store_true", default=False,
                    help="run the long reliability soak tests (tests/reliability)")
    group.addoption("--trials", type=int, default=None, metavar="N",
                    help="kill trials per signal in tests/reliability/test_faults.py")
    group.addoption("--fuzz-examples", type=int, default=None, metavar="N",
                    help="examples per fuzz test in tests/reliability/test_fuzz.py")




def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if soak_enabled(config):
        return
    skip = pytest.mark.skip(reason="soak test: run with `pytest tests/reliability --soak` (or PYRULE_SOAK=1)")
    for item in items:
        if "soak" in item.keywords and HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(skip)


@pytest.fixture
def soak(request: pytest.FixtureRequest) -> bool:
    """Whether the long versions run."""
    return soak_enabled(request.config)
