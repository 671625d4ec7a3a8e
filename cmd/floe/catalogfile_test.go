package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/lakewriter"
)

// TestDeletedCatalog: the SQLite catalog file is deleted under a running
// pipeline. floe stops at its next commit with one line naming the file
// (instead of committing on into the deleted file), and a new floe run
// refuses to start over the state dir that recorded committed checkpoints
// the new, empty catalog does not have, naming both paths and the fix,
// instead of snapshotting everything again.
func TestDeletedCatalog(t *testing.T) {
	needServers(t)
	e := newPipelineEnv(t, "catgone", `public\.orders`, "upsert", "")
	e.exec(`CREATE TABLE orders (id int PRIMARY KEY, item text)`, `INSERT INTO orders SELECT g, 'i' || g FROM generate_series(1, 1000) g`,
		`ALTER TABLE orders OWNER TO u_catgone`)
	r := e.start()
	e.waitCaughtUp(r, time.Minute)
	catalog := filepath.Join(e.dir, "catalog.db")
	if err := os.Remove(catalog); err != nil {
		t.Fatal(err)
	}
	e.exec(`INSERT INTO orders SELECT g, 'after' FROM generate_series(1001, 1100) g`)
	var after string // at or after the end of the insert's commit
	if err := e.conn().QueryRow(context.Background(), `SELECT pg_current_wal_insert_lsn()::text`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.Exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("floe run keeps running after its catalog file was deleted; log:\n%s", e.tail(20))
	}
	if r.Err == nil {
		t.Fatalf("floe run exited 0 after its catalog file was deleted; log:\n%s", e.tail(20))
	}
	last := strings.TrimSpace(e.tail(1))
	for _, want := range []string{"sink.catalog.uri:", "catalog file deleted or replaced", catalog + " no longer exists", "fix: restore the file"} {
		if !strings.Contains(last, want) {
			t.Fatalf("last line lacks %q: %s", want, last)
		}
	}
	// Nothing written after the deletion was acknowledged to the source.
	var acked bool
	if err := e.conn().QueryRow(context.Background(), `SELECT confirmed_flush_lsn >= $1::pg_lsn FROM pg_replication_slots WHERE slot_name = $2`,
		after, e.slot).Scan(&acked); err != nil {
		t.Fatal(err)
	}
	if acked {
		t.Fatalf("the slot acknowledges %s, written after the catalog was deleted", after)
	}

	// A new run finds an empty catalog (it creates the file again) and the
	// state dir's record of what was committed.
	out, code := runFloe(t, e, "run", "--config", e.config)
	state := filepath.Join(e.dir, "state")
	expectOneLineError(t, out, code, "state.dir "+state+" recorded committed checkpoints for public.orders -> lake.orders",
		"the catalog sqlite://"+catalog+" has no such table", "fix: restore the catalog", "delete the state dir "+state)
	cfg := e.loadConfig()
	cat, err := openCatalog(context.Background(), cfg, newLogger(cfg.Log, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	if _, err := cat.LoadTable(context.Background(), lakewriter.Ident{Namespace: "lake", Name: "orders"}); !errors.Is(err, lakewriter.ErrNoSuchTable) {
		t.Fatalf("the refused run created lake.orders anyway: %v", err)
	}
}
