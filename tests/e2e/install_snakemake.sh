#!/usr/bin/env bash
# What tests/e2e/test_convert_tutorial.py needs (pyrule --convert against Snakemake itself):
#   bwa, samtools, bcftools          Debian packages (apt-get, only if missing)
#   tests/e2e/.venv-snakemake        Snakemake (with matplotlib and pysam for the tutorial's
#                                    script) in its own, gitignored venv: never a pyrule dependency
#   matplotlib, pysam                where pyrule runs ($PYTHON, default python3): the tutorial's
#                                    script: runs in pyrule's job process
# Safe to run again (idempotent); fails when it cannot install (CI must not skip the test).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv-snakemake"
PYTHON="${PYTHON:-python3}"
SNAKEMAKE_VERSION="9.27.1"  # the version the corpus in tests/data/snakefiles comes from

missing=()
for tool in bwa samtools bcftools; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    echo "installing ${missing[*]} with apt-get"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import snakemake, matplotlib, pysam' >/dev/null 2>&1; then
    "$VENV/bin/python" -m pip install --quiet "snakemake==$SNAKEMAKE_VERSION" matplotlib pysam
fi
if ! "$PYTHON" -c 'import matplotlib, pysam' >/dev/null 2>&1; then
    "$PYTHON" -m pip install --quiet matplotlib pysam
fi
echo "snakemake $("$VENV/bin/snakemake" --version), $(bwa 2>&1 | grep -m1 Version || true), $(samtools --version | head -n1), $(bcftools --version | head -n1)"
