#!/usr/bin/env bash
# Installs versitygw (an Apache-2.0 S3-compatible gateway; its posix backend
# serves a local directory over S3 with real SigV4 checks) into
# ~/.cache/floe/bin with `go install`, and prints the binary's path.
# Cache-aware: does nothing when the pinned version is already installed.
# Override the cache with FLOE_CACHE (default ~/.cache/floe).
set -euo pipefail

VERSITYGW_VERSION="${VERSITYGW_VERSION:-v1.8.0}"
cache="${FLOE_CACHE:-$HOME/.cache/floe}"
bin="$cache/bin/versitygw-$VERSITYGW_VERSION"

if [ ! -x "$bin" ]; then
  mkdir -p "$cache/bin"
  tmp="$(mktemp -d "$cache/bin/.install.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  echo "installing versitygw $VERSITYGW_VERSION into $cache/bin (about a minute the first time)" >&2
  # GOFLAGS is cleared so a caller's -modfile does not leak into the install.
  GOFLAGS= GOBIN="$tmp" CGO_ENABLED=0 go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >&2
  mv "$tmp/versitygw" "$bin"
fi
echo "$bin"
