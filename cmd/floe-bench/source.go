package main

import (
	"context"
	"fmt"
	"time"
)

// pos is a point in a source's change log, ordered: a PostgreSQL LSN or
// a MariaDB GTID sequence number (of the single domain 0).
type pos uint64

// txnInfo describes one source transaction as the raw decoder saw it.
type txnInfo struct {
	End     pos       // the position floe records once the transaction is committed
	Commit  time.Time // the source commit time
	Tables  []string  // tables the transaction touched (bare names)
	Changes int
}

// decodeResult is what one raw decode pass read.
type decodeResult struct {
	Changes int64
	Txns    []txnInfo // only when collected
	Elapsed time.Duration
}

// applyResult is what one workload pass wrote.
type applyResult struct {
	Changes int64         // row changes written
	Txns    int64         // transactions committed
	Marker  pos           // a position inside the last transaction (which touches every table), before its commit
	Elapsed time.Duration // from the first statement to the last commit
}

// committed counts a committed transaction of changes row changes.
func (r *applyResult) committed(changes int) {
	r.Changes += int64(changes)
	r.Txns++
}

// workload describes a batch of source changes.
type workload struct {
	// Changes is the total number of row changes; TxnChanges per
	// transaction (inserts, updates and deletes in the ratio 2:2:1, or
	// with UpdateHeavy 1:8:1; see workloadMix).
	Changes     int64
	TxnChanges  int
	UpdateHeavy bool
	// Rate paces the load in changes per second; 0 writes flat out.
	Rate float64
	// Duration, when set, ends a paced load after this long instead.
	Duration time.Duration
	// BigInsert, when set, makes the whole workload one transaction that
	// inserts this many rows into one table.
	BigInsert int64
	// Stop, when closed, ends the load early.
	Stop <-chan struct{}
}

// loadInfo describes the generated data set.
type loadInfo struct {
	Tables      []string
	Rows        int64
	AvgRowBytes float64
	Elapsed     time.Duration
}

// benchSource is one source kind under test: the server, the data set, the
// raw baselines and the floe source configuration. PostgreSQL implements
// it in pg.go, MariaDB in source_mariadb.go.
type benchSource interface {
	// Kind names the source ("postgres"), as in floe's source.type.
	Kind() string
	// Version is the server version string.
	Version(ctx context.Context) (string, error)
	// Load creates the tables and fills them with about rows rows.
	Load(ctx context.Context, rows int64) (loadInfo, error)
	// FloeSourceYAML is the source: section of a floe config (indented
	// two spaces, without the "source:" line) capturing tables (bare
	// names).
	FloeSourceYAML(pipeline, snapshotMode string, tables []string, parallelism, chunkRows int) string
	// FloeEnv is the environment floe needs for that section.
	FloeEnv() []string
	// RawSnapshot reads every row of every table, parallelism chunks at
	// once, chunkRows rows per chunk, and discards them; it returns rows.
	RawSnapshot(ctx context.Context, parallelism, chunkRows int) (int64, error)
	// OpenRawCursor starts a raw change cursor at the current end of the
	// log (a second replication slot for PostgreSQL, the current GTID position
	// for MariaDB).
	OpenRawCursor(ctx context.Context, name string) error
	// RawDecode reads the cursor's changes up to and including the
	// transaction that contains marker, discarding them.
	RawDecode(ctx context.Context, name string, marker pos, collect bool) (decodeResult, error)
	// CloseRawCursor drops the cursor.
	CloseRawCursor(ctx context.Context, name string) error
	// Apply writes the workload, then a marker transaction that changes
	// one row of every table (so every table's next commit is past it).
	Apply(ctx context.Context, w workload) (applyResult, error)
	// ResetBlobs (re)creates blobsTable, empty, owned by floe's user.
	ResetBlobs(ctx context.Context) error
	// TxnConn opens the admin connection through which applyTxns and
	// applyBlobs write their transactions.
	TxnConn(ctx context.Context) (txnConn, error)
	// ExecOwned runs stmts one by one, outside a transaction, as the
	// user that must own floe's tables (PostgreSQL: floe's user, so that
	// floe can publish them).
	ExecOwned(ctx context.Context, stmts []string) error
	// DecodeFloePosition parses floe's floe.position summary value.
	DecodeFloePosition(s string) (pos, error)
	// DropPipeline removes what a floe pipeline left in the source (its
	// slot and publication); it must not be running.
	DropPipeline(ctx context.Context, pipeline string) error
	// Stop stops the server and removes its files.
	Stop() error
}

// sourceYAML is a FloeSourceYAML: the connection to 127.0.0.1:port as
// user (the password from pgPasswordEnv, see FloeEnv), then own (the
// source type's own settings, each line indented two spaces and ended by
// a newline), then the snapshot settings.
func sourceYAML(typ string, port int, user, own, snapshotMode string, parallelism, chunkRows int) string {
	return fmt.Sprintf(`  type: %s
  hostname: 127.0.0.1
  port: %d
  username: %s
  password: ${%s}
%s  snapshot.mode: %s
  snapshot.parallelism: %d
  snapshot.chunk-rows: %d
`, typ, port, user, pgPasswordEnv, own, snapshotMode, parallelism, chunkRows)
}
