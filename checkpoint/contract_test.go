package checkpoint

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/memsource"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// The contract tests: one test per rule of docs/checkpoint-protocol.md,
// each driving real coordinators over the in-memory source
// (capture/memsource, which passes the capture conformance suite) into a
// local Iceberg catalog (SQLite file and warehouse directory), across
// restarts, and comparing every table with the source as of the position
// the table committed. No servers; they run under -short.

// lake is one contract test's world: a source database with tables
// (id bigint PRIMARY KEY, v text) and a local catalog.
type lake struct {
	t      *testing.T
	db     *memsource.DB
	cat    *lakewriter.Catalog
	dir    string
	mode   transform.Mode
	tables []string
	// acks counts the acknowledgements checked by checkAck.
	acks atomic.Int64
	// catalogLog holds what the catalog logged (debug and up).
	catalogLog lockedBuffer
	// fencing makes the lake's runs attempts of one run (see Fencing):
	// only the first claims the tables, so that a catalog fault armed
	// after it meets the commit it is meant for, not a claim.
	fencing *Fencing
}

// lockedBuffer is a bytes.Buffer for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLake(t *testing.T, mode transform.Mode, tables ...string) *lake {
	l := &lake{t: t, db: memsource.NewDB("s"), mode: mode, tables: tables, dir: t.TempDir(), fencing: NewFencing()}
	cat, err := lakewriter.Open(context.Background(), lakewriter.Options{
		URI: "sqlite://" + filepath.Join(l.dir, "catalog.db"), Warehouse: filepath.Join(l.dir, "warehouse"),
		Logger: slog.New(slog.NewTextHandler(&l.catalogLog, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	t.Cleanup(func() { cat.Close() })
	l.cat = cat
	for _, name := range tables {
		l.exec("CREATE TABLE " + name + " (id bigint PRIMARY KEY, v text)")
	}
	return l
}

// exec runs each statement in its own transaction and returns the last
// one's position.
func (l *lake) exec(stmts ...string) memsource.Pos {
	l.t.Helper()
	pos, err := l.db.Exec(stmts...)
	require.NoError(l.t, err)
	return pos
}

// inserts returns one INSERT per id of table name, with value v.
func inserts(name, v string, ids ...int) []string {
	var out []string
	for _, id := range ids {
		out = append(out, fmt.Sprintf("INSERT INTO %s VALUES (%d, '%s')", name, id, v))
	}
	return out
}

// source returns a new source of every table; each acknowledgement is
// checked by checkAck.
func (l *lake) source(cfg memsource.Config) *memsource.Source {
	cfg.Tables = l.tables
	if cfg.OnAck == nil {
		cfg.OnAck = l.checkAck
	}
	return memsource.New(l.db, cfg)
}

// run runs a coordinator over src (see runCoordinator) in the lake's mode.
func (l *lake) run(src capture.Source, o runOpts) error {
	l.t.Helper()
	o.mode = l.mode
	if o.fencing == nil {
		o.fencing = l.fencing
	}
	return runCoordinator(l.t, src, l.cat, o)
}

// committed returns the position of the table's last commit (0: none).
func (l *lake) committed(name string) memsource.Pos {
	l.t.Helper()
	p, err := l.committedOf(name)
	require.NoError(l.t, err)
	return p
}

// committedOf is committed for any goroutine: it fails no test. Like
// recovery, it reads the re-snapshot branch when the table has one.
func (l *lake) committedOf(name string) (memsource.Pos, error) {
	return l.committedOn(name, "")
}

// committedOn is committedOf reading ref ("": the table's ledger, its
// re-snapshot branch when it has one, else main).
func (l *lake) committedOn(name, ref string) (memsource.Pos, error) {
	ctx := context.Background()
	tbl, err := l.cat.LoadTable(ctx, lakewriter.Ident{Namespace: "lake", Name: name})
	if err != nil {
		return 0, err
	}
	if ref == "" {
		if ref, err = resnapshotBranch(ctx, tbl); err != nil {
			return 0, err
		}
	}
	props, err := tbl.LatestPropsOn(ctx, ref, ledger.CommitOf("p"))
	if err != nil || props[ledger.PropPosition] == "" {
		return 0, err
	}
	p, err := memsource.DecodePosition(props[ledger.PropPosition])
	if err != nil {
		return 0, err
	}
	return p.(memsource.Pos), nil
}

// committedAtLeast reports whether every table has committed pos.
func (l *lake) committedAtLeast(pos memsource.Pos) bool {
	for _, name := range l.tables {
		if l.committed(name) < pos {
			return false
		}
	}
	return true
}

// acked reports whether src has been acknowledged pos or later.
func acked(src *memsource.Source, pos memsource.Pos) func() bool {
	return func() bool {
		a := src.Acked()
		return a != nil && a.Compare(pos) >= 0
	}
}

// checkAck is the acknowledgement rule, checked as each one comes (on
// the coordinator's goroutine, so the catalog holds what it committed):
// every table has committed the position, and holds exactly the source's
// rows as of its own committed position unless its snapshot is in
// progress (its last commit records an incomplete plan: it holds the
// chunks read so far).
func (l *lake) checkAck(pos capture.Position) {
	l.acks.Add(1)
	for _, name := range l.tables {
		c, err := l.committedOf(name)
		if err == nil && c.Compare(pos) < 0 {
			err = fmt.Errorf("table %s has committed %s", name, c)
		}
		if err == nil && !l.snapshotting(name) {
			err = l.diff(name)
		}
		if err != nil {
			l.t.Errorf("acknowledged %s: %v", pos, err)
		}
	}
}

// snapshotting reports whether the table's last commit records a
// snapshot plan with chunks left.
func (l *lake) snapshotting(name string) bool {
	tbl, err := l.cat.LoadTable(context.Background(), lakewriter.Ident{Namespace: "lake", Name: name})
	if err != nil {
		return false
	}
	ref, err := resnapshotBranch(context.Background(), tbl)
	if err != nil {
		return false
	}
	props, err := tbl.LatestPropsOn(context.Background(), ref, ledger.CommitOf("p"))
	if err != nil || props[ledger.PropSnapshot] == "" {
		return false
	}
	plan, err := capture.DecodeSnapshotPlan(props[ledger.PropSnapshot])
	return err == nil && !plan.Complete()
}

// check compares the table with the source (see diff).
func (l *lake) check(name string) {
	l.t.Helper()
	require.NoError(l.t, l.diff(name))
}

// diff compares the table with the source's rows as of the table's
// committed position: in upsert mode row by row, in changelog mode the
// log folded by key (and no change logged twice).
func (l *lake) diff(name string) error {
	at, err := l.committedOf(name)
	if err != nil {
		return err
	}
	src, err := l.db.Rows(name, at)
	if err != nil {
		return err
	}
	want := map[int64]string{}
	for _, r := range src {
		want[r[0].(int64)] = render(r[1:])
	}
	got, err := l.sinkRows(name)
	if err != nil {
		return err
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Errorf("table %s committed at %s holds\n %v\nthe source then held\n %v", name, at, got, want)
	}
	return nil
}

// logRow is one row of a sink table: its id, its other source columns
// rendered as one string, and (changelog) its place in the log.
type logRow struct {
	pos      memsource.Pos
	seq, id  int64
	op, vals string
}

// sinkRows returns the table's rows by id, the source columns after id
// rendered as one string (changelog tables folded by position and
// sequence; a change logged twice is an error).
func (l *lake) sinkRows(name string) (map[int64]string, error) {
	return l.sinkRowsOn(name, "")
}

// sinkRowsOn is sinkRows reading ref ("": as committedOn).
func (l *lake) sinkRowsOn(name, ref string) (map[int64]string, error) {
	rows, err := l.scanLogOn(name, ref)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(rows, func(i, j int) bool {
		return rows[i].pos < rows[j].pos || (rows[i].pos == rows[j].pos && rows[i].seq < rows[j].seq)
	})
	out := map[int64]string{}
	seen := map[string]bool{}
	for _, r := range rows {
		if l.mode == transform.Changelog {
			k := fmt.Sprintf("%d/%d/%d/%s", r.pos, r.seq, r.id, r.op)
			if seen[k] {
				return nil, fmt.Errorf("table %s logs change %s twice", name, k)
			}
			seen[k] = true
		}
		if l.mode == transform.Upsert {
			if _, dup := out[r.id]; dup {
				return nil, fmt.Errorf("table %s holds key %d twice", name, r.id)
			}
		}
		switch r.op {
		case "d":
			delete(out, r.id)
		case "t":
			clear(out)
		default:
			out[r.id] = r.vals
		}
	}
	return out, nil
}

// scanLog reads the table's rows.
func (l *lake) scanLog(name string) ([]logRow, error) {
	return l.scanLogOn(name, "")
}

// scanLogOn is scanLog reading ref ("": as committedOn).
func (l *lake) scanLogOn(name, ref string) ([]logRow, error) {
	ctx := context.Background()
	tbl, err := l.cat.LoadTable(ctx, lakewriter.Ident{Namespace: "lake", Name: name})
	if err != nil {
		return nil, err
	}
	if ref == "" {
		if ref, err = resnapshotBranch(ctx, tbl); err != nil {
			return nil, err
		}
	}
	layout := tbl.Layout()
	var cols []int // the source columns after id, in source order
	for i, c := range layout.Columns {
		if c.Name != "id" && !strings.HasPrefix(c.Name, "_floe_") {
			cols = append(cols, i)
		}
	}
	var rows []logRow
	err = tbl.ScanOn(ctx, ref, func(r schema.Row) error {
		id, _ := r[0].(int64) // nil in a changelog's truncate row
		lr := logRow{id: id}
		vals := make([]any, len(cols))
		for i, c := range cols {
			vals[i] = r[c]
		}
		lr.vals = render(vals)
		if l.mode == transform.Changelog {
			p, err := memsource.DecodePosition(r[layout.Index(transform.ColPos)].(string))
			if err != nil {
				return err
			}
			lr.pos, lr.seq, lr.op = p.(memsource.Pos), r[layout.Index(transform.ColSeq)].(int64), r[layout.Index(transform.ColOp)].(string)
		}
		rows = append(rows, lr)
		return nil
	})
	return rows, err
}

// render renders values as "a|b|<nil>".
func render(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, "|")
}

// row returns the table's row of id as sinkRows renders it.
func (l *lake) row(name string, id int64) string {
	l.t.Helper()
	rows, err := l.sinkRows(name)
	require.NoError(l.t, err)
	return rows[id]
}

// checkpoints returns the floe.checkpoint of each of the table's commits
// of pipeline p, oldest first.
func (l *lake) checkpoints(name string) []int64 {
	l.t.Helper()
	hist, err := tableHistory(l.t, l.cat, name)
	require.NoError(l.t, err)
	var out []int64
	for i := len(hist) - 1; i >= 0; i-- {
		if s := hist[i].Props[ledger.PropCheckpoint]; s != "" && hist[i].Props[ledger.PropPipeline] == "p" {
			n, err := strconv.ParseInt(s, 10, 64)
			require.NoError(l.t, err)
			out = append(out, n)
		}
	}
	return out
}

// commitsAt returns the summaries of the table's commits at pos.
func (l *lake) commitsAt(name string, pos memsource.Pos) []map[string]string {
	l.t.Helper()
	hist, err := tableHistory(l.t, l.cat, name)
	require.NoError(l.t, err)
	var out []map[string]string
	for _, s := range hist {
		if s.Props[ledger.PropPosition] == pos.String() {
			out = append(out, s.Props)
		}
	}
	return out
}

// snapshotAll runs the initial snapshot of every table and stops.
func (l *lake) snapshotAll() {
	l.t.Helper()
	require.NoError(l.t, l.run(l.source(memsource.Config{}), runOpts{snapshot: SnapshotInitialOnly}))
	for _, name := range l.tables {
		l.check(name)
	}
}

// catalogFaults injects faults into the lake's SQLite catalog through
// triggers on its iceberg_tables rows: the catalog then refuses a
// table's commit as a catalog that lost its connection would.
type catalogFaults struct {
	t   *testing.T
	db  *sql.DB
	dir string // the lake's directory
}

func (l *lake) faults() *catalogFaults {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(l.dir, "catalog.db")+"?_pragma=busy_timeout(10000)")
	require.NoError(l.t, err)
	l.t.Cleanup(func() { db.Close() })
	return &catalogFaults{t: l.t, db: db, dir: l.dir}
}

// refuse makes the catalog refuse every commit of table name until heal.
func (f *catalogFaults) refuse(name string) {
	f.t.Helper()
	_, err := f.db.Exec(fmt.Sprintf(`CREATE TRIGGER refuse_%s BEFORE UPDATE ON iceberg_tables WHEN OLD.table_name = '%s'
		BEGIN SELECT RAISE(ABORT, 'injected: commit of %s refused'); END`, name, name, name))
	require.NoError(f.t, err)
}

// heal lets the catalog take table name's commits again.
func (f *catalogFaults) heal(name string) {
	f.t.Helper()
	_, err := f.db.Exec("DROP TRIGGER IF EXISTS refuse_" + name)
	require.NoError(f.t, err)
}

// refuseOnce refuses the next commit of table name. With land set, that
// commit then lands all the same (the refused commit's metadata is made
// current), as with a catalog that applied it and lost the reply: an
// ambiguous commit. Without, the fault ends once the commit is being
// retried (a second staged metadata file shows the first was refused).
// The returned channel is closed once the fault is over.
func (f *catalogFaults) refuseOnce(name string, land bool) <-chan struct{} {
	f.refuse(name)
	var base string
	require.NoError(f.t, f.db.QueryRow(`SELECT metadata_location FROM iceberg_tables WHERE table_name = ?`, name).Scan(&base))
	dir := filepath.Dir(strings.TrimPrefix(base, "file://"))
	want := 2 // staged files past base before the fault ends
	if land {
		want = 1
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
			staged := metadataAfter(dir, filepath.Base(base))
			if len(staged) < want {
				continue
			}
			if err := f.endFault(name, land, filepath.Join(filepath.Dir(base), staged[0])); err != nil {
				f.t.Errorf("fault on %s: %v", name, err)
			}
			return
		}
		f.t.Errorf("fault on %s: no commit was attempted within 30s", name)
	}()
	return done
}

