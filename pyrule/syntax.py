"""The Pipefile's abstract syntax tree: plain records (record.py), each node with its location.

Python code is kept as source text (`Code`) with the location of its first character, so the
loader can compile it and report Python's own errors at the right Pipefile line.
"""

from __future__ import annotations

from .errors import Location
from .record import field, record


@record(frozen=True)
class Code:
    """Python source taken verbatim from a Pipefile (an expression, arguments, or a block)."""

    text: str
    loc: Location


@record(frozen=True)
class Body:
    """A raw shell or Python body, dedented; `loc` is its first line."""

    text: str
    loc: Location


@record(frozen=True)
class Target:
    """A path or rule name as written in a short rule or `default:` (bare or quoted)."""

    text: str
    quoted: bool
    loc: Location


@record(frozen=True)
class Assignment:
    name: str
    op: str  # "=" or "?="
    value: Code
    loc: Location


@record(frozen=True)
class Import:
    code: Code
    loc: Location


@record(frozen=True)
class Include:
    path: Code
    loc: Location


@record(frozen=True)
class ConfigFile:
    path: Code
    loc: Location


@record(frozen=True)
class CacheDir:
    """`cache: "DIR"`: the cache of job results (cache.py) when neither --cache nor $PYRULE_CACHE says."""

    path: Code
    loc: Location


@record(frozen=True)
class Container:  # top-level `container: IMAGE`: the default of the rules below with a shell body
    image: Code
    loc: Location


@record(frozen=True)
class Default:
    targets: list[Target]
    loc: Location


@record(frozen=True)
class PythonBlock:
    body: Body
    loc: Location


@record(frozen=True)
class Section:
    """`name: value`; expression sections hold one `Code` per line, body sections a `Body`."""

    name: str
    loc: Location
    values: list[Code] = field(default_factory=list)
    body: Body | None = None


@record(frozen=True)
class RuleDecl:
    kind: str  # "rule" or "checkpoint"
    name: str
    doc: str | None
    sections: dict[str, Section]
    loc: Location


@record(frozen=True)
class ShortRule:
    outputs: list[Target]
    inputs: list[Target]
    body: Body | None
    loc: Location


Statement = Assignment | Import | Include | ConfigFile | CacheDir | Container | Default | PythonBlock | RuleDecl | ShortRule


@record(frozen=True)
class Pipefile:
    path: str
    statements: list[Statement]
    text: str
