"""The report's inline stylesheet and script (no fonts, images or scripts from anywhere else)."""

CSS = """
:root{--ink:#212529;--muted:#6c757d;--line:#dee2e6;--bg:#fff;--soft:#f8f9fa;--accent:#1c7ed6}
*{box-sizing:border-box}
html{scroll-behavior:smooth;scroll-padding-top:56px}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 color:var(--ink);background:var(--bg)}
header{position:sticky;top:0;z-index:5;display:flex;gap:24px;align-items:center;padding:10px 24px;
 background:#212529;color:#fff}
header .brand{font-weight:700;letter-spacing:.02em}
header nav a{color:#dee2e6;text-decoration:none;margin-right:16px;font-size:13px}
header nav a:hover{color:#fff;text-decoration:underline}
main{padding:8px 24px 32px;max-width:1500px}
section{margin:18px 0 30px}
h1{font-size:22px;margin:12px 0 10px}
h2{font-size:18px;margin:0 0 6px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:14px 0 6px}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.note,.muted{color:var(--muted);font-size:13px;margin:4px 0 8px}
.empty{color:var(--muted);font-style:italic}
.status{display:inline-block;font-size:13px;padding:2px 10px;border-radius:12px;vertical-align:middle;
 color:#fff;background:#868e96}
.status-ok{background:#2f9e44}.status-failed{background:#e03131}.status-interrupted{background:#f59f00;color:#212529}
.totals{display:flex;gap:10px;flex-wrap:wrap;margin:6px 0 12px}
.total{border:1px solid;border-left-width:6px;border-radius:6px;padding:4px 12px;background:var(--soft)}
.total strong{font-size:17px;margin-right:4px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;margin:0}
dl.meta dt{color:var(--muted)}dl.meta dd{margin:0}
code.cmd{background:var(--soft);border:1px solid var(--line);border-radius:4px;padding:1px 6px;word-break:break-all}
.tools{margin:4px 0}
button{font:inherit;font-size:12px;padding:3px 10px;border:1px solid #adb5bd;border-radius:4px;background:#fff;
 cursor:pointer}
button[aria-pressed=true]{background:#e7f5ff;border-color:var(--accent)}
.graphwrap{overflow:auto;max-height:75vh;border:1px solid var(--line);border-radius:6px;background:#fff}
.graphwrap.fit svg{max-width:100%;height:auto}
.graphwrap svg{display:block}
.pr-timeline{display:block;border:1px solid var(--line);border-radius:6px;background:#fff}
table{border-collapse:collapse}
table.bars{width:100%;max-width:1200px;margin-bottom:8px;font-size:13px}
table.bars th,table.bars td{padding:3px 8px;border-bottom:1px solid #f1f3f5;text-align:left;white-space:nowrap}
table.bars thead th{font-weight:600;color:var(--muted);font-size:12px}
table.bars tbody th{font-weight:500;max-width:260px;overflow:hidden;text-overflow:ellipsis}
table.bars td.barcell{width:45%;min-width:200px}
.track{position:relative;height:12px;background:#f1f3f5;border-radius:3px}
.track .fill{position:absolute;left:0;top:0;bottom:0;border-radius:3px}
.fill.mem{background:#4c6ef5}.fill.cpu{background:#12b886}
.track .mark{position:absolute;top:-3px;bottom:-3px;width:0;border-left:2px solid #212529}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.verdict{font-size:12px;color:var(--muted)}
.verdict.over{color:#c92a2a;font-weight:600}.verdict.low{color:#e67700;font-weight:600}
details.per-job summary{cursor:pointer;color:var(--accent);margin:6px 0}
.failure{border:1px solid #ffc9c9;border-left:5px solid #e03131;border-radius:6px;padding:4px 14px 10px;
 margin:10px 0;background:#fff5f5}
.failure h3 a{color:#c92a2a}
pre.logtail{background:#212529;color:#f1f3f5;padding:10px 12px;border-radius:5px;overflow:auto;max-height:420px;
 font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;margin:4px 0 0;white-space:pre}
.tablewrap{overflow:auto;max-height:80vh;border:1px solid var(--line);border-radius:6px}
table.jobs{width:100%;font-size:13px}
table.jobs th,table.jobs td{padding:4px 8px;border-bottom:1px solid #f1f3f5;text-align:left;white-space:nowrap}
table.jobs thead th{position:sticky;top:0;background:#f1f3f5;cursor:pointer;user-select:none;z-index:1;
 border-bottom:1px solid var(--line)}
table.jobs thead th:hover{background:#e9ecef}
table.jobs thead th.num{text-align:right}
table.jobs thead th[aria-sort=ascending]::after{content:" \\25B2";font-size:10px}
table.jobs thead th[aria-sort=descending]::after{content:" \\25BC";font-size:10px}
table.jobs th.rep{color:#5f3dc4}
table.jobs td.reason{white-space:normal;min-width:180px;max-width:360px}
table.jobs td.rep{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
table.jobs tr.st-failed td{background:#fff5f5}
table.jobs tr:target td{background:#fff3bf;transition:background .3s}
table.jobs tbody tr:hover td{background:#f8f9fa}
.jobname{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px}
.path{color:var(--muted);font-size:12px}
footer{color:var(--muted);font-size:12px;padding:12px 24px;border-top:1px solid var(--line)}
"""

JS = """
(function () {
  "use strict";
  var table = document.getElementById("jobs");
  if (table) {
    var heads = table.tHead.rows[0].cells;
    var value = function (td) {
      var v = td.getAttribute("data-v");
      return v === null ? td.textContent.trim() : v;
    };
    var sortBy = function (th) {
      var col = th.cellIndex;
      var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
      for (var i = 0; i < heads.length; i++) heads[i].setAttribute("aria-sort", "none");
      th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = value(a.cells[col]), y = value(b.cells[col]);
        var c = 0;
        if (x === "" || y === "") {
          c = x === y ? 0 : (x === "" ? 1 : -1);  /* empty cells last, either way */
          if (c) return c;
        } else {
          var nx = Number(x), ny = Number(y);
          c = (isFinite(nx) && isFinite(ny)) ? nx - ny : x.localeCompare(y, undefined, {numeric: true});
        }
        return c * dir || Number(a.cells[0].getAttribute("data-v")) - Number(b.cells[0].getAttribute("data-v"));
      });
      var frag = document.createDocumentFragment();
      rows.forEach(function (r) { frag.appendChild(r); });
      body.appendChild(frag);
    };
    Array.prototype.forEach.call(heads, function (th) {
      th.addEventListener("click", function () { sortBy(th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(th); }
      });
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("pre.logtail"), function (pre) {
    pre.scrollTop = pre.scrollHeight;  /* the last lines first: where the error usually is */
  });
  var fit = document.getElementById("fit");
  var wrap = document.querySelector(".graphwrap");
  if (fit && wrap) {
    fit.addEventListener("click", function () {
      var on = wrap.classList.toggle("fit");
      fit.setAttribute("aria-pressed", on ? "true" : "false");
    });
  }
})();
"""
