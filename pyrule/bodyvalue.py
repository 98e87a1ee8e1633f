"""What a Python body returns, as the file its job's process writes (docs/language.md, "Values").

Standard library only, for any Python from 3.6 on: pyjob_run.py runs shipped bodies where pyrule
is not installed (a container's python3) and imports this module from the copy pyjob.py writes
beside it, so a value is encoded the same way wherever its body ran (the same bytes, hence the
same hash: an equal value cuts off early whether it was made locally, on a node or in an image).
values.py reads what this writes.
"""

import os

SHORT = 40  # characters of a value shown in reasons (old → new)


class Unstorable(Exception):
    """A value that cannot be stored (neither JSON nor picklable): the job fails, saying so."""


def short(text):
    text = " ".join(text.split())
    return text if len(text) <= SHORT else text[:SHORT - 1] + "…"


def encode_value(value):
    """(kind, data, short text) of `value`: JSON when it round-trips to an equal value of the same
    types, else pickle. Unstorable when it is neither."""
    import json  # (here: pyrule's start-up imports this module, and a dry run writes no value)

    try:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        if json.loads(text) == value:
            return "json", text.encode(), short(text)
    except (TypeError, ValueError, RecursionError):
        pass
    import pickle

    try:
        data = pickle.dumps(value, protocol=4)
    except Exception as e:  # noqa: BLE001 - anything pickling a user's object raises
        raise Unstorable(f"the value it returned ({type(value).__name__}) cannot be stored: it is neither "
                         f"JSON nor picklable ({type(e).__name__}: {e}); return plain data (numbers, "
                         "strings, lists, dicts) or a picklable object") from None
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a user's __repr__
        text = f"<{type(value).__name__}>"
    return "pickle", data, short(text)


def write_value(path, value):
    """In the job's process: keep the value the body returned at `path` (None: no value)."""
    if value is None:
        return
    kind, data, text = encode_value(value)
    import json

    head = json.dumps({"kind": kind, "short": text}).encode()
    tmp = f"{path}.{os.getpid()}.tmp"
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(tmp, "wb") as f:
        f.write(head + b"\n" + data)
    os.replace(tmp, path)


def has_return(text):
    """Whether a `python:` body has a `return` of its own (outside its functions and classes):
    then what it returns is its job's value. False for a body that does not parse."""
    if "return" not in text:
        return False
    import ast

    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    todo = list(ast.iter_child_nodes(tree))
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Return):
            return True
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))
    return False


def returning_code(text, file, line):
    """A `python:` body that returns, compiled: a `return` outside its functions raises
    `__pyrule_return__(value)` (the caller binds it to an exception class that carries the value).
    None for a body without `return` (compiled as usual by the caller)."""
    if "return" not in text:
        return None
    import ast

    tree = ast.parse(text, file, "exec")

    class Returns(ast.NodeTransformer):
        def visit_FunctionDef(self, node):  # their own returns stay theirs
            return node

        visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = visit_FunctionDef

        def visit_Return(self, node):
            value = node.value or ast.copy_location(ast.Constant(None), node)
            call = ast.Call(ast.Name("__pyrule_return__", ast.Load()), [value], [])
            return ast.copy_location(ast.Raise(ast.copy_location(call, node), None), node)

    tree = ast.fix_missing_locations(Returns().visit(tree))
    if line > 1:
        ast.increment_lineno(tree, line - 1)
    return compile(tree, file, "exec")
