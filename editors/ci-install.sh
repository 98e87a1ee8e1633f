#!/usr/bin/env bash
# Install what tests/editors needs, from nothing, on Debian/Ubuntu:
#   vim and emacs-nox (the real editors), node + npm, and the npm packages pinned in
#   editors/vscode/package-lock.json (vscode-tmgrammar-test, tm-grammars; vscode-languageclient, the
#   extension's own dependency) into
#   editors/vscode/node_modules (git-ignored).
# Idempotent: when everything is there already it does nothing and takes well under a second.
set -euo pipefail
cd "$(dirname "$0")"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else echo "ci-install: need root to run: $*" >&2; return 1
    fi
}

missing=()
command -v vim >/dev/null || missing+=(vim)
command -v emacs >/dev/null || missing+=(emacs-nox)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
    if command -v apt-get >/dev/null; then
        echo "ci-install: apt-get install ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "ci-install: no apt-get; install ${missing[*]} yourself" >&2
        exit 1
    fi
fi

# npm packages: (re)install when node_modules is missing or older than the lock file
cd vscode
stamp=node_modules/.package-lock.json
if [ ! -x node_modules/.bin/vscode-tmgrammar-test ] || [ ! -f node_modules/tm-grammars/grammars/shellscript.json ] \
        || [ ! -f node_modules/vscode-languageclient/package.json ] \
        || [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
    echo "ci-install: npm install (editors/vscode)"
    npm install --no-audit --no-fund --loglevel=error
fi

echo "ci-install: vim $(vim --version | head -1 | sed 's/.*IMproved //; s/ .*//')," \
     "$(emacs --version | head -1), node $(node --version), vscode-tmgrammar-test ready"
