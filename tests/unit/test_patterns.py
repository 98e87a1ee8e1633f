"""Wildcard patterns and the index over rules' outputs: examples, and properties checked with
Hypothesis (format-then-match round trip; the index agrees with a brute-force scan)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrule.patterns import Pattern, PatternError, PatternIndex, format_wildcards, wildcard_names

# --- examples ------------------------------------------------------------------------------------


def test_plain_pattern():
    p = Pattern("a/b.txt")
    assert not p.has_wildcards and p.names == [] and p.match("a/b.txt") == {} and p.match("a/c.txt") is None
    assert p.format({}) == "a/b.txt"


def test_wildcards_default_to_one_path_component():
    p = Pattern("counts/{sample}.tsv")
    assert p.names == ["sample"] and p.prefix == "counts/" and p.suffix == ".tsv"
    assert p.match("counts/a.tsv") == {"sample": "a"}
    assert p.match("counts/a/b.tsv") is None and p.match("counts/.tsv") is None
    assert p.format({"sample": "x"}) == "counts/x.tsv"


def test_regex_constraints_including_braces():
    p = Pattern("{y,[0-9]{4}}-{rest,.*}")
    assert p.match("2024-a/b") == {"y": "2024", "rest": "a/b"} and p.match("24-a") is None


def test_repeated_wildcard():
    p = Pattern("{a}/{a}.txt")
    assert p.names == ["a"] and p.match("x/x.txt") == {"a": "x"} and p.match("x/y.txt") is None
    assert Pattern("{a,[0-9]+}/{a}").match("1/1") == {"a": "1"}
    with pytest.raises(PatternError, match="two different regexes"):
        Pattern("{a,[0-9]+}/{a,[a-z]+}")


def test_bad_regex():
    with pytest.raises(PatternError, match="bad regex for wildcard 'a'"):
        Pattern("{a,[}")


def test_doubled_braces_are_literal():
    p = Pattern("x{{y}}/{n}")
    assert p.names == ["n"] and p.match("x{y}/1") == {"n": "1"} and p.format({"n": "2"}) == "x{y}/2"
    assert Pattern("{{a}}").match("{a}") == {}


def test_wildcard_names_and_format_wildcards():
    assert wildcard_names("{a}/{b,[0-9]+}/{a}.{{c}}") == ["a", "b"]
    assert format_wildcards("{a}/{b,[0-9]+} ${HOME} {x} {{y}}", {"a": "1", "b": "2"}) == "1/2 ${HOME} {x} {y}"
    assert format_wildcards("plain", {"a": "1"}) == "plain"


def test_format_wildcards_unescapes_a_lone_doubled_brace():
    # Only `}}` (no `{` at all) is still an escaped brace: the no-brace shortcut must not skip it.
    assert format_wildcards("a}}b", {}) == "a}b"
    assert format_wildcards("a{{b", {}) == "a{b"
    # A brace that is no field (awk's `{print $1}`, `{1}`, a lone `}`) is left as written.
    assert format_wildcards("awk '{print $1}' {a} {1} x}y", {"a": "in.txt"}) == "awk '{print $1}' in.txt {1} x}y"
    for text in ["{a} x}y", "{a} x{y", "{a} {1}", "{a} {}"]:  # each alone: no other field to fall back on
        assert format_wildcards(text, {"a": "1"}) == "1" + text[3:]


@pytest.mark.parametrize("text", ["a}b", "a{b", "{x}}", "a{{b}", "x/{y}.{"])
def test_an_unbalanced_brace_is_an_error(text):
    with pytest.raises(PatternError, match="unbalanced brace"):
        Pattern(text)


def test_a_pattern_keeps_its_text_for_messages():
    p = Pattern("counts/{sample}.tsv")
    assert p.text == "counts/{sample}.tsv"
    assert repr(p) == "Pattern('counts/{sample}.tsv')"


def test_index_lookup_examples():
    idx = PatternIndex()
    for key, text in enumerate(["{x}.txt", "a_{x}.txt", "exact.txt", "{x}.tsv", "{d}/{f}", "{all,.*}"]):
        idx.add(key, Pattern(text))
    found = {c.key: c.wildcards for c in idx.lookup("a_b.txt")}
    assert found == {0: {"x": "a_b"}, 1: {"x": "b"}, 5: {"all": "a_b.txt"}}
    assert {c.key for c in idx.lookup("exact.txt")} == {0, 2, 5}
    assert {c.key for c in idx.lookup("d/f.tsv")} == {4, 5}
    chars = {c.key: c.wildcard_chars for c in idx.lookup("a_b.txt")}
    assert chars[1] < chars[0] < chars[5]


# --- properties ----------------------------------------------------------------------------------

# Values of wildcards: non-empty, no '/', anything else (regex metacharacters, braces, unicode).
VALUE = st.text(st.characters(blacklist_characters="/", blacklist_categories=("Cs",)), min_size=1, max_size=8)
LITERAL = st.text(st.sampled_from("abcxyz019._-"), min_size=0, max_size=4)
NAMES = ["a", "b", "c", "sample", "n"]


@st.composite
def segmented_pattern(draw):
    """A pattern whose wildcards each sit alone in a path component, between literals: the
    values (without '/') can be read back unambiguously. Wildcards may repeat."""
    segments = []
    for _ in range(draw(st.integers(1, 5))):
        if draw(st.booleans()):
            segments.append(draw(LITERAL.filter(bool)))
        else:
            name = draw(st.sampled_from(NAMES))
            segments.append(draw(LITERAL) + "{" + name + "}" + draw(LITERAL))
    if not any("{" in s for s in segments):
        segments.append("{" + draw(st.sampled_from(NAMES)) + "}")
    return "/".join(segments)


@settings(max_examples=300, deadline=None)
@given(segmented_pattern(), st.data())
def test_format_then_match_gives_the_values_back(text, data):
    pattern = Pattern(text)
    values = {name: data.draw(VALUE, label=name) for name in pattern.names}
    path = pattern.format(values)
    assert pattern.match(path) == values
    assert format_wildcards(text, values) == path


@settings(max_examples=200, deadline=None)
@given(segmented_pattern(), st.data())
def test_format_then_match_with_a_regex_constraint(text, data):
    # constrain every wildcard to digits: values drawn from digits match, formatting agrees
    constrained = text
    for name in NAMES:
        constrained = constrained.replace("{" + name + "}", "{" + name + ",[0-9]+}", 1)
    pattern = Pattern(constrained)
    values = {n: data.draw(st.text("0123456789", min_size=1, max_size=5), label=n) for n in pattern.names}
    assert pattern.match(pattern.format(values)) == values


# Random patterns and paths over a small alphabet, so that matches are frequent.
PIECE = st.one_of(
    st.text(st.sampled_from("ab/._"), min_size=1, max_size=3),
    st.sampled_from(["{x}", "{y}", "{x,[ab]+}", "{y,.*}", "{x}", "{{", "}}"]),
)


@st.composite
def any_pattern(draw):
    text = "".join(draw(st.lists(PIECE, min_size=1, max_size=5)))
    try:
        Pattern(text)
    except PatternError:
        text = "a"  # e.g. a repeated wildcard with two different regexes
    return text


@settings(max_examples=300, deadline=None)
@given(st.lists(any_pattern(), min_size=1, max_size=12),
       st.lists(st.text(st.sampled_from("ab/._{}"), max_size=8), min_size=1, max_size=10))
def test_index_lookup_agrees_with_a_brute_force_scan(texts, paths):
    patterns = [Pattern(t) for t in texts]
    index = PatternIndex()
    for i, p in enumerate(patterns):
        index.add(i, p)
    # every path that some pattern makes, plus random ones
    probes = list(paths) + [p.format({n: "ab" for n in p.names}) for p in patterns]
    for path in probes:
        brute = {(i, tuple(sorted(m.items()))) for i, p in enumerate(patterns) if (m := p.match(path)) is not None}
        found = {(c.key, tuple(sorted(c.wildcards.items()))) for c in index.lookup(path)}
        assert found == brute, (path, texts)
        for c in index.lookup(path):
            assert c.pattern is patterns[c.key]
    assert sorted(k for k, _ in index) == list(range(len(patterns)))
