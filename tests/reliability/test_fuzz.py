"""Fuzzing the three ways in: the Pipefile, the command line, and NAME=VALUE overrides.

Strategies build VALID Pipefiles from the grammar (assignments with = and ?=, imports, python:
blocks, default:, rules with a random subset of sections in random order and one-line or block
form, docstrings, Make-style short rules, comments, blank lines, tabs or spaces, CRLF, a BOM),
which must plan cleanly (`pyrule -n` exits 0), then mutate them (characters and tokens inserted,
deleted, replaced; lines duplicated, dropped, swapped, re-indented). Every input must give exit 0
or a clean error naming `file:line:col` (exit 2): never a traceback, never an internal error,
never a hang (5 s per input).

For speed the inputs go through `pyrule.cli.main([...])` in this process (cwd a scratch
directory, stdout and stderr captured); a smaller sample goes through a real `pyrule`
subprocess as well. CI: about 2,300 inputs in-process and 22 through a subprocess; --soak:
100,000 mutated Pipefiles, 20,000 valid ones, 20,000 command lines, 20,000 override sets, and
700 through a subprocess. --fuzz-examples N sets the count of every fuzz test.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_util import clean_error, count, record

pytestmark = pytest.mark.filterwarnings("ignore")

LIMIT_S = 5.0
MEMORY_HEADROOM = 2 << 30  # bytes of address space pyrule may add while it runs in this process
SAMPLE_POOL = ["a", "b", "c", "x1", "s_2"]


class Hang(BaseException):
    """Raised by the per-input timer: not an Exception, so pyrule cannot swallow it."""


def _alarm(signum, frame):
    raise Hang()


def _address_space() -> int:
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def run_main(argv: list[str], cwd: Path, limit: float = LIMIT_S) -> tuple[int, str, str]:
    """pyrule.cli.main(argv) in cwd with stdout/stderr captured and a time limit."""
    from pyrule.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_cwd = os.getcwd()
    old = signal.signal(signal.SIGALRM, _alarm)
    # A mutated Pipefile is Python: `[1, 2, 3]*9**9` asks for 9 GB in one C call that no timer
    # interrupts (a soak run was OOM-killed at 24 GB). Cap the address space meanwhile: the
    # MemoryError is then the Pipefile's own error, which pyrule must report cleanly.
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _address_space() + MEMORY_HEADROOM
    cap = cap if hard == resource.RLIM_INFINITY else min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    os.chdir(cwd)
    try:
        signal.setitimer(signal.ITIMER_REAL, limit)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(list(argv))
            except SystemExit as e:  # main never lets one out; argparse's --help is caught there
                rc = 99 if e.code not in (0, None) else 0
                print(f"SystemExit escaped main(): {e.code}", file=sys.stderr)
    except Hang:
        pytest.fail(f"pyrule {argv} took more than {limit} s\n--- stderr\n{err.getvalue()}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        os.chdir(old_cwd)
    return rc, out.getvalue(), err.getvalue()


def run_subprocess(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    try:
        p = subprocess.run([sys.executable, "-m", "pyrule", *argv], cwd=cwd, env=env, capture_output=True,
                           timeout=60, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"pyrule {argv} hung (60 s) in a subprocess")
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def _scratch(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    d = tmp_path_factory.mktemp(name)
    for s in SAMPLE_POOL:
        (d / "src").mkdir(exist_ok=True)
        (d / "src" / f"{s}.txt").write_text(f"{s}\n")
    return d


# --- valid Pipefiles ------------------------------------------------------------------------------

EXPRS = ["1", "'text'", '"#not a comment"', "[1, 2,\n    3]", "{'k': 'v', 'n': [1, (2, 3)]}", "len(SAMPLES)",
         "f'{1 + 1}-x'", "(1,\n 2)", '"""multi\nline"""', "None", "True", "3.5", "SAMPLES + []",
         "[s.upper() for s in SAMPLES]", "'{braces} stay'", "r'\\d+'", "-7", "lambda x: x", "dict(a=1)"]
IMPORTS = ["import os", "import json", "from os import path", "import os.path as osp", "from collections import OrderedDict"]
COMMENTS = ["", "  # a note", "\t# x: y {z}", "   #"]


def _indent(unit: str, level: int) -> str:
    return unit * level


@st.composite
def pipefiles(draw) -> str:
    """A valid Pipefile whose default target plans (given src/{a,b,c,x1,s_2}.txt)."""
    unit = draw(st.sampled_from(["    ", "  ", "\t", "        "]))
    comment = lambda: draw(st.sampled_from(COMMENTS))  # noqa: E731
    blank = lambda: "\n" * draw(st.integers(0, 2))  # noqa: E731
    samples = draw(st.lists(st.sampled_from(SAMPLE_POOL), min_size=1, max_size=3, unique=True))
    out: list[str] = []
    if draw(st.booleans()):
        out.append("# generated Pipefile" + comment() + "\n")
    for imp in draw(st.lists(st.sampled_from(IMPORTS), max_size=2, unique=True)):
        out.append(imp + comment() + "\n")
    out.append(f"SAMPLES {draw(st.sampled_from(['=', '?=']))} {samples!r}{comment()}\n")
    for k in range(draw(st.integers(0, 3))):
        out.append(f"V{k} {draw(st.sampled_from(['=', '?=']))} {draw(st.sampled_from(EXPRS))}{comment()}\n")
        out.append(blank())
    if draw(st.booleans()):
        out.append(f"python:{comment()}\n{unit}def helper(x):\n{unit * 2}return [x, x]\n\n"
                   f"{unit}HELPED = helper(3){comment()}\n")
    n_rules = draw(st.integers(1, 4))
    with_default = draw(st.booleans())
    last = f"r{n_rules - 1}/{{s}}.txt"
    gather = f'expand("{last}", s=SAMPLES)'
    short = draw(st.booleans())
    if with_default:
        out.append(f"default: all{comment()}\n{blank()}")
    all_rule = f"rule all:{comment()}\n{unit}input: {gather}" + (', expand("short/{s}.txt", s=SAMPLES)' if short else "") + "\n"
    if not with_default:
        out.append(all_rule + blank())
    for i in range(n_rules):
        out.append(_rule(draw, i, unit, comment) + blank())
    if short:
        quoted = draw(st.booleans())
        head = '"short/{s}.txt": "r0/{s}.txt"' if quoted else "short/{s}.txt: r0/{s}.txt"
        out.append(f"{head}{comment()}\n{unit}cp {{input}} {{output}}\n{unit}echo ok >> {{output}}\n{blank()}")
    if with_default:
        out.append(all_rule)
    text = "".join(out)
    if draw(st.integers(0, 9)) == 0:
        text = text.replace("\n", "\r\n")
    if draw(st.integers(0, 9)) == 0:
        text = "\ufeff" + text
    return text


def _rule(draw, i: int, unit: str, comment) -> str:
    src = "src/{s}.txt" if i == 0 else f"r{i - 1}/{{s}}.txt"
    kind = draw(st.sampled_from(["rule", "rule", "rule", "checkpoint"]))
    lines = [f"{kind} r{i}:{comment()}"]
    if draw(st.booleans()):
        lines.append(unit + draw(st.sampled_from(['"""Make r{i}."""', "'one line doc'", '"""\n' + unit + "Doc.\n" + unit + '"""'])).replace("{i}", str(i)))

    def value(one_line: str, *block: str) -> str:
        if block and draw(st.booleans()):
            return ":" + comment() + "\n" + "\n".join(unit * 2 + b + comment() for b in block)
        return ": " + one_line + comment()

    sections: dict[str, str] = {
        "output": value(f'"r{i}/{{s}}.txt"', f'"r{i}/{{s}}.txt"'),
        "input": value(f'"{src}"', f'src = "{src}",'),
    }
    optional = {
        "params": value('n = 1, label = "x{s}"', "n = 1,", 'label = "x"'),
        "resources": value('cores = 1, mem = "10M"', "cores = 1,", 'mem = "10M"'),
        "log": value(f'"logs/r{i}/{{s}}.log"'),
        "check": value(draw(st.sampled_from(["checksum", "mtime", '"mtime"']))),
        "retries": value(str(draw(st.integers(0, 2)))),
        "priority": value(str(draw(st.integers(-2, 2)))),
        "env": value('FOO = "bar", N = "1"', 'FOO = "bar",', 'N = "1"'),
    }
    for name in draw(st.lists(st.sampled_from(sorted(optional)), max_size=4, unique=True)):
        sections[name] = optional[name]
    body_kind = draw(st.sampled_from(["shell1", "shell", "python"]))
    if body_kind == "shell1":
        sections["shell"] = ": cat {input} > {output}" + comment()
    elif body_kind == "shell":
        sections["shell"] = (":\n" + unit * 2 + "cat {input} > {output}\n" + unit * 2 + "if true; then\n"
                             + unit * 3 + "echo '{not a field}' >> {output}\n" + unit * 2 + "fi")
    else:
        sections["python"] = (":\n" + unit * 2 + "with open(output[0], 'w') as f:\n" + unit * 3
                              + "f.write(open(input[0]).read())")
    names = draw(st.permutations(sorted(sections)))
    for name in names:
        lines.append(unit + name + sections[name])
    return "\n".join(lines) + "\n"


# --- mutations ----------------------------------------------------------------------------------

CHARS = list(" \t\n:{}()[]\"'#=?,.-/\\*$`;aZ9_bfrRu@%!<>|&~^") + ["é", "名", "\x00", "\r", "\x0b", "\x0c", "\ufeff",
                                                                  "\udcff", "\u2028", "\x85"]
# No "**": `9**9**9` is a big-integer power, one C call that no signal interrupts, so the 5 s
# limit cannot stop it. A Pipefile is Python; like a Python script, it can compute forever.
TOKENS = ["rule", "rule x:", "checkpoint", "output:", "input:", "shell:", "python:", "params:", "log:", "default:",
          "include", 'include "nope.pipe"', "{", "}", "{s}", "{s,[a-z]+}", "{{", "\n    ", "\n\t", "\n", "?=", "=",
          ":", '"""', "'", "lambda w:", "expand(", ")", "(", "[", "\\\n", "\r\n", "#", "temp(", "directory(",
          "rules.r0.output", "checkpoints.r0.get(s='a').output", "default: nope", "import nope", "-> ", "..", "/",
          'b"', 'f"', "rb'", '"\\N{x}"', "'\\x'", "protected(", "directory(", "async ", "yield", "return",
          "\\", "lambda: ", "priority: x", "retries: -1", "check: sha1", "resources: cores = 0", "log: 1", "env: 1"]


@st.composite
def mutated(draw) -> str:
    text = draw(pipefiles())
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["insert", "delete", "replace", "token", "dup", "drop", "swap", "indent"]))
        pos = draw(st.integers(0, len(text)))
        if kind == "insert":
            text = text[:pos] + draw(st.sampled_from(CHARS)) + text[pos:]
        elif kind == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 6)):]
        elif kind == "replace":
            text = text[:pos] + draw(st.sampled_from(CHARS)) + text[pos + 1:]
        elif kind == "token":
            text = text[:pos] + draw(st.sampled_from(TOKENS)) + text[pos:]
        else:
            lines = text.split("\n")
            i = min(pos * len(lines) // (len(text) + 1), len(lines) - 1)
            j = draw(st.integers(0, len(lines) - 1))
            if kind == "dup":
                lines.insert(i, lines[i])
            elif kind == "drop":
                del lines[i]
            elif kind == "swap":
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines[i] = draw(st.sampled_from([" ", "\t", "  ", ""])) + lines[i].lstrip(" \t" if j % 2 else "")
            text = "\n".join(lines)
    return text


def _write_pipefile(d: Path, text: str) -> None:
    (d / "Pipefile").write_bytes(text.encode("utf-8", "surrogateescape"))


def _check(rc: int, out: str, err: str, text: str, valid: bool) -> None:
    if valid:
        assert rc == 0, f"a valid Pipefile was refused (exit {rc})\n--- Pipefile\n{text}\n--- stderr\n{err}"
    problem = clean_error(rc, err)
    assert problem is None, f"{problem}\n--- Pipefile\n{text!r}\n--- stderr\n{err}\n--- stdout\n{out}"


_counts: dict[str, int] = {}


def _examples(request: pytest.FixtureRequest, ci: int, soak: int) -> settings:
    n = count(request.config, "--fuzz-examples", ci, soak)
    _counts[request.node.name] = n
    return settings(max_examples=n, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


# --- the tests ------------------------------------------------------------------------------------


@pytest.mark.slow  # over 5 s on a loaded 2-core machine
def test_valid_pipefiles_plan_cleanly(tmp_path_factory, request):
    d = _scratch(tmp_path_factory, "valid")
    seen = 0

    @_examples(request, 300, 20000)
    @given(pipefiles())
    def check(text: str) -> None:
        nonlocal seen
        seen += 1
        _write_pipefile(d, text)
        _check(*run_main(["-n", "-q"], d), text, valid=True)

    check()
    record("fuzz", kind="valid Pipefiles, in-process", inputs=seen, failures=0)


@pytest.mark.slow  # over 5 s on a loaded 2-core machine
def test_mutated_pipefiles_give_exit_0_or_a_located_error(tmp_path_factory, request):
    d = _scratch(tmp_path_factory, "mutated")
    seen = 0

    @_examples(request, 1200, 100000)
    @given(mutated())
    def check(text: str) -> None:
        nonlocal seen
        seen += 1
        _write_pipefile(d, text)
        _check(*run_main(["-n", "-q"], d), text, valid=False)

    check()
    record("fuzz", kind="mutated Pipefiles, in-process", inputs=seen, failures=0)


def test_mutated_pipefiles_in_a_subprocess(tmp_path_factory, request):
    d = _scratch(tmp_path_factory, "subprocess")
    seen = 0

    @_examples(request, 12, 400)
    @given(st.one_of(pipefiles(), mutated()))
    def check(text: str) -> None:
        nonlocal seen
        seen += 1
        _write_pipefile(d, text)
        _check(*run_subprocess(["-n", "-q"], d), text, valid=False)

    check()
    record("fuzz", kind="Pipefiles through a pyrule subprocess", inputs=seen, failures=0)


# --- the command line -----------------------------------------------------------------------------

CLI_PIPEFILE = '''\
SAMPLES ?= ["a", "b"]
GREETING ?= "hi"
CORES ?= 1
default: all

rule all:
    input: expand("out/{s}.txt", s=SAMPLES)

rule make:
    """Make one."""
    output: "out/{s}.txt"
    input: "src/{s}.txt"
    params: greeting = GREETING
    resources: cores = CORES
    shell: echo {params.greeting} > {output}

rule clean:
    shell: rm -rf out
'''

WORDS = ["", "0", "-1", "1", "2", "4", "99999999999999999999", "abc", "1.5", "1e3", "-", "=", "x=", "=1", "a=b=c",
         "all", "make", "clean", "out/a.txt", "out/b.txt", "out/zz.txt", "src/a.txt", "nope", "é", "名前", "\udcff",
         "out", ".", "..", "/", "/tmp", "sub", "Pipefile", "10M", "1G", "0K", "-3G", "gpus=2", "gpus", "x=-1",
         "gpus=abc", "2x", "CORES=2", "GREETING=yo", "SAMPLES=['a']", "SAMPLES=[", "NOPE=1", "lower=1",
         "dot", "mermaid", "json", "svg", "local", "bogus", "x y", "'", '"', "$(touch PWNED)", "{s}", "%s"]
FLAGS = ["-n", "--dry-run", "-k", "--keep-going", "-B", "--force-all", "-q", "-qq", "-v", "--list", "--status",
         "--version", "-h", "--help", "-p", "--print-commands", "--", "--cores", "--dag", "--resources"]
VALUED = ["-j", "--jobs", "--mem", "--resources", "--force", "--until", "--why", "--set", "--dag", "--stats",
          "--report", "--run", "-f", "--file", "-C", "--directory", "--executor", "--slurm-partition",
          "--slurm-account"]
QUERIES = {"-n", "--dry-run", "--list", "--status", "--why", "--dag", "--stats", "--report", "--version", "-h",
           "--help"}


PLACES = {"-C": ["sub", ".", "nope", "", "Pipefile", "é"], "-f": ["Pipefile", "sub/Pipefile", "nope", "", ".", "src/a.txt", "/"]}
PLACES["--directory"], PLACES["--file"] = PLACES["-C"], PLACES["-f"]


@st.composite
def argvs(draw) -> list[str]:
    argv: list[str] = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["flag", "valued", "valued", "word", "override"]))
        if kind == "flag":
            argv.append(draw(st.sampled_from(FLAGS)))
        elif kind == "valued":
            flag = draw(st.sampled_from(VALUED))
            if flag in PLACES:  # never a directory outside the scratch one: it could hold a real Pipefile
                value = draw(st.sampled_from(PLACES[flag]))
            else:
                value = draw(st.one_of(st.sampled_from(WORDS), st.text(max_size=8).filter(lambda s: "\x00" not in s)))
            argv += [f"{flag}={value}"] if draw(st.booleans()) and flag.startswith("--") else [flag, value]
        elif kind == "word":
            argv.append(draw(st.sampled_from(WORDS)))
        else:
            argv.append(draw(st.sampled_from(["SAMPLES", "GREETING", "CORES", "NOPE"])) + "=" + draw(st.sampled_from(WORDS)))
    # Slurm is here: only what does not submit (sbatch on this machine would be called otherwise).
    if any("slurm" in a for a in argv) and not QUERIES & set(argv):
        argv = ["-n"] + [a for a in argv if "slurm" not in a]  # first: after a `--` it would be a target
    return argv


