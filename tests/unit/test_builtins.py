"""expand(): what each combination of values gives (builtins.py). Its formatting is compiled once
per pattern (the W4 dry run's 10,000 names were a sixth of its load time); these pin what it gives."""

from __future__ import annotations

import pytest

from pyrule.builtins import expand
from pyrule.rules import FlaggedPath, temp


def test_product_in_order_with_the_last_name_varying_fastest():
    assert expand("p/{a}_{b}.txt", a=[1, 2], b="xy") == ["p/1_xy.txt", "p/2_xy.txt"]
    assert expand("p/{a}_{b}.txt", a=[1, 2], b=["x", "y"]) == ["p/1_x.txt", "p/1_y.txt", "p/2_x.txt", "p/2_y.txt"]
    assert expand("{b}/{a}", a=range(2), b=["x"]) == ["x/0", "x/1"]


def test_zip_pairs_the_values():
    assert expand("z/{a}_{b}.txt", zip, a=[1, 2], b=["x", "y"]) == ["z/1_x.txt", "z/2_y.txt"]


def test_several_patterns_per_combination_in_order():
    assert expand(["a/{s}", "b/{s}"], s=["1", "2"]) == ["a/1", "b/1", "a/2", "b/2"]


def test_a_name_used_twice_and_a_name_not_used():
    assert expand("{s}/{s}.txt", s=["x"], unused=[1, 2]) == ["x/x.txt", "x/x.txt"]


def test_values_are_their_str():
    class V:
        def __str__(self):
            return "v"

        def __format__(self, spec):
            return "formatted"

    assert expand("{x}|{y}|{z}|{w}", x=[1.5], y=[True], z=[V()], w=[None]) == ["1.5|True|v|None"]
    assert expand("{z}.txt", z=[V(), 2.0]) == ["v.txt", "2.0.txt"]  # one name, one pattern


def test_a_single_string_or_number_is_one_value():
    assert expand("{s}-{n}", s="abc", n=3) == ["abc-3"]


def test_doubled_braces_and_braces_in_the_text():
    assert expand("{{x}}/{s}.txt", s=["a"]) == ["{x}/a.txt"]
    assert expand("a}}b{{c/{s}", s=["1"]) == ["a}b{c/1"]
    assert expand("{s}{{", s=["1"]) == ["1{"]
    assert expand("{{{s}}}", s=["1"]) == ["{1}"]
    assert expand("{{{{", s=["1"]) == ["{{"]


def test_a_wildcard_with_a_pattern_takes_the_value():
    assert expand(r"out/{i,\d+}.txt", i=[7]) == ["out/7.txt"]
    assert expand("out/{i,[a-z]{2}}.txt", i=["ab"]) == ["out/ab.txt"]


def test_braces_that_are_not_fields_stay():
    assert expand("a{1}/{s}{", s=["x"]) == ["a{1}/x{"]
    assert expand("}{s}", s=["x"]) == ["}x"]


def test_allow_missing_keeps_unknown_wildcards_and_doubled_braces():
    assert expand("{s}/{t}.txt", s=["a"], allow_missing=True) == ["a/{t}.txt"]
    assert expand(r"{s}/{t,\d+}/{{x}}", s=["a"], allow_missing=True) == [r"a/{t,\d+}/{{x}}"]


def test_a_missing_wildcard_is_a_key_error_naming_it():
    with pytest.raises(KeyError, match="no value for wildcard 't' in '{s}/{t}.txt'"):
        expand("{s}/{t}.txt", s=["a"])
    assert expand("{s}/{t}.txt", s=[]) == []  # no combination: nothing to format


def test_no_wildcards_and_no_values():
    assert expand("plain.txt") == ["plain.txt"]
    assert expand("plain.txt", s=["a", "b"]) == ["plain.txt", "plain.txt"]


def test_flags_stay_on_each_path():
    out = expand(temp("t/{s}.txt"), s=["a", "b"])
    assert out == ["t/a.txt", "t/b.txt"]
    assert all(isinstance(p, FlaggedPath) and p.flags == frozenset({"temp"}) for p in out)
    assert all(type(p) is str for p in expand("t/{s}.txt", s=["a"]))


def test_a_pattern_that_is_not_a_string_is_an_error():
    with pytest.raises(TypeError):
        expand([3], s=["a"])  # type: ignore[list-item]


def test_a_large_expand():
    out = expand("out/{i}.txt", i=range(10_000))
    assert len(out) == 10_000 and out[0] == "out/0.txt" and out[-1] == "out/9999.txt"
