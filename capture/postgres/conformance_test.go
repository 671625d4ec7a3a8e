package postgres

import (
	"context"
	"regexp"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/capturetest"
)

// TestConformance runs the capture conformance suite against this source.
func TestConformance(t *testing.T) {
	capturetest.Run(t, capturetest.HarnessFunc(func(t *testing.T) capturetest.Env { return &pgConfEnv{e: newEnv(t)} }))
}

// pgConfEnv adapts a testEnv (one database, one slot) to the suite.
type pgConfEnv struct{ e *testEnv }

func (c *pgConfEnv) Exec(stmts ...string) { c.e.t.Helper(); c.e.exec(stmts...) }

func (c *pgConfEnv) Tx(stmts ...string) {
	c.e.t.Helper()
	ctx := context.Background()
	conn := c.e.connect()
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.e.t.Fatalf("transaction %q: %v", stmts, err)
	}
}

func (c *pgConfEnv) Begin() capturetest.OpenTx {
	c.e.t.Helper()
	conn := c.e.connect()
	tx, err := conn.Begin(context.Background())
	if err != nil {
		c.e.t.Fatalf("begin: %v", err)
	}
	ctx := context.Background()
	c.e.t.Cleanup(func() { _ = tx.Rollback(ctx) })
	exec := func(stmt string) error { _, err := tx.Exec(ctx, stmt); return err }
	return capturetest.NewOpenTx(c.e.t, exec, func() error { return tx.Commit(ctx) }, func() error { return tx.Rollback(ctx) })
}

func (c *pgConfEnv) NewSource(opts capturetest.Options, tables ...string) capture.Source {
	cfg := c.e.config()
	for _, name := range tables {
		cfg.Tables = append(cfg.Tables, regexp.MustCompile(`public\.`+regexp.QuoteMeta(name)))
	}
	cfg.MaxBatchChanges, cfg.MaxBatchBytes, cfg.HeartbeatInterval = opts.MaxBatchChanges, opts.MaxBatchBytes, opts.Heartbeat()
	return c.e.source(cfg)
}

func (c *pgConfEnv) Table(name string) capture.TableID {
	return capture.TableID{Schema: "public", Name: name}
}

// Caps: REPLICA IDENTITY DEFAULT sends key-only old images, idle
// databases get heartbeat messages, and layout changes are followed
// through Relation messages (see the package doc).
func (c *pgConfEnv) Caps() capturetest.Caps {
	return capturetest.Caps{PartialBefore: true, IdleHeartbeat: true, FollowsLayoutChanges: true}
}
