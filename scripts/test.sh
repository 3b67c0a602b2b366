#!/usr/bin/env bash
# The whole test suite: installs the pinned Python test tools (moto, cfn-lint) and the pinned
# build tools (esbuild and the bundled packages of tests/tools) when missing, then runs every
# Rust test (unit, fixture comparisons, builds with the real esbuild and pip, end-to-end
# against moto). The Python build tests fetch their pinned wheels from PyPI through pip.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
# pip puts moto_server and cfn-lint in the interpreter's scripts directory, or in the user's
# when site-packages is not writable: make sure both are on PATH for the tests.
PATH="$("$PY" -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$("$PY" -m site --user-base)/bin:$PATH"
export PATH
# `npm ci` only when the installed esbuild is not the pinned one (idempotent, no network otherwise).
TOOLS=tests/tools
PINNED=$(node -p "require('./$TOOLS/package.json').devDependencies.esbuild")
if [ "$("$TOOLS/node_modules/.bin/esbuild" --version 2>/dev/null || true)" != "$PINNED" ]; then
    npm ci --prefix "$TOOLS" --no-audit --no-fund --loglevel=error
fi
cargo test --workspace "$@"
