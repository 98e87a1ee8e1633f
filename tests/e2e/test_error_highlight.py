"""Error messages show the offending Pipefile line highlighted by pyrule's Pygments lexer (through
rich) on a colour terminal, and as plain text otherwise."""

from __future__ import annotations

import re

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_error_source_line_is_highlighted_in_colour(project):
    project.pipefile('rule a:\n    ouput: "x.txt"\n')
    rc, out, err = project.run(env={"NO_COLOR": "", "FORCE_COLOR": "1"})
    assert rc == 2
    assert "\x1b[" in err
    rc2, out2, plain = project.run()
    assert "\x1b[" not in plain
    assert ANSI.sub("", err) == plain  # the same message, only coloured
    # the string token of the source line is coloured separately from the section name
    line = next(ln for ln in err.splitlines() if "x.txt" in ln)
    assert len(ANSI.findall(line)) >= 4
