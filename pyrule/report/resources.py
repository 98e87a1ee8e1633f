"""Peak memory and CPU time, per rule and per job, as bars next to what the rules declared."""

from __future__ import annotations

from .html import esc, fmt_bytes, fmt_num, fmt_s

LOW_MEM = 0.25  # peak below this share of the declared memory: over-asked
LOW_CORES = 0.5  # below this share of the declared cores (when more than one): over-asked
MIN_WALL = 1.0  # seconds of wall time (a rule's, summed) below which CPU use is not judged


def measured(jobs: list[dict]) -> list[dict]:
    return [j for j in jobs if j.get("start") is not None and j.get("status") in ("ran", "failed", "interrupted")]


def _declared_mem(j: dict) -> float | None:
    v = (j.get("resources") or {}).get("mem")
    return float(v) if isinstance(v, (int, float)) and v > 0 else None


def _cores(j: dict) -> float:
    v = (j.get("resources") or {}).get("cores", 1)
    return float(v) if isinstance(v, (int, float)) and v > 0 else 1.0


def mem_verdict(peak: float, declared: float | None) -> tuple[str, str]:
    """(css class, words) for a peak against the declared memory."""
    if not peak:
        return "none", "not measured: the job ended before its first sample"
    if declared is None:
        return "none", "not declared"
    ratio = peak / declared
    if ratio > 1.0:
        return "over", f"used {ratio:.0%} of declared: ask for more"
    if ratio < LOW_MEM:
        return "low", f"used {ratio:.0%} of declared: over-asked"
    return "ok", f"used {ratio:.0%} of declared"


def cpu_verdict(cpu_s: float, wall_s: float, cores: float) -> tuple[str, str]:
    if wall_s <= 0:
        return "none", ""
    used = cpu_s / wall_s
    words = f"{used:.2f} of {fmt_num(cores)} declared core(s) busy on average"
    if wall_s < MIN_WALL:  # start-up dominates: no verdict
        return "none", words
    if used > cores * 1.1 + 0.05:
        return "over", words + ": uses more cores than declared"
    if cores > 1 and used < cores * LOW_CORES:
        return "low", words + ": over-asked"
    return "ok", words


def _bar(value: float, scale: float, mark: float | None, mark_title: str, cls: str) -> str:
    pct = 100.0 * value / scale if scale > 0 else 0.0
    out = f'<div class="track"><span class="fill {cls}" style="width:{max(pct, 0.3):.2f}%"></span>'
    if mark is not None and scale > 0:
        out += f'<span class="mark" style="left:{min(100.0 * mark / scale, 100.0):.2f}%" title="{esc(mark_title)}"></span>'
    return out + "</div>"


def _rows(items: list[tuple[str, str | None, float, float | None, float, float, float]]) -> tuple[str, str]:
    """items: (label, href, peak, declared mem, cpu_s, wall_s, cores) -> (memory rows, cpu rows)."""
    mem_scale = max([max(p, d or 0) for _, _, p, d, _, _, _ in items] + [1.0])
    cpu_scale = max([max(c, w * k) for _, _, _, _, c, w, k in items] + [1e-9])
    mem_rows, cpu_rows = [], []
    for label, href, peak, decl, cpu, wall, cores in items:
        name = f'<a href="{esc(href)}">{esc(label)}</a>' if href else esc(label)
        mcls, mwords = mem_verdict(peak, decl)
        decl_txt = fmt_bytes(decl) if decl else "—"
        mem_rows.append(
            f'<tr data-verdict="{mcls}"><th scope="row" title="{esc(label)}">{name}</th>'
            f'<td class="barcell">{_bar(peak, mem_scale, decl, f"declared {decl_txt}", "mem")}</td>'
            f'<td class="num">{fmt_bytes(peak) if peak else "—"}</td><td class="num">{decl_txt}</td>'
            f'<td class="verdict {mcls}">{esc(mwords)}</td></tr>')
        ccls, cwords = cpu_verdict(cpu, wall, cores)
        cpu_rows.append(
            f'<tr data-verdict="{ccls}"><th scope="row" title="{esc(label)}">{name}</th>'
            f'<td class="barcell">{_bar(cpu, cpu_scale, wall * cores, f"wall × declared cores = {fmt_s(wall * cores)}", "cpu")}'
            f'</td><td class="num">{fmt_s(cpu)}</td><td class="num">{fmt_s(wall)} × {fmt_num(cores)}</td>'
            f'<td class="verdict {ccls}">{esc(cwords)}</td></tr>')
    return "".join(mem_rows), "".join(cpu_rows)


def _tables(mem_rows: str, cpu_rows: str, what: str) -> str:
    head_m = (f'<thead><tr><th>{what}</th><th>peak memory (bar) · declared (line)</th><th>peak</th>'
              '<th>declared</th><th></th></tr></thead>')
    head_c = (f'<thead><tr><th>{what}</th><th>CPU time (bar) · wall × declared cores (line)</th><th>CPU</th>'
              '<th>wall × cores</th><th></th></tr></thead>')
    return (f'<h3>Memory</h3><table class="bars">{head_m}<tbody>{mem_rows}</tbody></table>'
            f'<h3>CPU</h3><table class="bars">{head_c}<tbody>{cpu_rows}</tbody></table>')


def section(jobs: list[dict], job_href: dict[str, str], rule_href: dict[str, str]) -> str:
    done = measured(jobs)
    if not done:
        return '<p class="empty">No job ran in this run: nothing was measured.</p>'
    rules: dict[str, list[dict]] = {}
    for j in done:
        rules.setdefault(j["rule"], []).append(j)
    per_rule = []
    for rule, js in rules.items():
        decl = [d for d in (_declared_mem(j) for j in js) if d is not None]
        wall = sum(j.get("wall_s") or 0 for j in js)
        per_rule.append((f"{rule} ({len(js)})", rule_href.get(rule),
                         max(j.get("peak_rss_bytes") or 0 for j in js), max(decl) if decl else None,
                         sum(j.get("cpu_s") or 0 for j in js), wall,
                         (sum((j.get("wall_s") or 0) * _cores(j) for j in js) / wall) if wall > 0 else _cores(js[0])))
    per_job = [(j["job"], job_href.get(j["job"]), j.get("peak_rss_bytes") or 0, _declared_mem(j), j.get("cpu_s") or 0,
                j.get("wall_s") or 0, _cores(j)) for js in rules.values() for j in js]
    note = ("<p class=\"note\">Per rule: the highest peak of its jobs, and their summed CPU and wall time. "
            "The bar is what was measured (whole process tree), the line what the rule declared in "
            "<code>resources:</code>. A bar far short of its line is over-asking (it holds back other jobs); "
            "a bar past its line under-asks.</p>")
    mem_r, cpu_r = _rows(per_rule)
    mem_j, cpu_j = _rows(per_job)
    open_attr = " open" if len(per_job) <= 30 else ""
    return (note + '<div class="per-rule">' + _tables(mem_r, cpu_r, "rule (jobs)") + "</div>"
            f'<details class="per-job"{open_attr}><summary>Per job ({len(per_job)})</summary>'
            + _tables(mem_j, cpu_j, "job") + "</details>")
