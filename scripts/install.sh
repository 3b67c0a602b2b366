#!/usr/bin/env bash
# Installs a prebuilt deployer from the release archives: picks the archive of this machine's
# platform, downloads it and its .sha256, refuses it unless the checksum matches, unpacks it
# into DIR and checks that the binary runs. The GitHub Action (action.yml) runs this script.
#
#   scripts/install.sh --version 0.2.0 [--dir DIR] [--base-url URL]
#   scripts/install.sh --print-target
#
# --base-url: where the archives are (default: the GitHub release of v<version>).
# --dir: where deployer goes (default: ~/.local/bin; put it on PATH).
set -euo pipefail

repo_url=https://github.com/deployer-rs/deployer
version= dir="$HOME/.local/bin" base_url= print_target=

die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=${2:?--version needs a value}; shift 2 ;;
    --dir) dir=${2:?--dir needs a value}; shift 2 ;;
    --base-url) base_url=${2:?--base-url needs a value}; shift 2 ;;
    --print-target) print_target=1; shift ;;
    *) die "unexpected argument $1 (usage: --version V [--dir DIR] [--base-url URL] | --print-target)" ;;
  esac
done

# The release target of this machine; Linux gets the static (musl) build, which runs anywhere.
target() {
  case "$(uname -s) $(uname -m)" in
    "Linux x86_64" | "Linux amd64") echo x86_64-unknown-linux-musl ;;
    "Linux aarch64" | "Linux arm64") echo aarch64-unknown-linux-musl ;;
    "Darwin x86_64") echo x86_64-apple-darwin ;;
    "Darwin arm64" | "Darwin aarch64") echo aarch64-apple-darwin ;;
    *) die "no prebuilt deployer for $(uname -s) $(uname -m); build it from source: cargo install --locked --git $repo_url deployer-cli" ;;
  esac
}

if [ -n "$print_target" ]; then
  target
  exit 0
fi

version=${version#v}
[ -n "$version" ] || die "--version is required (a release version such as 0.2.0)"
case "$version" in
  *[!0-9A-Za-z.+-]*) die "\"$version\" is not a release version (such as 0.2.0)" ;;
esac
target=$(target)
base_url=${base_url:-$repo_url/releases/download/v$version}
name="deployer-v$version-$target"

download() { # URL FILE
  if command -v curl >/dev/null 2>&1; then
    curl --fail --silent --show-error --location --retry 3 --output "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget --quiet --tries=3 --output-document="$2" "$1"
  else
    die "neither curl nor wget is installed"
  fi || die "could not download $1"
}

sha256() { # FILE
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

download "$base_url/$name.tar.gz" "$work/$name.tar.gz"
download "$base_url/$name.tar.gz.sha256" "$work/$name.tar.gz.sha256"
expected=$(cut -d' ' -f1 <"$work/$name.tar.gz.sha256" | tr 'A-F' 'a-f')
actual=$(sha256 "$work/$name.tar.gz")
[ "$expected" = "$actual" ] \
  || die "checksum mismatch for $name.tar.gz: expected $expected (from $name.tar.gz.sha256), got $actual; not installed"

tar -xzf "$work/$name.tar.gz" -C "$work"
[ -f "$work/$name/deployer" ] || die "$name.tar.gz has no $name/deployer"
mkdir -p "$dir"
install -m 0755 "$work/$name/deployer" "$dir/deployer"
installed=$("$dir/deployer" --version) || die "$dir/deployer does not run on this machine"
[ "$installed" = "deployer $version" ] \
  || die "$dir/deployer reports \"$installed\", not deployer $version"
echo "installed $installed ($target) in $dir" >&2