def _cli_check(rc: int, out: str, err: str, argv: list[str]) -> None:
    assert "Traceback" not in err and "internal error" not in err, f"pyrule {argv}\n{err}"
    assert "SystemExit escaped" not in err, f"pyrule {argv}\n{err}"
    assert rc in (0, 1, 2), f"pyrule {argv}: exit {rc}\n{err}"
    if rc == 2:
        assert "error" in err, f"pyrule {argv}: exit 2 without an error message\n{err}"


def _cli_scratch(tmp_path_factory) -> Path:
    d = _scratch(tmp_path_factory, "cli")
    _cli_reset(d)
    return d


def _cli_reset(d: Path) -> None:
    """The scratch project as it was (a --report may have written over any file)."""
    (d / "Pipefile").write_text(CLI_PIPEFILE)
    (d / "sub").mkdir(exist_ok=True)
    (d / "sub" / "Pipefile").write_text(CLI_PIPEFILE.replace("src/", "../src/"))
    for s in SAMPLE_POOL:
        (d / "src" / f"{s}.txt").write_text(f"{s}\n")
    (d / "PWNED").unlink(missing_ok=True)


@pytest.mark.slow  # over 5 s on a loaded 2-core machine
def test_random_command_lines(tmp_path_factory, request):
    d = _cli_scratch(tmp_path_factory)
    seen = 0

    @_examples(request, 400, 20000)
    @given(argvs())
    def check(argv: list[str]) -> None:
        nonlocal seen
        seen += 1
        _cli_reset(d)
        _cli_check(*run_main(argv, d, limit=30), argv)
        # A target, flag value or file name never runs as code. (An override's value does, by
        # design: params are inserted as written, like `make CFLAGS=...`; it is the caller's text.)
        if not any(a.split("=", 1)[0] in ("GREETING", "SAMPLES", "CORES") and "PWNED" in a for a in argv):
            assert not (d / "PWNED").exists(), f"pyrule {argv} ran a word as code"

    check()
    record("fuzz", kind="command lines, in-process", inputs=seen, failures=0)


