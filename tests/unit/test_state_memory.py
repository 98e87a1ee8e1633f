"""What the state store (pyrule/state.py) holds in memory: records read one at a time and not
kept (`reread(keep=False)`, the no-op memo's check after a build), and nothing once closed.
Real SQLite files; "another program" is a second store on the same file."""

from __future__ import annotations

import sqlite3

import pytest

from pyrule.state import State

SIG = {"outputs": ["b.txt"], "inputs": ["a.txt"], "body": "cat a.txt > b.txt"}


def _store(tmp_path, digest: str = "d1") -> State:
    s = State(str(tmp_path / ".pyrule"))
    s.succeeded("b", "rule_b", digest, SIG)
    s.succeeded("c", "rule_c", "dc", SIG)
    s.flush()
    return s


def test_records_read_once_are_kept(tmp_path):
    s = _store(tmp_path)
    s.reread()
    assert s.record("b").digest == "d1"
    _store(tmp_path, "d2").close()  # another process records b again
    assert s.record("b").digest == "d1"  # what this run read (as before)
    s.close()


def test_records_unkept_are_read_as_the_store_is_when_asked(tmp_path):
    s = _store(tmp_path)
    s.reread(keep=False)
    assert s.record("b").digest == "d1" and s.record("c").digest == "dc"
    assert s.record("nothing") is None
    _store(tmp_path, "d2").close()
    assert s.record("b").digest == "d2"  # not kept: read again
    s.succeeded("c", "rule_c", "dc2", SIG)  # what this run records is kept until written
    assert s.record("c").digest == "dc2"
    s.close()


def test_a_closed_store_holds_nothing_it_read(tmp_path):
    s = _store(tmp_path)
    s.reread()
    assert s.record("b") is not None
    s.remember_file("a.txt", 3, 44, 55, 66, "h-a")
    assert s.file_cache()["a.txt"][4] == "h-a"
    cache = s.file_cache()  # (a decider holds this same dict)
    s.close()
    assert cache == {}
    with pytest.raises(sqlite3.ProgrammingError):  # not an answer from memory: the store is closed
        s.record("b")
