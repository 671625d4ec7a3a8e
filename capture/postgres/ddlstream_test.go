package postgres

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/capturetest"
)

// nextDDLBatch returns the next batch with changes or a Barrier, skipping
// heartbeats and empty commits.
func nextDDLBatch(t *testing.T, r *capturetest.Running) capture.Batch {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case b := <-r.Out:
			if len(b.Changes) > 0 || b.Barrier {
				return b
			}
		case err := <-r.Done:
			t.Fatalf("stream ended: %v", err)
		case <-deadline:
			t.Fatal("no batch within 20s")
		}
	}
}

// installAsSuperuser runs sql (a DDL event trigger: event triggers need
// a superuser) in e's database as the server's superuser.
func installAsSuperuser(t *testing.T, e *testEnv, sql string) {
	t.Helper()
	admin, err := pgx.Connect(testCtx(t), e.pg.AdminDSN(e.db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(testCtx(t))
	if _, err := admin.Exec(testCtx(t), sql); err != nil {
		t.Fatal(err)
	}
}

// TestStreamDDLRenames: with the DDL event trigger installed, a rename
// arrives as a Barrier whose Layouts carry the renamed layout (RenamedFrom
// set), before any change in it, also when the same transaction writes
// rows after the ALTER (the changes then carry that layout); a rename
// after changes of a captured table in its transaction is an
// OpUnreadable change naming floe resnapshot; an ALTER that renames
// nothing gives no Layouts.
func TestStreamDDLRenames(t *testing.T) {
	e := newEnv(t)
	installAsSuperuser(t, e, DDLTriggerSQL)
	e.exec(`CREATE TABLE a (id int PRIMARY KEY, n int)`)
	s := e.source(e.config(`public\.a`))
	startNoSnapshot(t, s)
	if !s.StatesRenames() {
		t.Fatal("StatesRenames false with the trigger installed")
	}
	r := startStream(t, s)
	A := capture.TableID{Schema: "public", Name: "a"}

	e.exec(`ALTER TABLE a RENAME n TO m`)
	b := nextDDLBatch(t, r)
	l := b.Layouts[A]
	if !b.Barrier || len(b.Changes) != 0 || l == nil || l.Columns[1].Name != "m" || l.Columns[1].RenamedFrom != "n" {
		t.Fatalf("rename alone: got barrier %v, %d changes, layouts %v", b.Barrier, len(b.Changes), b.Layouts)
	}

	e.exec(`BEGIN; ALTER TABLE a RENAME COLUMN m TO "M 2"; INSERT INTO a VALUES (1, 10); COMMIT`)
	b = nextDDLBatch(t, r)
	l = b.Layouts[A]
	if !b.Barrier || len(b.Changes) != 0 || l == nil || l.Columns[1].Name != "M 2" || l.Columns[1].RenamedFrom != "m" {
		t.Fatalf("rename then insert: first batch barrier %v, %d changes, layouts %v", b.Barrier, len(b.Changes), b.Layouts)
	}
	rows := nextDDLBatch(t, r)
	if len(rows.Changes) != 1 || rows.Changes[0].Schema != l || rows.Layouts != nil || rows.Position.Compare(b.Position) <= 0 {
		t.Fatalf("rename then insert: second batch %+v, want the insert in the renamed layout after the barrier", rows)
	}

	e.exec(`BEGIN; INSERT INTO a VALUES (2, 20); ALTER TABLE a RENAME "M 2" TO m3; COMMIT`)
	b = nextDDLBatch(t, r)
	if len(b.Changes) != 2 || b.Changes[0].Op != capture.OpInsert || b.Changes[1].Op != capture.OpUnreadable || b.Layouts != nil {
		t.Fatalf("insert then rename: got %+v", b)
	}
	if err := b.Changes[1].Err; err == nil || !contains(err.Error(), "after changes of captured tables", "floe resnapshot") {
		t.Fatalf("insert then rename: unreadable change error %v", err)
	}

	e.exec(`ALTER TABLE a ADD COLUMN z int`, `INSERT INTO a VALUES (3, 30, 3)`)
	b = nextDDLBatch(t, r)
	if b.Layouts != nil {
		t.Fatalf("ADD COLUMN: Layouts %v, want none (the Relation message carries it)", b.Layouts)
	}
}

func contains(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// TestStreamRenameReplayedFromOldName: a stream replayed from before
// renames, whose first Relation message of the table names the old
// columns (the discovered layout, and the catalog, have the new names
// only), follows each rename at its position: the key column is taken
// for the key under its old name, each lone rename's Barrier carries the
// renamed layout, and no change is unreadable.
func TestStreamRenameReplayedFromOldName(t *testing.T) {
	e := newEnv(t)
	installAsSuperuser(t, e, DDLTriggerSQL)
	e.exec(`CREATE TABLE a (id int PRIMARY KEY, n int, v text NOT NULL)`, `INSERT INTO a SELECT g, g, 'v' FROM generate_series(1, 5) g`)
	cfg := e.config(`public\.a`)
	info := startNoSnapshot(t, e.source(cfg))
	e.exec(`UPDATE a SET n = n + 10 WHERE id <= 2`,
		`ALTER TABLE a RENAME n TO n2`,
		`UPDATE a SET n2 = n2 + 100 WHERE id = 3`,
		`ALTER TABLE a RENAME COLUMN id TO "Key"`,
		`ALTER TABLE a RENAME n2 TO n3`,
		`INSERT INTO a VALUES (6, 6, 'new')`)

	s := e.source(cfg)
	if _, err := s.Start(testCtx(t), capture.StartRequest{Resume: info.From}); err != nil {
		t.Fatal(err)
	}
	r := startStream(t, s)
	A := capture.TableID{Schema: "public", Name: "a"}
	var renames, rows []string
	for done := false; !done; {
		b := nextDDLBatch(t, r)
		if l := b.Layouts[A]; l != nil {
			for _, c := range l.Columns {
				if c.RenamedFrom != "" {
					renames = append(renames, c.RenamedFrom+"->"+c.Name)
				}
			}
		}
		for _, ch := range b.Changes {
			if ch.Op == capture.OpUnreadable {
				t.Fatalf("unreadable change: %v", ch.Err)
			}
			var names []string
			for _, c := range ch.Schema.Columns {
				names = append(names, c.Name)
			}
			key := ch.Schema.Columns[ch.Schema.Key[0]].Name
			rows = append(rows, fmt.Sprintf("%v (%s) key %s", ch.After, strings.Join(names, ","), key))
			done = done || ch.Op == capture.OpInsert
		}
	}
	require.Equal(t, []string{"n->n2", "id->Key", "n2->n3"}, renames)
	require.Equal(t, []string{
		"[1 11 v] (id,n,v) key id", "[2 12 v] (id,n,v) key id",
		"[3 103 v] (id,n2,v) key id",
		"[6 6 new] (Key,n3,v) key Key",
	}, rows)

	// ALTER VIEW renames a table's column too, and the trigger (on ALTER
	// TABLE) does not see it; the next rename's message shows the layout
	// is not the table's: the table's change there is unreadable.
	e.exec(`ALTER VIEW a RENAME COLUMN v TO w`, `ALTER TABLE a RENAME n3 TO n4`)
	b := nextDDLBatch(t, r)
	if len(b.Changes) != 1 || b.Changes[0].Op != capture.OpUnreadable || b.Layouts != nil ||
		!contains(b.Changes[0].Err.Error(), "shows a column of the stream's layout", "ALTER VIEW", "floe resnapshot") {
		t.Fatalf("a rename after one the trigger did not see: got %+v", b)
	}
}

// TestStreamNullabilityReplayed: a replay reaches a DROP NOT NULL that a
// later SET NOT NULL has undone in the catalog. The DDL message carries
// each column's nullability at its position, so the row holding NULL
// after it comes in a layout where the column is nullable (the catalog
// read when the Relation arrives says NOT NULL, which would leave the
// Iceberg column required and the row unwritable), and the SET NOT NULL
// is followed at its own position.
func TestStreamNullabilityReplayed(t *testing.T) {
	e := newEnv(t)
	installAsSuperuser(t, e, DDLTriggerSQL)
	e.exec(`CREATE TABLE a (id int PRIMARY KEY, v text NOT NULL)`, `INSERT INTO a VALUES (1, 'one')`)
	cfg := e.config(`public\.a`)
	info := startNoSnapshot(t, e.source(cfg))
	e.exec(`ALTER TABLE a ALTER v DROP NOT NULL`,
		`INSERT INTO a VALUES (2, NULL)`,
		`UPDATE a SET v = 'two' WHERE id = 2`,
		`ALTER TABLE a ALTER v SET NOT NULL`,
		`INSERT INTO a VALUES (3, 'three')`)

	s := e.source(cfg) // discovers the catalog now: v NOT NULL
	if _, err := s.Start(testCtx(t), capture.StartRequest{Resume: info.From}); err != nil {
		t.Fatal(err)
	}
	r := startStream(t, s)
	var rows []string
	for done := false; !done; {
		for _, ch := range nextDDLBatch(t, r).Changes {
			if ch.Op == capture.OpUnreadable {
				t.Fatalf("unreadable change: %v", ch.Err)
			}
			rows = append(rows, fmt.Sprintf("%s %v v nullable %v", ch.Op, ch.After, ch.Schema.Columns[1].Nullable))
			done = ch.Op == capture.OpInsert && ch.After[0] == int32(3)
		}
	}
	require.Equal(t, []string{
		"c [2 <nil>] v nullable true",
		"u [2 two] v nullable true",
		"c [3 three] v nullable false",
	}, rows)
}

// TestDDLTriggerOutdated: floe check tells an older build's trigger
// (message version 1, without NOT NULL) from this one's.
func TestDDLTriggerOutdated(t *testing.T) {
	e := newEnv(t)
	s := e.source(e.config(`public\.a`))
	outdated := func() bool {
		t.Helper()
		old, err := s.DDLTriggerOutdated(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		return old
	}
	require.False(t, outdated(), "no trigger installed")
	v1 := strings.NewReplacer("'v', 2,", "'v', 1,", "attname, attnotnull)", "attname)").Replace(DDLTriggerSQL)
	require.NotEqual(t, DDLTriggerSQL, v1)
	installAsSuperuser(t, e, v1)
	require.True(t, outdated(), "a version 1 trigger")
	installAsSuperuser(t, e, DDLTriggerSQL)
	require.False(t, outdated(), "this build's trigger")
}
