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
