"""Where the Pipefile grammar is, without importing Lark (the parse cache needs its digest)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import xxhash


@lru_cache(maxsize=1)
def grammar_path() -> Path:
    # Installed: shipped inside the package; in a source checkout: the top-level grammar/.
    here = Path(__file__).parent
    for candidate in (here / "grammar" / "pipefile.lark", here.parent / "grammar" / "pipefile.lark"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("pipefile.lark is missing from the pyrule installation")


@lru_cache(maxsize=1)
def grammar_digest() -> str:
    """xxh3 of the grammar's text: part of the parse cache's key."""
    return xxhash.xxh3_64_hexdigest(grammar_path().read_bytes())
