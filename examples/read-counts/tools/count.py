"""Count reads at least --min bases long in a FASTQ file; print a TSV of length -> count."""

import argparse
import collections

p = argparse.ArgumentParser()
p.add_argument("--min", type=int, default=0)
p.add_argument("fastq")
args = p.parse_args()
counts = collections.Counter()
with open(args.fastq) as f:
    for i, line in enumerate(f):
        if i % 4 == 1 and len(line.strip()) >= args.min:
            counts[len(line.strip()) // 10 * 10] += 1
for length in sorted(counts):
    print(f"{length}\t{counts[length]}")
