"""The spawner's two channels (spawner.py): the runner waits on the one of job ends (and of
failed spawns), not on the one of spawn replies. A reply with a pid does not wake a runner that
has nothing to do yet: it is read with the next end, or when the runner asks for it (settle)."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyrule.executors.spawner import Spawner


@pytest.fixture
def sp() -> Iterator[Spawner]:
    spawner = Spawner()
    spawner.start()
    try:
        yield spawner
    finally:
        spawner.close()


def readable(fd: int, timeout: float) -> bool:
    return bool(select.select([fd], [], [], timeout)[0])


def ask(sp: Spawner, tmp_path: Path, attempts: list) -> None:
    null = os.open(os.devnull, os.O_RDWR)
    try:
        assert sp.request(str(tmp_path), dict(os.environ), {}, attempts, [null, null])
    finally:
        os.close(null)


def test_a_spawn_reply_does_not_wake_the_runner_but_the_end_does(sp: Spawner, tmp_path: Path) -> None:
    ask(sp, tmp_path, [("/bin/sh", ["sh", "-c", "sleep 1.5"], [])])
    assert not readable(sp.fd, 1.0)  # the job runs, its pid is in the reply: nothing to wake for
    sp.settle()  # asked for: the reply is there
    assert sp.asked == 0 and sp.replies[0][0] == "S"
    pid = sp.replies.popleft()[1]
    assert readable(sp.fd, 10.0)  # its end
    sp.poll()
    assert pid in sp.ended and sp.ended[pid].status == 0


def test_a_failed_spawn_wakes_the_runner(sp: Spawner, tmp_path: Path) -> None:
    ask(sp, tmp_path, [(str(tmp_path / "no-such-program"), ["no-such-program"], [])])
    assert readable(sp.fd, 10.0)  # no end will ever come for it: the failure itself wakes
    deadline = time.monotonic() + 10
    while not sp.replies and time.monotonic() < deadline:
        sp.poll()
    assert sp.replies[0][0] == "F" and sp.asked == 0


def test_an_end_is_read_after_the_reply_that_gave_its_pid(sp: Spawner, tmp_path: Path) -> None:
    ask(sp, tmp_path, [("/bin/sh", ["sh", "-c", "exit 3"], [])])
    assert readable(sp.fd, 10.0)
    sp.poll()  # woken by the end: the reply sent before it is taken too
    assert sp.asked == 0 and sp.replies[0][0] == "S"
    assert sp.ended[sp.replies[0][1]].status >> 8 == 3


def test_the_replies_sent_before_the_spawner_was_lost_are_read(sp: Spawner, tmp_path: Path) -> None:
    ask(sp, tmp_path, [("/bin/sh", ["sh", "-c", "sleep 30"], [])])
    time.sleep(0.5)  # forked, replied; the reply not read (nothing woke us)
    os.kill(sp.pid, 9)
    assert readable(sp.fd, 10.0)  # its end of the events' socket closed
    sp.poll()
    assert sp.lost and sp.replies and sp.replies[0][0] == "S"  # which job it had started: to stop it
    os.killpg(sp.replies[0][1], 9)
