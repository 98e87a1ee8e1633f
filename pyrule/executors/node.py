"""The node side of an executor that runs jobs elsewhere (slurm.py): `pyrule --run-job NAME
-f PIPEFILE -- [NAME=VALUE ...] TARGET` loads the Pipefile with the run's overrides (cli.py
reads them as typed), plans TARGET, and runs the body of the job called NAME in this process.
Only for a Python body that uses a top-level name whose value cannot be shipped (a class defined
in the Pipefile, an object that does not pickle): the others run from their shipped spec, with no
Pipefile (pyjob.py, pyjob_run.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from ..errors import UsageError, suggest
from .base import exit_code_of


def run_job(rules, name: str, targets: list[str]) -> int:
    """Plan `targets`, find the job called `name`, and run its body here; returns its exit code."""
    import tempfile
    import traceback

    from ..jobspec import job_spec
    from ..plan import plan

    graph = plan(rules, targets)
    job = next((j for j in graph.jobs if j.name == name), None)
    if job is None:
        raise UsageError(
            f"--run-job {name}: no such job in the graph of {', '.join(targets) or 'the default targets'}",
            hint=suggest(name, [j.name for j in graph.jobs]),
        )
    with tempfile.TemporaryDirectory(prefix="pyrule-run-job-") as tmp:
        spec = job_spec(job, rules.namespace, tmp, 1)
    value = os.environ.get("PYRULE_VALUE")  # where the runner reads the body's value back (values.py)
    os.environ.update(spec.env)
    if value:
        os.environ["PYRULE_VALUE"] = value
    for d in spec.output_dirs:
        os.makedirs(d, exist_ok=True)
    sys.stdout.flush()
    if spec.shell is not None:
        code = subprocess.run(["bash", "-euo", "pipefail", "-c", spec.shell], stdin=subprocess.DEVNULL).returncode
        return code if code >= 0 else 128 - code
    assert spec.python is not None
    try:
        spec.python()
    except SystemExit as e:
        return exit_code_of(e)
    except BaseException:  # a failing body is a failed job
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return 0
