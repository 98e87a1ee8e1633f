"""Sizes (`500M`, `2G`) and durations (`90`, `30m`, `2h`, `1d`, `1:30:00`) as written in resources."""

from __future__ import annotations

import re

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B?)\s*$", re.I)
_SIZE_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_size(value: object) -> int:
    """Bytes from a number (megabytes, like Snakemake's mem_mb), a string like '2G', or '500B'."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, (int, float)):
        if not 0 <= value < float("inf"):  # negative, infinite or NaN: no size
            raise ValueError(f"not a size: {value!r}")
        return int(value * 2**20)
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"not a size: {value!r} (write e.g. 500M, 2G, 1.5T)")
    unit = m.group(2).upper()
    if not unit and not m.group(3):  # "500", like 500: megabytes
        unit = "M"
    return int(float(m.group(1)) * _SIZE_UNITS[unit])


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.I)
_DURATION_UNITS = {"": 60, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> int:
    """Seconds from minutes (a number, as Slurm reads --time), '90s', '30m', '2h', '1d' or 'H:MM:SS'."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0 <= value < float("inf"):  # negative, infinite or NaN: no duration
            raise ValueError(f"not a duration: {value!r}")
        return int(value * 60)
    text = str(value)
    if ":" in text:
        parts = text.split(":")
        if len(parts) <= 3 and all(p.isdigit() for p in parts):
            seconds = 0
            for p in parts:
                seconds = seconds * 60 + int(p)
            return seconds if len(parts) == 3 else seconds * 60
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"not a duration: {value!r} (write e.g. 30m, 2h, 1d or 1:30:00)")
    return int(float(m.group(1)) * _DURATION_UNITS[m.group(2).lower()])


def format_size(n: float) -> str:
    for unit in ("B", "K", "M", "G", "T"):
        if abs(n) < 1024 or unit == "T":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n}"
