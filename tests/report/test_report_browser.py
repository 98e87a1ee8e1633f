"""The HTML report in a real browser (Debian's chromium driven by Playwright).

Real `pyrule` runs in temporary directories (a successful one, one with a failing job under -k,
one of 300+ jobs), then `pyrule --report out.html`, loaded from a file:// URL; the DOM is
checked, the page must log no error and make no request but for the file itself.
Screenshots go to tests/report/artifacts/ (gitignored).

Skipped when chromium or playwright is missing (tests/report/install.sh installs both),
except with CI=true, where that is a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
NASTY = '<b>&"x"'
WEIRD_JOB = f"make[n={NASTY}]"


def _missing() -> str | None:
    if not os.access(CHROMIUM, os.X_OK):
        return f"chromium is not installed at {CHROMIUM} (tests/report/install.sh installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (tests/report/install.sh installs it)"
    return None


@pytest.fixture(scope="module")
def browser():
    why = _missing()
    if why:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{why}; with CI=true the browser tests must run")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def pyrule(cwd: Path, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("PYTEST_CURRENT_TEST", None)
    proc = subprocess.run([sys.executable, "-m", "pyrule", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode in ok, f"pyrule {' '.join(args)}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@dataclass
class Run:
    root: Path
    report: Path
    stats: dict

    @property
    def jobs(self) -> list[dict]:
        return self.stats["jobs"]

    def names(self, *statuses: str) -> list[str]:
        return sorted(j["job"] for j in self.jobs if j["status"] in statuses)


def make_run(root: Path, pipefile: str, *args: str, ok: tuple[int, ...] = (0,)) -> Run:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Pipefile").write_text(pipefile)
    pyrule(root, *args, ok=ok)
    pyrule(root, "--report", "out.html")
    [run_dir] = (root / ".pyrule" / "runs").iterdir()
    return Run(root, root / "out.html", json.loads((run_dir / "stats.json").read_text()))


OK_PIPEFILE = """\
NAMES = ["alpha", "beta", '<b>&"x"', "delta", "epsilon", "zeta"]
rule all:
    input: "merged.txt"
rule make:
    output: "out/{n}.txt"
    resources: mem = "200M"
    python:
        import time
        buf = bytearray(40_000_000)
        time.sleep(0.3 + 0.05 * len(wildcards.n))
        report("name_length", len(wildcards.n))
        report("<i>note</i>", wildcards.n + " & more")
        open(output[0], "w").write(wildcards.n)
rule merge:
    input: expand("out/{n}.txt", n=NAMES)
    output: "merged.txt"
    resources: mem = "1G", cores = 2
    python:
        open(output[0], "w").write("".join(open(p).read() for p in input))
"""

FAIL_PIPEFILE = """\
rule all:
    input: "total.txt", expand("out/{i}.txt", i=range(4))
rule make:
    output: "out/{i}.txt"
    shell:
        printf 'line-%03d <script>window.pwned = 1</script> & "quoted"\\n' $(seq 0 79)
        sleep 0.2
        test {wildcards.i} != 2
        echo {wildcards.i} > {output}
rule total:
    input: "out/2.txt", "out/3.txt"
    output: "total.txt"
    shell: cat {input} > {output}
"""

BIG_N = 105  # 3 rules x 105 + merge + all = 317 jobs: above the 300 of the drawing

BIG_PIPEFILE = f"""\
rule all:
    input: "merged.txt"
rule a:
    output: "out/a/{{i}}.txt"
    shell: echo {{wildcards.i}} > {{output}}
rule b:
    input: "out/a/{{i}}.txt"
    output: "out/b/{{i}}.txt"
    shell: cat {{input}} > {{output}}
rule c:
    input: "out/b/{{i}}.txt"
    output: "out/c/{{i}}.txt"
    shell: cat {{input}} > {{output}}
rule merge:
    input: expand("out/c/{{i}}.txt", i=range({BIG_N}))
    output: "merged.txt"
    shell: cat {{input}} > {{output}}
