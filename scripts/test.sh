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
# `npm ci` only when tests/tools/package-lock.json changed since the last install: the install
# leaves the lock file's sha256 in node_modules/.deployer-lock-sha (idempotent, no network when
# the stamp matches; a failed install leaves no stamp, so the next run retries).
TOOLS=tests/tools
STAMP="$TOOLS/node_modules/.deployer-lock-sha"
LOCK_SHA=$( (sha256sum 2>/dev/null || shasum -a 256) < "$TOOLS/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$LOCK_SHA" ]; then
    npm ci --prefix "$TOOLS" --no-audit --no-fund --loglevel=error
    echo "$LOCK_SHA" > "$STAMP"
fi
cargo test --workspace "$@"
