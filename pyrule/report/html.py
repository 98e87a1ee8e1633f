"""Small helpers shared by the report's parts: escaping and human units."""

from __future__ import annotations

import html
import re

_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def esc(value: object) -> str:
    """Text made safe for HTML element content and quoted attribute values."""
    return html.escape("" if value is None else str(value), quote=True)


def clean(text: str) -> str:
    """Terminal colour codes and other control characters removed (tabs and newlines kept)."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def fmt_bytes(n: float | None) -> str:
    if n is None or n == "":
        return ""
    n = float(n)
    for unit in ("B", "K", "M", "G", "T"):
        if abs(n) < 1024 or unit == "T":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}T"


def fmt_s(s: float | None) -> str:
    if s is None:
        return ""
    s = float(s)
    if s < 10:
        return f"{s:.2f}s"
    if s < 60:
        return f"{s:.1f}s"
    if s < 3600:
        return f"{int(s // 60)}m{s % 60:02.0f}s"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"


def fmt_num(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.2f}"
