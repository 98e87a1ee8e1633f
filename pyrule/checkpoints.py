"""Checkpoints: rules whose outputs decide the rest of the graph.

An input function asks `checkpoints.NAME.get(**wildcards).output`. While the planner resolves
jobs it installs a resolver here: the checkpoint's job is created (and becomes a dependency of
the asking job); if that job is complete its outputs come back, else `CheckpointPending` tells
the planner that the asking job waits for it. The runner re-plans those jobs once the checkpoint
job has run, in the same invocation.
"""

from __future__ import annotations

from collections.abc import Callable

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import Any


class CheckpointPending(Exception):
    """The checkpoint job has not run yet; raised through the user's input function."""

    def __init__(self, job: Any):
        super().__init__(f"checkpoint {job.name} has not run yet")
        self.job = job


class CheckpointResult:
    def __init__(self, output: Any, wildcards: dict[str, str]):
        self.output = output
        self.wildcards = wildcards


class _Checkpoint:
    def __init__(self, proxy: CheckpointsProxy, name: str):
        self._proxy = proxy
        self._name = name

    def get(self, **wildcards: Any) -> CheckpointResult:
        resolver = self._proxy.resolver
        if resolver is None:
            raise RuntimeError("checkpoints.NAME.get() can only be called from an input function")
        return resolver(self._name, {k: str(v) for k, v in wildcards.items()})


class CheckpointsProxy:
    """The `checkpoints` object of a Pipefile (and `Workflow.checkpoints`)."""

    def __init__(self, rules: dict[str, Any]):
        self._rules = rules
        self.resolver: Callable[[str, dict[str, str]], CheckpointResult] | None = None

    def __getattr__(self, name: str) -> _Checkpoint:
        if name.startswith("_") or name == "resolver":
            raise AttributeError(name)
        rule = self._rules.get(name)
        if rule is None or not rule.checkpoint:
            from .errors import suggest

            names = [n for n, r in self._rules.items() if r.checkpoint]
            hint = suggest(name, names)
            raise AttributeError(f"no checkpoint '{name}'" + (f"; {hint}" if hint else
                                 f" (checkpoints: {', '.join(names) or 'none'})"))
        return _Checkpoint(self, name)
