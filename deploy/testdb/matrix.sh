#!/usr/bin/env bash
# The server version matrix (`make matrix`): for every PostgreSQL and
# MySQL-family server Floe is tested against, the capture conformance
# suite of its source, the live type decoder test and one SIGKILL crash
# test of `floe run` (upsert mode: snapshot and streaming kills under a
# running workload, then `floe verify`). Servers other than the Debian defaults are fetched once
# by deploy/testdb/fetch-server.sh (cached outside the checkout).
#
#   deploy/testdb/matrix.sh                      # everything
#   MATRIX_PG="13 18" MATRIX_MYSQL="mysql-9.7" deploy/testdb/matrix.sh
#   MATRIX_PG= deploy/testdb/matrix.sh           # MySQL family only
#
# Each run's go test output is kept in $out/<server>-<suite>.log and the
# results table (server, suite, result, seconds) in $out/results.md
# (out: MATRIX_OUT, default .floe/matrix). Exit status 1 if any run failed.
set -uo pipefail

cd "$(dirname "$0")/../.."
pg_versions=${MATRIX_PG-"13 14 15 16 17 18"}
mysql_servers=${MATRIX_MYSQL-"mariadb-10.11 mariadb-11.4 mariadb-11.8 mysql-9.7"}
out=${MATRIX_OUT:-.floe/matrix}
go=${GO:-go}
mkdir -p "$out"
results="$out/results.md"
{
  echo "| server | suite | result | seconds |"
  echo "| --- | --- | --- | --- |"
} >"$results"
failed=0

# run SERVER SUITE ENV PKG PATTERN: one go test run, one results row.
run() {
  local server=$1 suite=$2 env=$3 pkg=$4 pattern=$5
  local log="$out/$server-$suite.log" start end result
  start=$(date +%s)
  if env "$env" "$go" test -count=1 -timeout 30m -v -run "$pattern" "$pkg" >"$log" 2>&1; then
    result=pass
  else
    result=FAIL
    failed=1
  fi
  end=$(date +%s)
  # A run that matched no test is no pass.
  if [ "$result" = pass ] && ! grep -q -- '^--- PASS' "$log"; then
    result="FAIL (no test ran)"
    failed=1
  fi
  echo "| $server | $suite | $result | $((end - start)) |" | tee -a "$results"
}

# fetch KIND VERSION: fetches (or finds cached) a server, one results row.
fetch() {
  local start end
  start=$(date +%s)
  if deploy/testdb/fetch-server.sh "$1" "$2" >"$out/$1-$2-fetch.log" 2>&1; then
    end=$(date +%s)
    echo "| $1-$2 | fetch | pass | $((end - start)) |" | tee -a "$results"
    return 0
  fi
  end=$(date +%s)
  echo "| $1-$2 | fetch | FAIL (see $out/$1-$2-fetch.log) | $((end - start)) |" | tee -a "$results"
  failed=1
  return 1
}

# Per server: the capture conformance suite (plus the source's tests of
# what differs between versions: heartbeats, server ids, tagged GTIDs,
# compressed transactions), every type decoded from the server's text and
# its replication stream, and the crash test.
for v in $pg_versions; do
  if [ "$v" != 15 ]; then fetch postgres "$v" || continue; fi
  run "postgres-$v" capture "FLOE_TEST_PG=$v" ./capture/postgres/ '^(TestConformance|TestHeartbeatAckResume)$'
  run "postgres-$v" decoders "FLOE_TEST_PG=$v" ./schema/pgtype/ '^TestDecodersAgainstPostgres$'
  run "postgres-$v" crash "FLOE_TEST_PG=$v" ./cmd/floe/ '^TestCrashExactlyOnce$/^upsert$'
done
for s in $mysql_servers; do
  if [ "$s" != mariadb-10.11 ]; then fetch "${s%%-*}" "${s#*-}" || continue; fi
  run "$s" capture "FLOE_TEST_MYSQL=$s" ./capture/mysql/ '^(TestConformance|TestReaderWithOurServerID|TestTaggedGTIDs|TestCompressedTransactions)$'
  run "$s" decoders "FLOE_TEST_MYSQL=$s" ./schema/mysqltype/ '^TestMySQLDecodersLive$'
  run "$s" crash "FLOE_TEST_MYSQL=$s" ./cmd/floe/ '^TestMySQLCrashExactlyOnce$/^upsert$'
done

echo "results: $results"
exit $failed
