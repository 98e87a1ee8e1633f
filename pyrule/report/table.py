"""The sortable table of jobs, and the failures with the tails of their logs."""

from __future__ import annotations

import os

from .graph import style
from .html import clean, esc, fmt_bytes, fmt_num, fmt_s

TAIL_LINES = 50
_TAIL_BYTES = 256 * 1024


def log_tail(path: str | None, root: str, lines: int = TAIL_LINES) -> tuple[str, bool]:
    """The last `lines` lines of a job's log (colour codes removed), and whether lines were left out.

    Read now, when the report is made: the log may have been rewritten by a later run.
    """
    if not path:
        return "(this job has no log file)", False
    full = path if os.path.isabs(path) else os.path.join(root, path)
    try:
        with open(full, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - _TAIL_BYTES))
            data = f.read()
    except FileNotFoundError:
        return "(no log file: the job printed nothing, or the log was removed since)", False
    except OSError as e:
        return f"(log {path} could not be read: {e.strerror or e})", False
    text = clean(data.decode("utf-8", errors="replace"))
    all_lines = text.split("\n")
    if all_lines and all_lines[-1] == "":
        all_lines.pop()
    if size > _TAIL_BYTES and all_lines:
        all_lines = all_lines[1:]  # the first one is probably cut in the middle
    if not all_lines:
        return "(the log is empty)", False
    return "\n".join(all_lines[-lines:]), len(all_lines) > lines or size > _TAIL_BYTES


def _cell(text: str, sort: object = None, cls: str = "", title: str | None = None) -> str:
    attrs = ""
    if sort is not None:
        attrs += f' data-v="{esc(sort)}"'
    if cls:
        attrs += f' class="{cls}"'
    if title:
        attrs += f' title="{esc(title)}"'
    return f"<td{attrs}>{text}</td>"


def jobs_table(jobs: list[dict], ids: dict[str, str], fail_ids: dict[str, str], t0: float | None) -> str:
    keys = sorted({k for j in jobs for k in (j.get("reported") or {})})
    heads = [("#", "num"), ("job", ""), ("rule", ""), ("status", ""), ("reason", ""), ("start", "num"),
             ("wall", "num"), ("CPU", "num"), ("peak RSS", "num"), ("mem declared", "num"), ("cores", "num"),
             ("exit", "num"), ("attempts", "num")]
    th = [f'<th scope="col" class="{c}" data-col="{i}" tabindex="0" aria-sort="none" '
          f'title="click to sort">{esc(h)}</th>' for i, (h, c) in enumerate(heads)]
    base = len(heads)
    th += [f'<th scope="col" class="rep" data-col="{base + i}" tabindex="0" aria-sort="none" '
           f'title="reported by the job: click to sort">{esc(k)}</th>' for i, k in enumerate(keys)]
    th.append(f'<th scope="col" data-col="{base + len(keys)}" tabindex="0" aria-sort="none">log</th>')
    rows = []
    for i, j in enumerate(jobs):
        res = j.get("resources") or {}
        mem = res.get("mem") if isinstance(res.get("mem"), (int, float)) else None
        cores = res.get("cores") if isinstance(res.get("cores"), (int, float)) else None
        fill, ink, label = style(j["status"])
        start = (j["start"] - t0) if (j.get("start") is not None and t0 is not None) else None
        ran = j.get("start") is not None
        io = f"inputs: {', '.join(j.get('inputs') or []) or '—'}\noutputs: {', '.join(j.get('outputs') or []) or '—'}"
        cells = [
            _cell(str(i + 1), i, "num"),
            _cell(f'<span class="jobname">{esc(j["job"])}</span>', j["job"], title=io),
            _cell(esc(j["rule"]), j["rule"]),
            _cell(f'<span class="badge" style="background:{fill};color:{ink}">{esc(label)}</span>', j["status"]),
            _cell(esc(j.get("reason") or ""), j.get("reason") or "", "reason"),
            _cell(f"+{fmt_s(start)}" if start is not None else "", start if start is not None else "", "num"),
            _cell(fmt_s(j.get("wall_s")) if ran else "", j.get("wall_s") if ran else "", "num"),
            _cell(fmt_s(j.get("cpu_s")) if ran else "", j.get("cpu_s") if ran else "", "num"),
            _cell((fmt_bytes(j.get("peak_rss_bytes")) if j.get("peak_rss_bytes") else "—") if ran else "",
                  j.get("peak_rss_bytes") if ran else "", "num",
                  None if (not ran or j.get("peak_rss_bytes")) else "not measured: ended before its first sample"),
            _cell(fmt_bytes(mem) if mem else "", mem or "", "num"),
            _cell(fmt_num(cores) if cores is not None else "", cores if cores is not None else "", "num"),
            _cell(esc(j["exit_code"]) if j.get("exit_code") is not None else "",
                  j["exit_code"] if j.get("exit_code") is not None else "", "num"),
            _cell(esc(j.get("attempts") or 0), j.get("attempts") or 0, "num"),
        ]
        rep = j.get("reported") or {}
        cells += [_cell(esc(rep.get(k, "")), rep.get(k, ""), "rep") for k in keys]
        log = j.get("log") or ""
        log_html = f'<span class="path">{esc(log)}</span>'
        if j["job"] in fail_ids:
            log_html = f'<a href="#{fail_ids[j["job"]]}">log tail</a> ' + log_html
        cells.append(_cell(log_html, log))
        cls = f' class="st-{esc(j["status"])}"'
        rows.append(f'<tr id="{ids[j["job"]]}"{cls} data-job="{esc(j["job"])}">{"".join(cells)}</tr>')
    return (f'<div class="tablewrap"><table id="jobs" class="jobs sortable"><thead><tr>{"".join(th)}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def failures(jobs: list[dict], ids: dict[str, str], fail_ids: dict[str, str], root: str) -> str:
    out = []
    for j in jobs:
        if j["job"] not in fail_ids:
            continue
        tail, cut = log_tail(j.get("log"), root)
        head = f"last {TAIL_LINES} lines of " if cut else ""
        code = f"exit code {j['exit_code']}" if j.get("exit_code") is not None else ""
        meta = [code, j.get("reason") if j.get("reason") != code else "",
                f"after {fmt_s(j.get('wall_s'))}" if j.get("start") is not None else "",
                f"{j.get('attempts')} attempts" if (j.get("attempts") or 0) > 1 else ""]
        out.append(
            f'<article class="failure" id="{fail_ids[j["job"]]}">'
            f'<h3><a href="#{ids[j["job"]]}">{esc(j["job"])}</a> <span class="muted">rule {esc(j["rule"])}</span></h3>'
            f'<p class="muted">{esc(" · ".join(m for m in meta if m))}</p>'
            f'<p class="logname">{head}log <code>{esc(j.get("log") or "")}</code></p>'
            f'<pre class="logtail">{esc(tail)}</pre></article>')
    return "".join(out)
