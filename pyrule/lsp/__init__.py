"""`pyrule --lsp`: a language server for Pipefiles (Language Server Protocol over stdio, on pygls).

Imported only when `--lsp` is given; pygls and lsprotocol are the optional extra `pyrule[lsp]`.
The modules: document (parsing a file by pieces, as the command line would parse it whole),
index (what a parsed file defines), diagnostics, check (the on-save load, in a child process),
complete, navigate (definition, references, symbols), hover, actions, server (the pygls wiring).

No Python of a Pipefile runs on a keystroke, nor when a file is opened: a change is parsed
(Lark and Python's own parser, no evaluation). On save, the loader and the planner run in a
separate process with a time limit (check.py), as `pyrule -n` would, and their errors are shown
until the text around them changes.
"""

from __future__ import annotations

from ..errors import UsageError


def serve() -> int:
    """Serve the protocol on stdin/stdout until the client says exit."""
    try:
        import lsprotocol  # noqa: F401
        import pygls  # noqa: F401
    except ImportError:
        raise UsageError("pyrule --lsp needs pygls, which is not installed",
                         hint="pip install 'pyrule[lsp]'") from None
    import gc

    from .server import make_server

    # A large Pipefile's parse is some 100,000 small objects, kept: the cyclic collector's default
    # rhythm would rescan them all every few edits (half of an edit's time on 2,000 rules).
    gc.set_threshold(100_000, 50, 100)
    make_server().start_io()
    return 0
