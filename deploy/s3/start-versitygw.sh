#!/usr/bin/env bash
# Starts versitygw in the foreground serving DIR (created if missing) on
# 127.0.0.1:PORT with the given access key pair; every top-level directory
# of DIR is a bucket. Stop it with Ctrl-C (or by PID).
#   deploy/s3/start-versitygw.sh DIR PORT ACCESS_KEY SECRET_KEY
# Example, then use endpoint http://127.0.0.1:9000 and path-style access:
#   mkdir -p /tmp/s3/lake && deploy/s3/start-versitygw.sh /tmp/s3 9000 floe floe-secret
set -euo pipefail
if [ $# -ne 4 ]; then
  echo "usage: $0 DIR PORT ACCESS_KEY SECRET_KEY" >&2
  exit 2
fi
dir="$1" port="$2" access="$3" secret="$4"
bin="$("$(dirname "$0")/install-versitygw.sh")"
mkdir -p "$dir"
export ROOT_ACCESS_KEY="$access" ROOT_SECRET_KEY="$secret"
exec "$bin" --port "127.0.0.1:$port" posix "$dir"
