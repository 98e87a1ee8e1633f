"""The Python API: build the same Rules a Pipefile compiles into, plan them and run them.

    from pyrule import Workflow

    wf = Workflow()
    wf.rule("count", output="counts/{s}.tsv", input="reads/{s}.fastq", shell="wc -l {input} > {output}")

    @wf.rule(output="summary.txt", input=expand("counts/{s}.tsv", s=["a", "b"]))
    def summarize(input, output):
        ...

    wf.plan(["summary.txt"])

Defining rules is pyrule.define (the Pipefile loader fills the same class); this adds planning
and running, so that the stages before planning never import the runner.
"""

from __future__ import annotations

import os

from .define import Definitions

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import Any


class Workflow(Definitions):
    def plan(self, targets: list[str] | tuple[str, ...] = (), until: list[str] | tuple[str, ...] = ()):
        """The job graph for `targets` (default targets when empty)."""
        from .plan import plan

        # Paths are relative to the project directory: plan there, as run() does.
        cwd = os.getcwd()
        os.chdir(self.directory)
        try:
            return plan(self.rules, list(targets), until=list(until), directory=self.directory)
        finally:
            os.chdir(cwd)

    def run(self, targets: list[str] | tuple[str, ...] = (), **options: Any):
        """Plan and run `targets`; see pyrule.run.run for the options."""
        from .run import run

        return run(self.rules, list(targets), directory=self.directory, **options)
