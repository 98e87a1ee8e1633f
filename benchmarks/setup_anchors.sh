#!/usr/bin/env bash
# Install the "anchor" tools the benchmarks compare pyrule against.
#
#   benchmarks/.venv-anchors   snakemake + doit (pip, in their own venv)
#   make, ninja                system packages (apt-get, only if missing)
#   benchmarks/.venv-pyrule    pyrule itself (editable), from an equally clean venv
#
# The anchors are NEVER dependencies of pyrule: they live in a separate,
# gitignored virtual environment. Safe to run again (idempotent).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv-anchors"
PYTHON="${PYTHON:-python3}"

# --- system tools: make, ninja -------------------------------------------
missing=()
command -v make  >/dev/null 2>&1 || missing+=(make)
command -v ninja >/dev/null 2>&1 || missing+=(ninja-build)
if ((${#missing[@]})); then
    if command -v apt-get >/dev/null 2>&1; then
        SUDO=""
        if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
        echo "installing ${missing[*]} with apt-get"
        $SUDO apt-get update
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]}"
    else
        echo "warning: ${missing[*]} missing and apt-get not available;" \
             "those tools will be reported as n/a" >&2
    fi
else
    echo "make and ninja already installed"
fi

# --- python anchors: snakemake, doit --------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    echo "creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
if "$VENV/bin/python" -c 'import snakemake, doit' >/dev/null 2>&1; then
    echo "snakemake and doit already installed in $VENV"
else
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet snakemake doit
fi

# --- pyrule itself, in a clean venv of its own --------------------------
# Every Python tool then starts from an equally clean site-packages: a system
# site-packages may run .pth hooks at every interpreter start (one on our CI
# machines imports certifi: 34 ms), which would be charged to pyrule alone.
PYRULE_VENV="$HERE/.venv-pyrule"
if [ ! -x "$PYRULE_VENV/bin/python" ]; then
    echo "creating $PYRULE_VENV"
    "$PYTHON" -m venv "$PYRULE_VENV"
fi
"$PYRULE_VENV/bin/python" -m pip install --quiet -e "$HERE/.."

echo
echo "anchor versions:"
echo "  make      $(make --version 2>/dev/null | head -n1 || echo n/a)"
echo "  ninja     $(ninja --version 2>/dev/null || echo n/a)"
echo "  snakemake $("$VENV/bin/snakemake" --version 2>/dev/null || echo n/a)"
echo "  doit      $("$VENV/bin/doit" --version 2>/dev/null | head -n1 || echo n/a)"
