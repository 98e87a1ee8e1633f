"""Configuration files and values: `configfile: "config.yaml"` in a Pipefile, `--configfile FILE`
and `--config KEY=VALUE` on the command line, all into the Pipefile's `config` dict.

YAML (PyYAML), JSON and TOML (tomllib, tomli before Python 3.11) by the file's extension; a
mistake in a file is reported at its own line and column. Each file's top-level keys replace
the ones before (a shallow merge); the command line's files and values are applied last, and
again after every `configfile:` the Pipefile reads, so that they always win (as in Snakemake).
"""

from __future__ import annotations

import os
import re

from .errors import Location, PipefileError, UsageError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import Any

FORMATS = {".yaml": "YAML", ".yml": "YAML", ".json": "JSON", ".toml": "TOML"}


def read_config(path: str, named_at: Location | None = None) -> dict[str, Any]:
    """The mapping a configuration file holds; PipefileError at the file's line:col on a mistake
    (`named_at`: where the Pipefile names it, for a file that cannot be read)."""
    kind = FORMATS.get(os.path.splitext(path)[1].lower())
    if kind is None:
        raise PipefileError(f"configfile '{path}': unknown format", named_at,
                            "name a .yaml/.yml (YAML), .json (JSON) or .toml (TOML) file")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        hint = "the path is relative to the Pipefile's directory" if named_at else "the path is relative to the current directory"
        raise PipefileError(f"configfile '{path}': no such file", named_at, hint) from None
    except (OSError, UnicodeDecodeError) as e:
        raise PipefileError(f"configfile '{path}': cannot read it ({getattr(e, 'strerror', None) or e})", named_at) from None
    value = _parse(kind, text, path)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PipefileError(f"configfile '{path}' must hold a mapping of names to values, not a {type(value).__name__}",
                            Location(path, 1, 1), "write e.g. 'samples: [a, b]' at the top level")
    return {str(k): v for k, v in value.items()}


def _parse(kind: str, text: str, path: str) -> Any:
    if kind == "JSON":
        import json

        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise PipefileError(f"invalid JSON in configfile: {e.msg}", Location(path, e.lineno, e.colno)) from None
    if kind == "TOML":
        import sys

        if sys.version_info >= (3, 11):
            import tomllib
        else:  # the same API
            import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
            line, col = (int(m.group(1)), int(m.group(2))) if m else (getattr(e, "lineno", 1), getattr(e, "colno", 1))
            msg = getattr(e, "msg", None) or re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
            raise PipefileError(f"invalid TOML in configfile: {msg}", Location(path, line, col)) from None
    import yaml  # type: ignore[import-untyped,unused-ignore]  # (stubs: types-PyYAML)

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = getattr(e, "problem", None) or str(e).split("\n")[0]
        context = getattr(e, "context", None)
        raise PipefileError(f"invalid YAML in configfile: {problem}" + (f" ({context})" if context else ""),
                            Location(path, line, col)) from None


def parse_config_value(item: str) -> tuple[str, Any]:
    """`--config KEY=VALUE`: VALUE as a Python literal when it is one (`3`, `[1, 2]`), else as a YAML
    scalar (`true`, `1e3`, `null`), else as the text itself."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"--config {item}: write KEY=VALUE", hint="e.g. --config samples=\"['a','b']\" threshold=0.5")
    import ast

    try:
        return key, ast.literal_eval(raw)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    try:
        import yaml  # type: ignore[import-untyped,unused-ignore]

        value = yaml.safe_load(raw)
    except Exception:  # noqa: BLE001 - any YAML mistake: the text is the value
        return key, raw
    return key, value if isinstance(value, (bool, int, float, type(None))) else raw


class Config:
    """The command line's configuration (files, then KEY=VALUE), applied over the Pipefile's."""

    def __init__(self, files: list[str] | tuple[str, ...] = (), values: list[str] | tuple[str, ...] = ()):
        self.files = list(files)
        self.overlay: dict[str, Any] = {}
        for path in files:
            self.overlay.update(read_config(path))
        for item in values:
            key, value = parse_config_value(item)
            self.overlay[key] = value

    def start(self, config: dict[str, Any]) -> None:
        """`config` before the Pipefile runs: the command line's."""
        config.update(self.overlay)

    def add_file(self, config: dict[str, Any], path: str, named_at: Location | None) -> None:
        """A `configfile:` statement: the file's keys, then the command line's again. A file that
        does not exist is skipped when the command line gives config files (as in Snakemake:
        `--configfile test.yaml` stands in for a Pipefile's missing `config.yaml`)."""
        if not (self.files and not os.path.exists(path)):
            config.update(read_config(path, named_at))
        config.update(self.overlay)
