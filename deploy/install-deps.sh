#!/usr/bin/env bash
# Installs what `make test` and `make demo` need on a fresh Debian machine:
# the PostgreSQL server binaries (the tests and the demo start their own
# throwaway clusters; the system service is not used) and staticcheck.
# Downloads are cached outside the checkout (Go module cache, ~/go/bin).
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "installing the PostgreSQL server (Debian package postgresql)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

STATICCHECK_VERSION=v0.8.2
gobin="$(go env GOPATH)/bin"
if ! "$gobin/staticcheck" -version 2>/dev/null | grep -q "${STATICCHECK_VERSION#v}"; then
  echo "installing staticcheck $STATICCHECK_VERSION"
  GOFLAGS= go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi

# MariaDB server binaries for the MySQL/MariaDB tests (deploy/testdb starts
# throwaway servers with their own data dirs; the system service is not used).
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
if ! { have mariadbd || have mysqld; } || ! { have mariadb-install-db || have mysql_install_db; }; then
  echo "installing the MariaDB server (Debian package mariadb-server)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null
  if command -v systemctl >/dev/null 2>&1; then as_root systemctl disable --now mariadb >/dev/null 2>&1 || true; fi
  as_root service mariadb stop >/dev/null 2>&1 || true
fi

# The interop tests (deploy/interop) fetch Trino and the Iceberg REST test
# server from Maven Central with mvn, run them on a JDK >= 24 (the Temurin
# JDK under /usr/lib/jvm), and read tables with PyIceberg from a venv under
# ~/.cache/floe. Downloads are cached outside the checkout.
if ! command -v mvn >/dev/null 2>&1; then
  echo "installing Maven (Debian package maven)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >/dev/null
fi
jdk_ok=
for java in /usr/lib/jvm/*/bin/java; do
  v=$("$java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  if [ -n "$v" ] && [ "$v" -ge 24 ]; then jdk_ok=$java; fi
done
if [ -z "$jdk_ok" ]; then
  echo "no JDK 24 or newer under /usr/lib/jvm: Trino 476 needs one (install a Temurin JDK there)" >&2
  exit 1
fi
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "installing python3-venv (Debian package)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi

# deploy/image loads the container image into podman (on a private store)
# and runs floe in it; runc, since crun refuses the hybrid cgroup layout
# some machines have.
if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1; then
  echo "installing podman and runc (Debian packages)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc >/dev/null
fi

# The admin status page is checked in a real headless browser
# (cmd/floe TestAdminAPIEndToEnd).
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium (Debian package)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
