"""The reliability suite: fault injection, concurrency, fuzzing, hostile names, damaged state.

By default every test runs a small number of trials (the whole directory in a few minutes).
`pytest --soak` runs the long versions: at least 200 kill trials per signal, 100k fuzz inputs,
and the tests marked `soak`, which are skipped otherwise (PYRULE_SOAK=1 does the same). The
options are registered in tests/conftest.py, so they work from anywhere. `--trials N` and
`--fuzz-examples N` override the counts.

PYRULE_RELIABILITY_SEED sets the base seed of the random kill moments (default 20240601);
PYRULE_RELIABILITY_REPORT=FILE appends one JSON line per test with its figures (trials, kills
survived, processes, fuzz inputs, names): docs/reliability.md was filled from such a file.
"""

from __future__ import annotations

import pytest
from reliability_util import soak_enabled  # beside this file (not in here: see there)


@pytest.fixture
def soak(request: pytest.FixtureRequest) -> bool:
    """Whether the long versions run."""
    return soak_enabled(request.config)
