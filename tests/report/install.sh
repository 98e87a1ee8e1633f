#!/bin/sh
# Install what the browser tests of the HTML report need: Debian's chromium (apt) and the
# Playwright Python package (pip). Idempotent: does nothing for what is already there.
# Never runs `playwright install`: the tests drive /usr/bin/chromium.
set -eu

PYTHON="${PYTHON:-python3}"

if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    # Wait for another apt/dpkg (up to 10 minutes) rather than fail on its lock.
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update
    $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends chromium
fi

if ! "$PYTHON" -c "import playwright" 2>/dev/null; then
    "$PYTHON" -m pip install playwright
fi

/usr/bin/chromium --version 2>/dev/null || true
"$PYTHON" -c "import importlib.metadata as m; print('playwright', m.version('playwright'))"
