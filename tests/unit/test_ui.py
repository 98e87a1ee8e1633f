"""ui.shown: what a name, path or message looks like on a terminal. Its check for plain text is
one pass in C for ASCII (the dry run's list of 10,000 lines goes through it whole)."""

from __future__ import annotations

from pyrule.ui import shown


def test_plain_text_newlines_and_tabs_are_kept_as_they_are():
    text = "copy[i=1]: output out/1.txt missing\n\tand more ~{}|\n"
    assert shown(text) is text
    assert shown("") == ""
    big = "".join(f"copy[i={i}]: output out/{i}.txt missing\n" for i in range(10_000))
    assert shown(big) is big


def test_control_characters_are_escaped_in_ascii_text():
    assert shown("a\x1b[31mred") == "a\\x1b[31mred"
    assert shown("a\rb") == "a\\x0db"
    assert shown("nul\x00 del\x7f bell\x07 vt\x0b") == "nul\\x00 del\\x7f bell\\x07 vt\\x0b"
    assert shown("x" * 50_000 + "\x1b") == "x" * 50_000 + "\\x1b"


def test_other_text_is_kept_and_its_control_characters_escaped():
    assert shown("café → ok\n") == "café → ok\n"
    assert shown("é\x1b") == "é\\x1b"
    assert shown("c1\x85 and \x9f") == "c1\\x85 and \\x9f"
    assert shown("bad byte \udcff name") == "bad byte \\xff name"
    assert shown("lone \ud800") == "lone \\ud800"
