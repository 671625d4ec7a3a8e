package postgres

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/capturetest"
)

// TestConformance runs the capture conformance suite against this source.
func TestConformance(t *testing.T) {
	capturetest.Run(t, pgHarness{})
}

type pgHarness struct{}

func (pgHarness) Setup(t *testing.T) capturetest.Env { return &pgConfEnv{e: newEnv(t)} }

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
	o := &pgOpenTx{t: c.e.t, tx: tx}
	c.e.t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return o
}

type pgOpenTx struct {
	t  *testing.T
	tx pgx.Tx
}

func (o *pgOpenTx) Exec(stmts ...string) {
	o.t.Helper()
	for _, s := range stmts {
		if _, err := o.tx.Exec(context.Background(), s); err != nil {
			o.t.Fatalf("exec %q: %v", s, err)
		}
	}
}

func (o *pgOpenTx) Commit() {
	o.t.Helper()
	if err := o.tx.Commit(context.Background()); err != nil {
		o.t.Fatalf("commit: %v", err)
	}
}

func (o *pgOpenTx) Rollback() {
	o.t.Helper()
	if err := o.tx.Rollback(context.Background()); err != nil {
		o.t.Fatalf("rollback: %v", err)
	}
}

func (c *pgConfEnv) NewSource(opts capturetest.Options, tables ...string) capture.Source {
	cfg := c.e.config()
	for _, name := range tables {
		cfg.Tables = append(cfg.Tables, regexp.MustCompile(`public\.`+regexp.QuoteMeta(name)))
	}
	cfg.MaxBatchChanges = opts.MaxBatchChanges
	if opts.HeartbeatInterval > 0 {
		cfg.HeartbeatInterval = opts.HeartbeatInterval
	} else {
		cfg.HeartbeatInterval = time.Hour
	}
	return c.e.source(cfg)
}

func (c *pgConfEnv) Table(name string) capture.TableID {
	return capture.TableID{Schema: "public", Name: name}
}

// Caps: REPLICA IDENTITY DEFAULT sends key-only old images, and idle
// databases get heartbeat messages (see the package doc).
func (c *pgConfEnv) Caps() capturetest.Caps {
	return capturetest.Caps{PartialBefore: true, IdleHeartbeat: true}
}
