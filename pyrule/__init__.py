"""pyrule: a workflow runner as quick to write as a Makefile, as safe to rerun as a database."""

from .version import __version__

__all__ = ["Workflow", "expand", "glob_wildcards", "temp", "protected", "directory", "touch", "ancient", "multiext",
           "upto", "attempt", "__version__"]


def __getattr__(name: str):
    # Lazy: `import pyrule` stays cheap for the command line.
    if name == "Workflow":
        from .api import Workflow

        return Workflow
    if name in ("expand", "glob_wildcards"):
        from . import builtins

        return getattr(builtins, name)
    if name in ("temp", "protected", "directory", "touch", "ancient", "multiext", "upto", "attempt"):
        from . import rules

        return getattr(rules, name)
    raise AttributeError(f"module 'pyrule' has no attribute '{name}'")
