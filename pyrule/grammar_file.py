"""Where the Pipefile grammar is, without importing Lark (the parse cache needs its digest)."""

from __future__ import annotations

import os
from functools import lru_cache

import xxhash


@lru_cache(maxsize=1)
def grammar_path() -> str:
    # Installed: shipped inside the package; in a source checkout: the top-level grammar/.
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(here, "grammar", "pipefile.lark"), os.path.join(here, "..", "grammar", "pipefile.lark")):
        if os.path.isfile(candidate):
            return os.path.normpath(candidate)
    raise FileNotFoundError("pipefile.lark is missing from the pyrule installation")


@lru_cache(maxsize=1)
def grammar_digest() -> str:
    """xxh3 of the grammar's text: part of the parse cache's key."""
    with open(grammar_path(), "rb") as f:
        return xxhash.xxh3_64_hexdigest(f.read())
