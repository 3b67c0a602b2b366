#!/usr/bin/env bash
# Runs deployer on the example service without an AWS account.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p deployer-cli
bin=$PWD/target/release/deployer
cd tests/fixtures/multi-account/service
for stage in dev prod; do
  echo "\$ deployer print --stage $stage"
  "$bin" print --stage "$stage"
done
