#!/usr/bin/env bash
# Assembles the class path of Apache Iceberg's REST catalog test server
# (deploy/rest/pom.xml) from Maven Central into
# ~/.cache/floe/iceberg-rest-<hash of pom.xml>/lib (override the cache with
# FLOE_CACHE; jars are cached in ~/.m2) and prints the lib directory.
# Cache-aware: a complete earlier copy is reused without the network.
# Run the server with deploy/rest/start.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${FLOE_CACHE:-$HOME/.cache/floe}"
dir="$cache/iceberg-rest-$(sha256sum "$here/pom.xml" | cut -c1-12)"
if [ ! -f "$dir/.complete" ]; then
  command -v mvn >/dev/null || { echo "mvn is not installed: apt-get install -y maven" >&2; exit 1; }
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "fetching the Iceberg REST catalog server's jars into $dir/lib (cached in ~/.m2)" >&2
  mvn -q -B -f "$here/pom.xml" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DoutputDirectory="$dir/lib" -DincludeScope=runtime >&2
  touch "$dir/.complete"
fi
echo "$dir/lib"
