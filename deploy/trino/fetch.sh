#!/usr/bin/env bash
# Fetches Trino from Maven Central with Maven (cached in ~/.m2) and unpacks
# the server plus its Iceberg plugin into ~/.cache/floe/trino-<version>
# (override the cache with FLOE_CACHE). Prints that directory. Cache-aware:
# an existing complete unpack is reused without touching the network.
#   deploy/trino/fetch.sh            # default version
#   TRINO_VERSION=476 deploy/trino/fetch.sh
# Maven Central serves trino-server-core only as 476 here (checked Nov 2026).
# The Trino version must run on a JDK the machine has: 476 needs Java 24+
# (the Go helper in deploy/interop/trino.go starts it with the newest JDK under /usr/lib/jvm).
set -euo pipefail

TRINO_VERSION="${TRINO_VERSION:-476}"
cache="${FLOE_CACHE:-$HOME/.cache/floe}"
home="$cache/trino-$TRINO_VERSION"

if [ -f "$home/.complete" ]; then
  echo "$home"
  exit 0
fi
command -v mvn >/dev/null || { echo "mvn is not installed: apt-get install -y maven" >&2; exit 1; }

mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.trino-fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
for artifact in "io.trino:trino-server-core:$TRINO_VERSION:tar.gz" "io.trino:trino-iceberg:$TRINO_VERSION:zip"; do
  echo "fetching $artifact (cached in ~/.m2)" >&2
  mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
    -Dartifact="$artifact" -DoutputDirectory="$tmp" -Dmdep.useBaseVersion=true >&2
done
echo "unpacking into $home" >&2
mkdir -p "$tmp/unpack"
tar -xzf "$tmp/trino-server-core-$TRINO_VERSION.tar.gz" -C "$tmp/unpack"
server="$tmp/unpack/trino-server-core-$TRINO_VERSION"
[ -d "$server" ] || server="$(find "$tmp/unpack" -mindepth 1 -maxdepth 1 -type d | head -1)"
mkdir -p "$server/plugin"
(cd "$server/plugin" && unzip -q "$tmp/trino-iceberg-$TRINO_VERSION.zip")
# The zip holds one directory, trino-iceberg-<version>/; Trino names a
# plugin after its directory, so keep the plain name "iceberg".
if [ -d "$server/plugin/trino-iceberg-$TRINO_VERSION" ]; then
  mv "$server/plugin/trino-iceberg-$TRINO_VERSION" "$server/plugin/iceberg"
fi
rm -rf "$home"
mv "$server" "$home"
touch "$home/.complete"
echo "$home"
