#!/usr/bin/env bash
# The whole test suite: installs the pinned Python test tools (moto, cfn-lint) when missing,
# then runs every Rust test (unit, fixture comparisons, end-to-end against moto).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
cargo test --workspace "$@"