def test_random_command_lines_in_a_subprocess(tmp_path_factory, request):
    d = _cli_scratch(tmp_path_factory)
    seen = 0

    @_examples(request, 10, 300)
    @given(argvs())
    def check(argv: list[str]) -> None:
        nonlocal seen
        seen += 1
        _cli_reset(d)
        _cli_check(*run_subprocess(argv, d), argv)

    check()
    record("fuzz", kind="command lines through a pyrule subprocess", inputs=seen, failures=0)


# --- NAME=VALUE overrides -------------------------------------------------------------------------

OVERRIDE_PIPEFILE = '''\
SAMPLES ?= ["a", "b"]
N ?= 2
CORES ?= 1
MEM ?= "100M"
PRIO ?= 0
RETRIES ?= 0
CHECK ?= "checksum"
LOGDIR ?= "logs"
GREETING ?= "hi"
PLAIN = 1
default: all

rule all:
    input: expand("out/{s}.txt", s=SAMPLES), expand("num/{i}.txt", i=range(N))

rule make:
    output: "out/{s}.txt"
    input: "src/{s}.txt"
    params: greeting = GREETING
    resources: cores = CORES, mem = MEM
    priority: PRIO
    retries: RETRIES
    check: str(CHECK)
    log: f"{LOGDIR}/{{s}}.log"
    shell: echo {params.greeting} > {output}

rule num:
    output: "num/{i}.txt"
    shell: echo {wildcards.i} > {output}
'''