"""


@pytest.fixture(scope="module")
def ok_run(tmp_path_factory) -> Run:
    return make_run(tmp_path_factory.mktemp("ok") / "proj", OK_PIPEFILE, "-j", "3")


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory) -> Run:
    return make_run(tmp_path_factory.mktemp("failed") / "proj", FAIL_PIPEFILE, "-j", "4", "-k", ok=(1,))


@pytest.fixture(scope="module")
def big_run(tmp_path_factory) -> Run:
    return make_run(tmp_path_factory.mktemp("big") / "proj", BIG_PIPEFILE, "-j", "8", "-q")


@dataclass
class Page:
    page: object
    url: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def eval(self, js: str, arg=None):
        return self.page.evaluate(js, arg)

    def check_clean(self) -> None:
        assert self.errors == [], f"console errors: {self.errors}"
        assert self.requests == [self.url], f"requests other than the file itself: {self.requests}"

    def shot(self, name: str, full_page: bool = True) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.evaluate("() => window.scrollTo(0, 0)")
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


@pytest.fixture
def open_page(browser):
    contexts = []

    def open_(path: Path) -> Page:
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        contexts.append(ctx)
        page = ctx.new_page()
        p = Page(page, path.resolve().as_uri())
        page.on("request", lambda r: p.requests.append(r.url))
        page.on("console", lambda m: p.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: p.errors.append(f"uncaught: {e}"))
        page.goto(p.url, wait_until="load")
        return p

    yield open_
    for ctx in contexts:
        ctx.close()


# what the tests read from the page
NODES = """() => Array.from(document.querySelectorAll('svg.pr-graph g.node'))
  .map(g => [g.dataset.id, g.dataset.status])"""
BARS = """() => Array.from(document.querySelectorAll('svg.pr-timeline g.bar')).map(g => g.dataset.job)"""
ROWS = """() => Array.from(document.querySelectorAll('#jobs tbody tr')).map(tr => tr.dataset.job)"""
COLUMN = """(name) => {
  const th = Array.from(document.querySelectorAll('#jobs thead th')).find(t => t.textContent === name);
  return Array.from(document.querySelectorAll('#jobs tbody tr'))
    .map(tr => tr.cells[th.cellIndex].getAttribute('data-v'));
}"""


def header(p: Page, name: str):
    return p.page.locator("#jobs thead th", has_text=name).first


def _numbers(values: list[str]) -> list[float]:
    return [float(v) for v in values if v not in ("", None)]


def test_successful_run(ok_run: Run, open_page):
    p = open_page(ok_run.report)
    p.check_clean()
    # the graph: one node per job, coloured by its status
    nodes = dict(p.eval(NODES))
    assert sorted(nodes) == sorted(j["job"] for j in ok_run.jobs)
    assert nodes == {j["job"]: j["status"] for j in ok_run.jobs}
    assert p.eval("() => document.querySelector('#graph').dataset.collapsed") == "false"
    # the timeline: one bar per job that ran
    assert sorted(p.eval(BARS)) == ok_run.names("ran") and len(ok_run.names("ran")) == 7
    # the name with markup is text everywhere, never markup
    assert p.eval("() => document.querySelectorAll('main b').length") == 0
    assert WEIRD_JOB in p.eval(ROWS)
    # in the table: the job's name, its reason (output path) and its reported value
    assert p.eval("() => document.querySelector('#jobs').innerText").count(NASTY) >= 3
    # the reported values have their columns
    lengths = p.eval(COLUMN, "name_length")
    assert sorted(x for x in lengths if x) == sorted(str(len(n)) for n in
                                                     ["alpha", "beta", NASTY, "delta", "epsilon", "zeta"])
    assert p.eval("() => Array.from(document.querySelectorAll('#jobs thead th')).map(t => t.textContent)") \
        .count("<i>note</i>") == 1
    # run details in the header
    summary = p.eval("() => document.querySelector('#summary').innerText")
    assert "pyrule -j 3" in summary and ok_run.stats["pipefile_hash"] in summary and ok_run.stats["run_id"] in summary
    # memory: declared sizes next to the measured peaks
    mem = p.eval("() => document.querySelector('#resources .per-rule table').innerText")
    assert "200.0M" in mem and "1.0G" in mem
    # clicking a graph node goes to its row
    idx = [n for n, _ in p.eval(NODES)].index(WEIRD_JOB)
    p.page.locator("svg.pr-graph g.node a").nth(idx).click()
    assert p.eval("() => document.querySelector(location.hash).dataset.job") == WEIRD_JOB
    assert p.eval("() => document.querySelector('#jobs tr:target').dataset.job") == WEIRD_JOB
    p.shot("successful-run")
    p.check_clean()


def test_sorting_the_table_by_clicking_headers(ok_run: Run, open_page):
    p = open_page(ok_run.report)
    before = p.eval(ROWS)
    header(p, "wall").click()
    walls = _numbers(p.eval(COLUMN, "wall"))
    assert walls == sorted(walls) and len(walls) == 7
    after = p.eval(ROWS)
    assert after != before and sorted(after) == sorted(before)
    assert p.eval(COLUMN, "wall")[-1] == ""  # the job that did not run goes last
    header(p, "wall").click()
    walls = _numbers(p.eval(COLUMN, "wall"))
    assert walls == sorted(walls, reverse=True)
    assert header(p, "wall").get_attribute("aria-sort") == "descending"
    header(p, "job").click()
    expected = p.eval("(rows) => rows.slice().sort((a, b) => a.localeCompare(b, undefined, {numeric: true}))", before)
    assert p.eval(ROWS) == expected and expected != before
    header(p, "#").click()
    assert p.eval(ROWS) == before
    p.check_clean()


def test_run_with_a_failing_job(failed_run: Run, open_page):
    stats = failed_run.stats
    # `all` gathers `total`, which was skipped: it follows its input (skipped, not up to date)
    assert failed_run.names("failed") == ["make[i=2]"] and failed_run.names("skipped") == ["all", "total"]
    p = open_page(failed_run.report)
    p.check_clean()
    nodes = dict(p.eval(NODES))
    assert nodes == {j["job"]: j["status"] for j in stats["jobs"]}
    # bars for the jobs that ran, the failed one included; none for the skipped one
    assert sorted(p.eval(BARS)) == failed_run.names("ran", "failed")
    # the failure with the tail of its log: 50 lines, the last ones, as text
    tails = p.eval("() => Array.from(document.querySelectorAll('#failures pre.logtail')).map(e => e.textContent)")
    assert len(tails) == 1
    lines = tails[0].split("\n")
    assert len(lines) == 50
    assert lines[0].startswith("line-030 ") and lines[-1] == 'line-079 <script>window.pwned = 1</script> & "quoted"'
    assert p.eval("() => window.pwned === undefined")
    assert p.eval("() => document.querySelectorAll('script').length") == 1
    assert "make[i=2]" in p.eval("() => document.querySelector('#failures h3').innerText")
    # the failed row links to its log tail
    row = p.page.locator("#jobs tr.st-failed")
    assert row.count() == 1
    row.locator("a", has_text="log tail").click()
    assert p.eval("() => location.hash").startswith("#fail-")
    assert p.eval("() => document.querySelector('h1 .status').textContent") == "failed"
    p.shot("failed-run")
    p.check_clean()


def test_big_run_collapses_to_the_rule_graph(big_run: Run, open_page):
    jobs = big_run.jobs
    assert len(jobs) == 3 * BIG_N + 2 > 300
    p = open_page(big_run.report)
    p.check_clean()
    assert p.eval("() => document.querySelector('#graph').dataset.collapsed") == "true"
    nodes = p.eval(NODES)
    assert sorted(n for n, _ in nodes) == ["a", "all", "b", "c", "merge"]
    labels = p.eval("() => Array.from(document.querySelectorAll('svg.pr-graph g.node text')).map(t => t.textContent)")
    assert f"a ×{BIG_N}" in labels and "merge ×1" in labels
    assert sorted(p.eval(BARS)) == big_run.names("ran") and len(p.eval(BARS)) == 3 * BIG_N + 1
    assert len(p.eval(ROWS)) == len(jobs)
    # the critical path ends with the job that ended last
    crit = p.eval("() => Array.from(document.querySelectorAll('svg.pr-timeline g.bar.crit')).map(g => g.dataset.job)")
    last = max((j for j in jobs if j["end"]), key=lambda j: j["end"])["job"]
    assert last in crit and "merge" in crit
    # lanes never hold two jobs at once
    lanes: dict[str, list[tuple[float, float]]] = {}
    by_name = {j["job"]: j for j in jobs}
    for name, lane in p.eval("() => Array.from(document.querySelectorAll('svg.pr-timeline g.bar'))"
                             ".map(g => [g.dataset.job, g.dataset.lane])"):
        lanes.setdefault(lane, []).append((by_name[name]["start"], by_name[name]["end"]))
    for spans in lanes.values():
        spans.sort()
        assert all(a[1] <= b[0] + 1e-6 for a, b in zip(spans, spans[1:]))
    header(p, "start").click()
    starts = _numbers(p.eval(COLUMN, "start"))
    assert starts == sorted(starts) and len(starts) == 3 * BIG_N + 1
    p.shot("big-run")
    p.check_clean()


def test_dag_svg_opens_cleanly(ok_run: Run, open_page):
    proc = pyrule(ok_run.root, "--dag", "svg")
    path = ok_run.root / "dag.svg"
    path.write_text(proc.stdout)
    p = open_page(path)
    p.check_clean()
    assert dict(p.eval(NODES)) == {j["job"]: "up-to-date" for j in ok_run.jobs}
    p.shot("dag-svg", full_page=False)  # (a full-page shot of an SVG document never finishes)
