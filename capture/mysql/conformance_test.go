package mysql

import (
	"regexp"
	"testing"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/capturetest"
)

// TestConformance runs the capture conformance suite against this source.
func TestConformance(t *testing.T) {
	capturetest.Run(t, capturetest.HarnessFunc(func(t *testing.T) capturetest.Env { return &mariaConfEnv{e: newEnv(t)} }))
}

// mariaConfEnv adapts a testEnv (one database on the shared MariaDB) to the suite.
type mariaConfEnv struct{ e *testEnv }

func (c *mariaConfEnv) Exec(stmts ...string) { c.e.t.Helper(); c.e.exec(stmts...) }
func (c *mariaConfEnv) Tx(stmts ...string)   { c.e.t.Helper(); c.e.tx(stmts...) }

func (c *mariaConfEnv) Begin() capturetest.OpenTx {
	c.e.t.Helper()
	tx, err := c.e.root.Begin()
	if err != nil {
		c.e.t.Fatalf("begin: %v", err)
	}
	c.e.t.Cleanup(func() { _ = tx.Rollback() })
	exec := func(stmt string) error { _, err := tx.Exec(stmt); return err }
	return capturetest.NewOpenTx(c.e.t, exec, tx.Commit, tx.Rollback)
}

// NewSource gives every source its own replica server id, so a resumed
// source never clashes with the one it replaces.
func (c *mariaConfEnv) NewSource(opts capturetest.Options, tables ...string) capture.Source {
	cfg := c.e.config()
	cfg.ServerID = uint32(1000 + envSeq.Add(1))
	for _, name := range tables {
		cfg.Tables = append(cfg.Tables, regexp.MustCompile(regexp.QuoteMeta(c.e.db+"."+name)))
	}
	cfg.MaxBatchChanges, cfg.MaxBatchBytes, cfg.HeartbeatInterval = opts.MaxBatchChanges, opts.MaxBatchBytes, opts.Heartbeat()
	return c.e.source(cfg)
}

func (c *mariaConfEnv) Table(name string) capture.TableID {
	return capture.TableID{Schema: c.e.db, Name: name}
}

// Caps: full row images always; an idle server moves no position, so
// empty batches come only after transactions on other tables (see the
// package doc).
func (c *mariaConfEnv) Caps() capturetest.Caps {
	return capturetest.Caps{FollowsLayoutChanges: true}
}
