#!/usr/bin/env bash
# The whole test suite: installs the pinned Python test tools (moto, cfn-lint) and the pinned
# build tools (esbuild and the bundled packages of tests/tools) when missing, then runs every
# Rust test (unit, fixture comparisons, builds with the real esbuild and pip, end-to-end
# against moto). The Python build tests fetch their pinned wheels from PyPI through pip.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
# `npm ci` only when the installed esbuild is not the pinned one (idempotent, no network otherwise).
TOOLS=tests/tools
PINNED=$(node -p "require('./$TOOLS/package.json').devDependencies.esbuild")
if [ "$("$TOOLS/node_modules/.bin/esbuild" --version 2>/dev/null || true)" != "$PINNED" ]; then
    npm ci --prefix "$TOOLS" --no-audit --no-fund --loglevel=error
fi
cargo test --workspace "$@"
