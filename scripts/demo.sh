#!/usr/bin/env bash
# `make demo`: deployer on the example service against a local AWS emulator (moto), no AWS
# account needed. Starts moto with two accounts (profile default → 111111111111 = prod,
# devAccount → 222222222222 = dev), deploys each stage into its own account, shows the guard
# refusing a push of prod with dev credentials, then removes everything.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# pip puts moto_server in the interpreter's scripts directory, or the user's (see test.sh).
PY=${PYTHON:-python3}
PATH="$("$PY" -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$("$PY" -m site --user-base)/bin:$PATH"
export PATH
if ! command -v moto_server >/dev/null 2>&1; then
  echo "moto_server is not installed; installing the pinned test tools (requirements-test.txt)" >&2
  "$PY" -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
fi

# Cargo's own progress shows while it builds. The demo profile (Cargo.toml) compiles without
# optimisation: a first build is most of a fresh machine's `make demo`, and the demo's work is
# small. Releases are built with the dist profile.
echo "Building deployer (profile demo: quick to compile, unoptimised)..." >&2
cargo build --profile demo -p deployer-cli -p deployer-testbed
# Where cargo put the binaries: CARGO_TARGET_DIR (absolute or relative to the workspace) or target/.
target_dir=${CARGO_TARGET_DIR:-target}
case "$target_dir" in /*) ;; *) target_dir=$root/$target_dir ;; esac
bin=$target_dir/demo/deployer

work=$(mktemp -d)
cleanup() {
  exec 3>&- 2>/dev/null || true # closing the test bed's stdin stops moto
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The test bed starts moto, provisions the two accounts and prints the AWS_* variables.
mkfifo "$work/hold"
"$target_dir/demo/deployer-testbed" up <"$work/hold" >"$work/env" 2>"$work/testbed.log" &
exec 3>"$work/hold"
for _ in $(seq 1 300); do
  grep -q AWS_SHARED_CREDENTIALS_FILE "$work/env" 2>/dev/null && break
  sleep 0.1
done
grep -q AWS_SHARED_CREDENTIALS_FILE "$work/env" || { cat "$work/testbed.log" >&2; exit 1; }
# shellcheck disable=SC1091
source "$work/env"
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN CI

# The seed service, each stage pinned to its account.
svc=$work/service
cp -r tests/fixtures/multi-account/service "$svc"
"${PYTHON:-python3}" - "$svc/serverless.yml" <<'EOF'
import sys
p = sys.argv[1]
s = open(p).read()
s = s.replace("custom:\n", "custom:\n  accounts:\n    prod: '111111111111'\n    dev: '222222222222'\n", 1)
s = s.replace("  region: us-east-1\n", "  region: us-east-1\n  allowedAccountIds:\n    - ${self:custom.accounts.${sls:stage}}\n", 1)
open(p, "w").write(s)
EOF
cd "$svc"

step() { printf '\n\033[1m$ deployer %s\033[0m\n' "$*"; }
show() { step "$@"; "$bin" "$@"; }

show whoami --stage dev
show up --stage dev
show up --stage prod
show up --stage dev
step up --stage prod --aws-profile devAccount
set +e
"$bin" up --stage prod --aws-profile devAccount
code=$?
set -e
echo "(exit code $code: the guard refused before anything was written)"
show info --stage prod
echo "(moto does not implement API Gateway v2 ids, so the HTTP API endpoint shows as"
echo " https://None.execute-api…; on AWS it is the API's real id)"
show remove --stage dev --yes
show remove --stage prod --yes
echo
echo "Done: moto stops and the temporary files are removed."
