"""The command line's --configfile/--config (issue 22) and the config reader, in process."""

from __future__ import annotations

import os

import pytest

from pyrule.cli import config_args, parse_args
from pyrule.config import parse_config_value, read_config
from pyrule.errors import PipefileError


def test_config_takes_the_key_value_words_that_follow():
    args = parse_args(["--configfile", "c.yaml", "--config", "a=1", "b=x y", "out.txt", "--config=c=[1, 2]"])
    assert args.config == ["a=1", "b=x y", "c=[1, 2]"]
    assert args.targets == ["out.txt"]
    assert config_args(args) == [f"--configfile={os.path.abspath('c.yaml')}", "--config=a=1", "--config=b=x y",
                                 "--config=c=[1, 2]"]


@pytest.mark.parametrize("item, value", [
    ("n=3", 3), ("x=0.5", 0.5), ("flag=true", True), ("s=abc", "abc"), ("l=['a', 'b']", ["a", "b"]),
    ("none=null", None), ("path=data/x.txt", "data/x.txt"), ("t=a: b", "a: b"),
])
def test_config_values(item, value):
    assert parse_config_value(item) == (item.split("=")[0], value)


def test_a_config_file_must_hold_a_mapping(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(PipefileError, match="must hold a mapping"):
        read_config(str(path))
    path.write_text("")
    assert read_config(str(path)) == {}
    other = tmp_path / "c.ini"
    other.write_text("")
    with pytest.raises(PipefileError, match="unknown format"):
        read_config(str(other))