// endFault drops the trigger refusing name's commits and, with land,
// makes the metadata file at loc the table's current one.
func (f *catalogFaults) endFault(name string, land bool, loc string) error {
	tx, err := f.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec("DROP TRIGGER refuse_" + name); err != nil {
		return err
	}
	if land {
		if _, err := tx.Exec(`UPDATE iceberg_tables SET previous_metadata_location = metadata_location, metadata_location = ? WHERE table_name = ?`,
			loc, name); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// metadataAfter returns the names of the metadata files in dir that sort
// after base ("00012-<uuid>.metadata.json": the number sorts), in order.
func metadataAfter(dir, base string) []string {
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, ".metadata.json") && n > base {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// TestContractAckAfterCommit: the source is acknowledged a position only
// once every table has committed it, and then holds exactly the source's
// rows up to its own position (checkAck, on every acknowledgement); when
// a table's commit fails after another table committed, nothing past what
// both committed is acknowledged, and the next run completes it.
func TestContractAckAfterCommit(t *testing.T) {
	t.Parallel()
	l := newLake(t, transform.Upsert, "a", "b")
	l.exec(append(inserts("a", "a0", 1, 2, 3), inserts("b", "b0", 1, 2, 3)...)...)
	l.snapshotAll()

	// Streaming: each transaction is committed within the interval and
	// then acknowledged.
	l.exec("UPDATE a SET v = 'a1' WHERE id = 1", "INSERT INTO b VALUES (4, 'b1')", "DELETE FROM a WHERE id = 2")
	end := l.db.Sync()
	src := l.source(memsource.Config{})
	require.NoError(t, l.run(src, runOpts{wantStream: true, until: acked(src, end)}))
	require.Positive(t, l.acks.Load(), "nothing was acknowledged")

	// b's commits fail: a commits, b does not, and nothing past b's
	// position may be acknowledged.
	f := l.faults()
	f.refuse("b")
	before := l.committed("b")
	mid := l.exec("UPDATE a SET v = 'a2' WHERE id = 1", "UPDATE b SET v = 'b2' WHERE id = 1")
	l.db.Sync()
	src = l.source(memsource.Config{})
	err := l.run(src, runOpts{interval: time.Hour})
	require.ErrorContains(t, err, "injected: commit of b refused")
	require.GreaterOrEqual(t, l.committed("a"), mid, "a committed the checkpoint")
	require.Equal(t, before, l.committed("b"), "b's commit failed")
	if a := src.Acked(); a != nil {
		require.LessOrEqual(t, a.Compare(before), 0, "acknowledged %s past b's committed %s", a, before)
	}

	// The next run commits b and acknowledges everything.
	f.heal("b")
	l.exec("INSERT INTO a VALUES (5, 'a3')")
	end = l.db.Sync()
	src = l.source(memsource.Config{})
	require.NoError(t, l.run(src, runOpts{wantStream: true, until: acked(src, end)}))
	require.Equal(t, end, src.Acked())
	for _, name := range l.tables {
		l.check(name)
	}
}

// TestContractCutBetweenTransactions: a transaction split into parts
// (More) is committed whole or not at all: with a checkpoint due at every
// batch, and when the pipeline stops in the middle of one (its parts are
// read again on restart).
func TestContractCutBetweenTransactions(t *testing.T) {
	t.Parallel()
	l := newLake(t, transform.Upsert, "a", "b")
	l.exec(inserts("a", "a0", 1, 2)...)
	l.snapshotAll()

	// A checkpoint is due at every batch (1ms interval); the big
	// transaction comes in 9 parts of at most 7 changes.
	big := func(v string, ids ...int) memsource.Pos {
		tx := l.db.Begin()
		require.NoError(t, tx.Exec(append(inserts("a", v, ids...), inserts("b", v, ids...)...)...))
		pos, err := tx.Commit()
		require.NoError(t, err)
		return pos
	}
	l.exec("UPDATE a SET v = 'small' WHERE id = 1")
	big("big", 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39)
	l.exec("UPDATE a SET v = 'after' WHERE id = 2")
	end := l.db.Sync()
	src := l.source(memsource.Config{MaxBatchChanges: 7})
	require.NoError(t, l.run(src, runOpts{interval: time.Millisecond, wantStream: true, until: acked(src, end)}))
	for _, name := range l.tables {
		l.check(name)
	}

	// Stop while the stream is inside a split transaction: the source
	// holds its fourth part back until the pipeline stops.
	txn := big("stopped", 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59)
	var parts, held atomic.Int64
	src = l.source(memsource.Config{MaxBatchChanges: 7, OnBatch: func(ctx context.Context, b capture.Batch) {
		if b.Position.Compare(txn) == 0 && parts.Add(1) == 4 {
			held.Store(time.Now().UnixNano())
			<-ctx.Done()
		}
	}})
	require.NoError(t, l.run(src, runOpts{interval: time.Millisecond, until: func() bool {
		// Give the pipeline time to take the three parts before it.
		h := held.Load()
		return h != 0 && time.Since(time.Unix(0, h)) > 300*time.Millisecond
	}}))
	for _, name := range l.tables {
		require.Less(t, l.committed(name), txn, "%s committed inside the split transaction", name)
		l.check(name)
	}
	end = l.db.Sync()
	src = l.source(memsource.Config{MaxBatchChanges: 7})
	require.NoError(t, l.run(src, runOpts{interval: time.Millisecond, wantStream: true, until: acked(src, end)}))
	for _, name := range l.tables {
		l.check(name)
		require.Equal(t, "stopped", l.row(name, 59))
	}
}

// startRecorder records the StartRequest its source is started with.
type startRecorder struct {
	*memsource.Source
	req capture.StartRequest
}

func (s *startRecorder) Start(ctx context.Context, req capture.StartRequest) (capture.StartInfo, error) {
	s.req = req
	return s.Source.Start(ctx, req)
}

// TestContractResumeFromLowest: after a run that left one table ahead of
// another (a crash between two table commits), the next run resumes the
// source from the lowest position any table committed, and each table
// skips what it already holds: a changelog logs no change twice and
// misses none.
func TestContractResumeFromLowest(t *testing.T) {
	t.Parallel()
	l := newLake(t, transform.Changelog, "a", "b")
	l.exec(append(inserts("a", "a0", 1, 2), inserts("b", "b0", 1, 2)...)...)
	l.snapshotAll()
	low := l.committed("b")

	f := l.faults()
	f.refuse("b")
	l.exec("UPDATE a SET v = 'a1' WHERE id = 1", "UPDATE b SET v = 'b1' WHERE id = 1", "INSERT INTO a VALUES (3, 'a1')",
		"DELETE FROM b WHERE id = 2")
	high := l.db.Sync()
	require.ErrorContains(t, l.run(l.source(memsource.Config{}), runOpts{interval: time.Hour}), "injected: commit of b refused")
	require.Equal(t, high, l.committed("a"))
	require.Equal(t, low, l.committed("b"))

	f.heal("b")
	l.exec("UPDATE a SET v = 'a2' WHERE id = 1", "UPDATE b SET v = 'b2' WHERE id = 1")
	end := l.db.Sync()
	src := &startRecorder{Source: l.source(memsource.Config{})}
	require.NoError(t, l.run(src, runOpts{wantStream: true, until: acked(src.Source, end)}))
	require.Equal(t, low, src.req.Resume, "the source resumes from the lowest committed position")
	for _, name := range l.tables {
		l.check(name)
	}
}

// TestContractFlushAtBarrier: a schema change that arrives while
// streaming is a barrier (the rows before it are committed at its
// position, in the old layout, before anything after it is applied), and
// a sync message commits every table, quiet or not, at its position and
// acknowledges it at once; neither waits for the checkpoint interval (an
// hour here).
func TestContractFlushAtBarrier(t *testing.T) {
	t.Parallel()
	l := newLake(t, transform.Upsert, "a", "b")
	l.exec(append(inserts("a", "a0", 1, 2), inserts("b", "b0", 1)...)...)
	l.snapshotAll()

	// A heartbeat tells the test that the pipeline streams (it discovered
	// the tables before the ALTER).
	l.db.Heartbeat()
	var streaming atomic.Bool
	src := l.source(memsource.Config{OnBatch: func(context.Context, capture.Batch) { streaming.Store(true) }})
	var alter, end memsource.Pos
	require.NoError(t, l.run(src, runOpts{interval: time.Hour, deadline: 10 * time.Second, wantStream: true,
		until: func() bool {
			switch {
			case alter == 0 && streaming.Load():
				l.exec(inserts("a", "before", 3, 4, 5)...)
				alter = l.exec("ALTER TABLE a ADD COLUMN n int")
			case alter != 0 && end == 0 && l.committed("a") >= alter:
				at := l.commitsAt("a", alter)
				require.Len(t, at, 1, "one commit at the schema change")
				require.Equal(t, "5", at[0]["total-records"], "it holds the rows before the change")
				require.NotContains(t, at[0], ledger.PropSchemaChange, "in the old layout")
				l.exec("INSERT INTO a (id, v, n) VALUES (6, 'after', 7)", "INSERT INTO a (id, v) VALUES (7, 'later')")
				end = l.db.Sync()
			}
			return end != 0 && acked(src, end)()
		}}))
	for _, name := range l.tables {
		require.Equal(t, end, l.committed(name), "%s committed at the sync position", name)
		l.check(name)
	}
	require.Equal(t, "after|7", l.row("a", 6))
	require.Contains(t, latestProps(t, l.cat, "a")[ledger.PropSchemaChange], "add column n")
}

// TestContractIdleTablesAdvance: a table without changes does not hold
// the source back: empty commits move its position up to the stream's
// (changes of other tables, heartbeats), and acknowledgement follows.
func TestContractIdleTablesAdvance(t *testing.T) {
	t.Parallel()
	l := newLake(t, transform.Upsert, "a", "b")
	l.exec(append(inserts("a", "a0", 1), inserts("b", "b0", 1)...)...)
	l.snapshotAll()
	start := l.committed("b")

	l.exec("UPDATE a SET v = 'a1' WHERE id = 1", "UPDATE a SET v = 'a2' WHERE id = 1")
	l.db.Heartbeat()
	end := l.db.Heartbeat()
	src := l.source(memsource.Config{})
	require.NoError(t, l.run(src, runOpts{idle: 100 * time.Millisecond, deadline: 10 * time.Second, wantStream: true,
		until: func() bool { return l.committedAtLeast(end) && acked(src, end)() }}))

	hist, err := tableHistory(t, l.cat, "b")
	require.NoError(t, err)
	var moved int
	for _, s := range hist {
		if ledger.IsClaim(s.Props) {
			continue
		}
		p, err := memsource.DecodePosition(s.Props[ledger.PropPosition])
		require.NoError(t, err)
		if p.Compare(start) > 0 {
			moved++
			require.Contains(t, []string{"", "0"}, s.Props["added-records"], "an idle table's commit adds no rows")
		}
	}
	require.Positive(t, moved, "b's position did not move")
	for _, name := range l.tables {
		l.check(name)
	}
}

// TestContractOneCommitPerCheckpoint: no table ever holds two commits of
// one checkpoint, and checkpoints only grow: not when the catalog refuses
// a commit once (it is retried), not when it reports a failure for a
// commit it applied (recognised in the table's history by its
// checkpoint), and not across a restart after a run that failed between
// two table commits.
func TestContractOneCommitPerCheckpoint(t *testing.T) {
	t.Parallel()
	l := newLake(t, transform.Upsert, "a", "b", "c")
	l.exec(append(append(inserts("a", "a0", 1), inserts("b", "b0", 1)...), inserts("c", "c0", 1)...)...)
	l.snapshotAll()

	f := l.faults()
	landed := f.refuseOnce("a", true)
	retried := f.refuseOnce("c", false)
	l.exec("UPDATE a SET v = 'a1' WHERE id = 1", "UPDATE b SET v = 'b1' WHERE id = 1", "UPDATE c SET v = 'c1' WHERE id = 1")
	end := l.db.Sync()
	src := l.source(memsource.Config{})
	require.NoError(t, l.run(src, runOpts{wantStream: true, until: acked(src, end)}))
	<-landed
	<-retried
	l.checkpointsGrow()
	logs := l.catalogLog.String()
	require.Regexp(t, `commit reported an error but landed.*table=lake\.a`, logs, "a's commit was ambiguous")
	require.Regexp(t, `commit attempt failed; retrying.*table=lake\.c`, logs, "c's commit was retried")

	// A run that fails between two table commits leaves a ahead.
	f.refuse("b")
	l.exec("UPDATE a SET v = 'a2' WHERE id = 1", "UPDATE b SET v = 'b2' WHERE id = 1")
	require.ErrorContains(t, l.run(l.source(memsource.Config{}), runOpts{}), "injected: commit of b refused")
	require.Greater(t, l.checkpoints("a")[len(l.checkpoints("a"))-1], l.checkpoints("b")[len(l.checkpoints("b"))-1])
	// One checkpoint (at the sync) commits every table: a, which is
	// ahead, an empty one, under a number none of them holds yet.
	f.heal("b")
	l.exec("UPDATE c SET v = 'c3' WHERE id = 1")
	end = l.db.Sync()
	src = l.source(memsource.Config{})
	require.NoError(t, l.run(src, runOpts{interval: time.Hour, wantStream: true, until: acked(src, end)}))

	l.checkpointsGrow()
}

// checkpointsGrow checks that every table's commits carry increasing
// checkpoints, and compares the table with the source.
func (l *lake) checkpointsGrow() {
	l.t.Helper()
	for _, name := range l.tables {
		cps := l.checkpoints(name)
		for i := 1; i < len(cps); i++ {
			if cps[i] <= cps[i-1] {
				l.t.Errorf("table %s: checkpoint %d committed after checkpoint %d (history %v)", name, cps[i], cps[i-1], cps)
			}
		}
		l.check(name)
	}
}
