#!/usr/bin/env bash
# Creates a Python virtual environment with deploy/python/requirements.txt
# under ~/.cache/floe/venv-<hash of requirements.txt> (override the cache
# with FLOE_CACHE) and prints the path of its python. Cache-aware: an
# existing complete environment for the same requirements is reused.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
req="$here/requirements.txt"
cache="${FLOE_CACHE:-$HOME/.cache/floe}"
sum="$(sha256sum "$req" | cut -c1-12)"
venv="$cache/venv-$sum"
py="${PYTHON:-python3}"

if [ ! -f "$venv/.complete" ]; then
  command -v "$py" >/dev/null || { echo "python3 is not installed: apt-get install -y python3 python3-venv" >&2; exit 1; }
  rm -rf "$venv"
  mkdir -p "$cache"
  echo "creating $venv (PyIceberg, PyArrow; a minute or two the first time)" >&2
  "$py" -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" >&2
  touch "$venv/.complete"
fi
echo "$venv/bin/python"
