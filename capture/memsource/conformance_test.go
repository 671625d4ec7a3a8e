package memsource_test

import (
	"testing"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/capturetest"
	"github.com/floe-cdc/floe/capture/memsource"
)

// TestConformance runs the capture conformance suite against the
// in-memory source: the same tests the PostgreSQL and MariaDB sources
// pass against their servers, in process, also under -short.
func TestConformance(t *testing.T) {
	capturetest.Run(t, capturetest.HarnessFunc(func(t *testing.T) capturetest.Env {
		return &memEnv{t: t, db: memsource.NewDB("mem")}
	}))
}

// memEnv is one test's database.
type memEnv struct {
	t  *testing.T
	db *memsource.DB
}

func (e *memEnv) Exec(stmts ...string) {
	e.t.Helper()
	if _, err := e.db.Exec(stmts...); err != nil {
		e.t.Fatal(err)
	}
}

func (e *memEnv) Tx(stmts ...string) {
	e.t.Helper()
	tx := e.db.Begin()
	if err := tx.Exec(stmts...); err != nil {
		e.t.Fatal(err)
	}
	if _, err := tx.Commit(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *memEnv) Begin() capturetest.OpenTx {
	tx := e.db.Begin()
	return capturetest.NewOpenTx(e.t, func(stmt string) error { return tx.Exec(stmt) },
		func() error { _, err := tx.Commit(); return err }, tx.Rollback)
}

func (e *memEnv) NewSource(opts capturetest.Options, tables ...string) capture.Source {
	return memsource.New(e.db, memsource.Config{Tables: tables, MaxBatchChanges: opts.MaxBatchChanges, MaxBatchBytes: opts.MaxBatchBytes,
		HeartbeatInterval: opts.HeartbeatInterval})
}

func (e *memEnv) Table(name string) capture.TableID { return e.db.Table(name) }

// Caps: full before images always; heartbeats on an idle database; ALTER
// TABLE ADD COLUMN followed.
func (e *memEnv) Caps() capturetest.Caps {
	return capturetest.Caps{IdleHeartbeat: true, FollowsLayoutChanges: true}
}