NAMES = ["SAMPLES", "N", "CORES", "MEM", "PRIO", "RETRIES", "CHECK", "LOGDIR", "GREETING", "PLAIN", "UNKNOWN", "_x"]
# Errors about the override itself are command-line errors: they have no Pipefile location.
CLI_ERRORS = re.compile(r"cannot be set from the command line|the Pipefile has no '|bad override")

literals = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True), st.text(max_size=6)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner, inner),
                            st.dictionaries(st.text(max_size=3), inner, max_size=2)),
    max_leaves=6,
)
values = st.one_of(literals.map(repr), st.text(max_size=12).filter(lambda s: "\x00" not in s),
                   st.sampled_from(WORDS + ["[]", "()", "{}", "['a', 'zz']", "['../x']", "['/abs']", "[1, 2]",
                                            "10**100", "1e400", "'" * 3, "[" * 200, "-0", "0x10", "b'x'"]))


@st.composite
def overrides(draw) -> list[str]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    return [f"{n}={draw(values)}" for n in names]


def test_random_overrides(tmp_path_factory, request):
    d = _scratch(tmp_path_factory, "overrides")
    (d / "Pipefile").write_text(OVERRIDE_PIPEFILE)
    seen = 0

    @_examples(request, 400, 20000)
    @given(overrides(), st.sampled_from([["-n"], ["-n", "--set"], ["--status"], ["--dag", "json"]]))
    def check(items: list[str], mode: list[str]) -> None:
        nonlocal seen
        seen += 1
        argv = [*mode[:1], *(a for item in items for a in (["--set", item] if "--set" in mode else [item]))]
        if mode[0] == "--dag":
            argv.insert(1, "json")
        rc, out, err = run_main(argv, d)
        problem = clean_error(rc, err, located=not CLI_ERRORS.search(err))
        assert problem is None, f"{problem}: pyrule {argv}\n--- stderr\n{err}"

    check()
    record("fuzz", kind="NAME=VALUE overrides, in-process", inputs=seen, failures=0)
