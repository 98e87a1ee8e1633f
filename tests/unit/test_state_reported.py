"""The key/values a job reported, kept in the state store with its record (pyrule/state.py,
issue 20), on real SQLite files: written with the record's flush, replaced, removed, read by a
later process, and read (as none) from a store made before they were kept."""

from __future__ import annotations

import sqlite3

from pyrule.state import State

SIG = {"outputs": ["b.txt"]}


def test_kept_with_the_record_and_read_back_by_a_later_store(tmp_path):
    s = State(str(tmp_path / ".pyrule"))
    s.succeeded("b", "rule_b", "d1", SIG)
    s.keep_reported("b", {"n": "3", "who": "me"})
    s.keep_reported("c", {})  # nothing reported: nothing kept
    s.close()
    again = State(str(tmp_path / ".pyrule"))
    assert again.reports() == {"b": {"n": "3", "who": "me"}}
    again.keep_reported("b", {"n": "4"})  # a rerun's replace them all
    again.close()
    assert State(str(tmp_path / ".pyrule"), readonly=True).reports() == {"b": {"n": "4"}}


def test_a_job_that_starts_again_or_reports_nothing_loses_them(tmp_path):
    s = State(str(tmp_path / ".pyrule"))
    s.keep_reported("b", {"n": "3"})
    s.keep_reported("c", {"n": "5"})
    s.close()
    s = State(str(tmp_path / ".pyrule"))
    s.forget_reported("b")
    s.keep_reported("c", {})
    s.forget_reported("never")  # nothing kept: nothing to write
    s.close()
    assert State(str(tmp_path / ".pyrule")).reports() == {}


def test_forgetting_a_job_forgets_its_values(tmp_path):
    s = State(str(tmp_path / ".pyrule"))
    s.succeeded("b", "rule_b", "d1", SIG)
    s.keep_reported("b", {"n": "3"})
    s.flush()
    s.forget_job("b")
    s.close()
    assert State(str(tmp_path / ".pyrule")).reports() == {}


def test_a_store_from_before_has_none_read_only_and_gets_the_table_when_written(tmp_path):
    root = tmp_path / ".pyrule"
    root.mkdir()
    con = sqlite3.connect(root / "state.db")
    con.executescript("""
        CREATE TABLE jobs (name TEXT PRIMARY KEY, rule TEXT NOT NULL, digest TEXT NOT NULL, signature TEXT NOT NULL,
                           updated REAL NOT NULL);
        CREATE TABLE files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, inode INTEGER, hash TEXT);
        CREATE TABLE running (name TEXT PRIMARY KEY, run_id TEXT, owner_pid INTEGER, owner_start REAL,
                              pgid INTEGER, outputs TEXT, started REAL);
        CREATE TABLE runs (id TEXT PRIMARY KEY, started REAL, ended REAL, status TEXT, argv TEXT);
    """)
    con.close()
    assert State(str(root), readonly=True).reports() == {}
    s = State(str(root))
    s.keep_reported("b", {"n": "1"})
    s.close()
    assert State(str(root), readonly=True).reports() == {"b": {"n": "1"}}
