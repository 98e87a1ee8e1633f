"""A text histogram of a length/count TSV (no plotting library needed)."""

import sys

rows = [line.split("\t") for line in open(sys.argv[1]) if line.strip()]
width = max((int(c) for _, c in rows), default=1)
with open(sys.argv[2], "w") as out:
    for length, count in rows:
        out.write(f"{int(length):>4} {'#' * (40 * int(count) // width)} {int(count)}\n")
