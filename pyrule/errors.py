"""Errors a user can cause, each with a source location and a hint on what to do."""

from __future__ import annotations

from .record import record


@record(frozen=True)
class Location:
    """A point in a source file; line and column count from 1."""

    file: str
    line: int
    col: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class PyruleError(Exception):
    """A mistake by the user (Pipefile, command line, API): exit code 2, no traceback."""

    exit_code = 2

    def __init__(self, message: str, loc: Location | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.hint = hint

    def __str__(self) -> str:
        where = f"{self.loc}: " if self.loc else ""
        hint = f"\n  hint: {self.hint}" if self.hint else ""
        return f"{where}error: {self.message}{hint}"


class PipefileError(PyruleError):
    """A mistake in a Pipefile: syntax, evaluation, or rules that cannot be planned."""


class UsageError(PyruleError):
    """A mistake on the command line."""


def suggest(word: str, choices) -> str | None:
    """'did you mean ...?' for a misspelt name, or None."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
