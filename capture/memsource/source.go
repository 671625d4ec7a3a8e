package memsource

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/internal/toolkit"
	"github.com/floe-cdc/floe/schema"
)

// Config configures a Source.
type Config struct {
	// Tables are the captured tables' names.
	Tables []string
	// MaxBatchChanges splits larger transactions into parts (0: never).
	MaxBatchChanges int
	// MaxBatchBytes splits transactions into parts of about this size
	// (capture.Change.Size): a part goes as soon as its changes reach it,
	// so the transaction's last batch may hold none (0: never).
	MaxBatchBytes int
	// HeartbeatInterval is how long an idle stream waits before it writes
	// a heartbeat entry (DB.Heartbeat) and so emits an empty batch
	// (0: never).
	HeartbeatInterval time.Duration
	// OnBatch, when set, is called on the Stream goroutine before each
	// batch is sent, with Stream's context: a test may hold the stream at
	// a chosen batch until the consumer stops it.
	OnBatch func(ctx context.Context, b capture.Batch)
	// OnAck, when set, is called by Ack, on the caller's goroutine, after
	// the position is recorded.
	OnAck func(capture.Position)
	// OnReadChunk, when set, is called before a chunk is read; an error
	// fails the read.
	OnReadChunk func(capture.TableID, capture.Chunk) error
}

// Source captures tables of a DB. Create it with New.
type Source struct {
	db  *DB
	cfg Config

	mu   sync.Mutex
	from Pos
	snap map[string]*table // an exact snapshot at from (or snapAt); nil: read current rows
	// snapAt is the position of the snapshot ExportSnapshot took, when
	// exported is set (see Exporting).
	snapAt   Pos
	exported bool
	acked    capture.Position
}

var (
	_ capture.Source         = (*Source)(nil)
	_ capture.Snapshotter    = (*Source)(nil)
	_ capture.RowReader      = (*Source)(nil)
	_ capture.SchemaFollower = (*Source)(nil)
)

// New returns a Source capturing cfg.Tables of db.
func New(db *DB, cfg Config) *Source {
	return &Source{db: db, cfg: cfg}
}

// Discover returns the captured tables with their current layouts; a
// name that is no table is an error. Like a real catalog, a layout
// discovered says nothing of renames (schema.Column.RenamedFrom is
// empty); only the stream's DDL batches do.
func (s *Source) Discover(context.Context) ([]capture.TableInfo, error) {
	out := make([]capture.TableInfo, 0, len(s.cfg.Tables))
	for _, name := range s.cfg.Tables {
		l, err := s.db.layoutOf(name)
		if err != nil {
			return nil, fmt.Errorf("discover: %w", err)
		}
		if slices.ContainsFunc(l.Columns, func(c schema.Column) bool { return c.RenamedFrom != "" }) {
			c := &schema.Table{Columns: slices.Clone(l.Columns), Key: l.Key}
			for i := range c.Columns {
				c.Columns[i].RenamedFrom = ""
			}
			l = c
		}
		out = append(out, capture.TableInfo{ID: s.db.Table(name), Schema: l})
	}
	return out, nil
}

// Start begins after req.Resume, or at the end of the log when there is
// none; then, when a snapshot is requested, the chunks are read from a
// copy of the tables taken at that point (StartInfo.Exact).
func (s *Source) Start(_ context.Context, req capture.StartRequest) (capture.StartInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, end := s.db.snapshotOf(s.cfg.Tables)
	if req.Resume == nil {
		s.from = end
		if req.Snapshot {
			s.snap = snap
		}
		return capture.StartInfo{From: s.from, Exact: req.Snapshot}, nil
	}
	p := toolkit.AsPosition[Pos](req.Resume, "memsource")
	if p > end {
		return capture.StartInfo{}, fmt.Errorf("memsource: resume position %s is after the end of the log %s", p, end)
	}
	s.from = p
	return capture.StartInfo{From: p}, nil
}

// Stream emits the log entries after StartInfo.From (see the package
// doc) until ctx is done.
func (s *Source) Stream(ctx context.Context, out chan<- capture.Batch) error {
	s.mu.Lock()
	cursor := s.from
	s.mu.Unlock()
	captured := map[string]bool{}
	for _, n := range s.cfg.Tables {
		captured[n] = true
	}
	idle := time.Duration(1<<63 - 1)
	if s.cfg.HeartbeatInterval > 0 {
		idle = s.cfg.HeartbeatInterval
	}
	timer := time.NewTimer(idle)
	defer timer.Stop()
	for {
		entries, changed := s.db.since(cursor)
		for _, e := range entries {
			batches, err := s.batchesOf(e, captured)
			if err != nil {
				return err
			}
			for _, b := range batches {
				if s.cfg.OnBatch != nil {
					s.cfg.OnBatch(ctx, b)
				}
				select {
				case out <- b:
				case <-ctx.Done():
					return ctx.Err()
				}
				timer.Reset(idle)
			}
			cursor = e.pos
		}
		select {
		case <-changed:
		case <-timer.C:
			s.db.Heartbeat()
			timer.Reset(idle)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// batchesOf turns one log entry into the batches a stream capturing the
// captured tables emits for it.
func (s *Source) batchesOf(e entry, captured map[string]bool) ([]capture.Batch, error) {
	base := capture.Batch{Position: e.pos, CommitTime: e.time}
	if d := e.ddl; d != nil {
		switch {
		case !captured[d.table] || d.op == "create":
			return nil, nil
		case d.op == "drop":
			return nil, fmt.Errorf("captured table %s was dropped at %s", d.table, e.pos)
		case d.hasFill:
			return nil, fmt.Errorf("column %s of captured table %s was added with a default for the existing rows at %s, which no change carries; re-snapshot the table",
				d.layout.Columns[len(d.layout.Columns)-1].Name, d.table, e.pos)
		}
		base.Barrier = true
		if d.op == "rename" {
			base.Layouts = map[capture.TableID]*schema.Table{s.db.Table(d.table): d.layout}
		}
		return []capture.Batch{base}, nil
	}
	if e.changes == nil {
		base.Sync = e.sync
		return []capture.Batch{base}, nil
	}
	var changes []capture.Change
	for _, ch := range e.changes {
		if captured[ch.Table.Name] {
			changes = append(changes, ch)
		}
	}
	if len(changes) == 0 {
		return nil, nil
	}
	var out []capture.Batch
	emit := func(part []capture.Change, more bool) {
		b := base
		b.Changes, b.More = part, more
		out = append(out, b)
	}
	start, size := 0, 0
	for i, ch := range changes {
		size += ch.Size()
		// A part that reaches MaxBatchBytes goes at once, even with the
		// transaction's last change; one of MaxBatchChanges goes when more
		// follow.
		byBytes := s.cfg.MaxBatchBytes > 0 && size >= s.cfg.MaxBatchBytes
		byCount := s.cfg.MaxBatchChanges > 0 && i+1-start >= s.cfg.MaxBatchChanges && i+1 < len(changes)
		if byBytes || byCount {
			emit(changes[start:i+1], true)
			start, size = i+1, 0
		}
	}
	if start < len(changes) || len(out) > 0 {
		emit(changes[start:], false)
	}
	return out, nil
}

// Ack records pos as the last acknowledged position and calls OnAck.
func (s *Source) Ack(pos capture.Position) {
	s.mu.Lock()
	s.acked = pos
	s.mu.Unlock()
	if s.cfg.OnAck != nil {
		s.cfg.OnAck(pos)
	}
}

// Acked returns the last acknowledged position (nil: none).
func (s *Source) Acked() capture.Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked
}

// DecodePosition parses a Pos.
func (s *Source) DecodePosition(str string) (capture.Position, error) { return DecodePosition(str) }

// Close does nothing; it may be called more than once.
func (s *Source) Close() error { return nil }

// FollowsSchemaChanges is true: an ALTER TABLE ADD COLUMN of a captured
// table is a Barrier batch, and later changes carry the new layout.
func (s *Source) FollowsSchemaChanges() bool { return true }

// PlanChunks splits the table, as the snapshot sees it, into chunks of
// rowsPerChunk rows by key.
func (s *Source) PlanChunks(_ context.Context, id capture.TableID, rowsPerChunk int) ([]capture.Chunk, error) {
	t, err := s.snapshotTable(id)
	if err != nil {
		return nil, err
	}
	return toolkit.PlanKeyRanges(id, t.layout, rowsPerChunk, func() ([][]string, error) {
		var bounds [][]string
		rows := sortedRows(t)
		for i := rowsPerChunk - 1; i < len(rows); i += rowsPerChunk {
			var b []string
			for _, k := range t.layout.Key {
				b = append(b, boundText(rows[i][k]))
			}
			bounds = append(bounds, b)
		}
		return bounds, nil
	})
}

// ReadChunk returns the rows of the chunk, as of the exact snapshot when
// there is one, as of now otherwise; the batch is at StartInfo.From.
func (s *Source) ReadChunk(_ context.Context, id capture.TableID, ch capture.Chunk) (capture.Batch, error) {
	if s.cfg.OnReadChunk != nil {
		if err := s.cfg.OnReadChunk(id, ch); err != nil {
			return capture.Batch{}, fmt.Errorf("read chunk %d of %s: %w", ch.Index, id, err)
		}
	}
	t, err := s.snapshotTable(id)
	if err != nil {
		return capture.Batch{}, err
	}
	lower, err := boundRow(t.layout, ch.Lower)
	if err != nil {
		return capture.Batch{}, fmt.Errorf("read chunk %d of %s: %w", ch.Index, id, err)
	}
	upper, err := boundRow(t.layout, ch.Upper)
	if err != nil {
		return capture.Batch{}, fmt.Errorf("read chunk %d of %s: %w", ch.Index, id, err)
	}
	s.mu.Lock()
	from := s.from
	if s.exported {
		from = s.snapAt
	}
	s.mu.Unlock()
	b, add := toolkit.ChunkBatch(id, ch, t.layout)
	b.Position, b.CommitTime = from, time.Now().UTC()
	for _, r := range sortedRows(t) {
		if (lower == nil || compareKeys(t.layout, r, lower) > 0) && (upper == nil || compareKeys(t.layout, r, upper) <= 0) {
			_ = add(r)
		}
	}
	return *b, nil
}

// EndSnapshot drops the exact snapshot.
func (s *Source) EndSnapshot(context.Context) error {
	s.mu.Lock()
	s.snap, s.exported = nil, false
	s.mu.Unlock()
	return nil
}

// Exporting is a Source that also takes exact snapshots of its own
// (capture.SnapshotExporter), as PostgreSQL does after a resumed start;
// a plain Source has no such ability, so that tests choose the
// coordinator's path. Create it with WithExport.
type Exporting struct{ *Source }

var _ capture.SnapshotExporter = Exporting{}

// WithExport returns s with the SnapshotExporter ability.
func WithExport(s *Source) Exporting { return Exporting{s} }

// ExportSnapshot copies the captured tables as of the end of the log,
// which chunks then read (at that position) until EndSnapshot; Stream
// does not end it.
func (e Exporting) ExportSnapshot(context.Context) (capture.Position, error) {
	s := e.Source
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exported {
		return nil, errors.New("memsource: a snapshot is already exported")
	}
	snap, end := s.db.snapshotOf(s.cfg.Tables)
	s.snap, s.snapAt, s.exported = snap, end, true
	return end, nil
}

// snapshotTable returns the table as the snapshot reads it.
func (s *Source) snapshotTable(id capture.TableID) (*table, error) {
	s.mu.Lock()
	snap := s.snap
	s.mu.Unlock()
	if t := snap[id.Name]; t != nil {
		return t, nil
	}
	if t := s.db.snapshotTable(id.Name); t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("table %s does not exist", id)
}

// boundText renders a key value as a chunk bound.
func boundText(v any) string {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case string:
		return x
	}
	panic(fmt.Sprintf("memsource: key value of type %T", v))
}

// boundRow parses a chunk bound into a full row of l holding only the key
// values (nil: unbounded).
func boundRow(l *schema.Table, b []string) (schema.Row, error) {
	if b == nil {
		return nil, nil
	}
	if len(b) != len(l.Key) {
		return nil, fmt.Errorf("bound %q has %d values, the key %d", b, len(b), len(l.Key))
	}
	r := make(schema.Row, len(l.Columns))
	for i, k := range l.Key {
		c := l.Columns[k]
		s := b[i]
		v, err := valueOf(literal{isNum: true, num: s, str: &s}, c)
		if err != nil {
			return nil, fmt.Errorf("bound %q: %w", b, err)
		}
		r[k] = v
	}
	return r, nil
}

// ReadRows returns the current rows of the given keys (in key order of
// the table), in the table's current layout; keys without a row are left
// out.
func (s *Source) ReadRows(_ context.Context, id capture.TableID, keys []schema.Row) ([]schema.Row, *schema.Table, error) {
	t := s.db.snapshotTable(id.Name)
	if t == nil {
		return nil, nil, fmt.Errorf("table %s does not exist", id)
	}
	var out []schema.Row
	for _, k := range keys {
		if r, ok := t.rows[string(schema.AppendKeyOf(nil, t.layout, k))]; ok {
			out = append(out, r)
		}
	}
	return out, t.layout, nil
}

// CurrentPosition returns the position of the last log entry.
func (s *Source) CurrentPosition(context.Context) (capture.Position, error) {
	return s.db.Position(), nil
}
