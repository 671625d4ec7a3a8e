package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/jitter"
	"github.com/floe-cdc/floe/schema"
)

// Snapshot chunks at watermarks (capture.Watermarker).
//
// On MariaDB every chunk is read in a transaction started WITH CONSISTENT
// SNAPSHOT, for which the server reports the binlog position its read view
// is consistent with (binlog_snapshot_file / binlog_snapshot_position; no
// lock is taken). That position, as a GTID position, is the chunk's
// watermark: its rows are the chunk's rows exactly as of it. The stream
// then drops every change of a key in the chunk's range at or before the
// watermark (they are in the rows already) and sends the later ones: the
// DBLog low/high watermark reconciliation, with both watermarks the same
// exact point, so that no change is held back and none is sent twice.
//
// The stream must place a changed key in its chunk exactly as the
// server's ORDER BY did when the chunks were planned. Keys of numeric,
// temporal and binary columns are compared in Go. CHAR and VARCHAR keys
// are compared by their collation's weight strings, which the server
// computes (WEIGHT_STRING, padded to the column's length for PAD SPACE
// collations, so that trailing spaces compare as the server does); only
// keys the stream sees before the latest watermark need one, and each is
// asked for once. A table with another key column (TEXT, ENUM, SET, or a
// DATETIME read in a non-UTC server-time-zone, whose instants do not
// follow wall-clock order across a DST gap) gets no watermarks and
// converges by replay. MySQL reports no snapshot position, so its chunks
// read before the stream have none either; those of a plan read beside
// the stream are read in watermark windows (window.go), and watermarks
// are then GTID sets, compared with the stream's positions by
// containment (notAfter), or with gtid_mode OFF binlog file positions,
// compared in order (lockwindow.go).

// watermarked reports whether t's chunks are read at watermarks.
func (s *Source) watermarked(t *table) bool {
	s.mu.Lock()
	flavor := s.flavor
	s.mu.Unlock()
	return flavor == FlavorMariaDB && s.orderableKey(t) == nil
}

// orderableKey returns nil when Go orders t's key as the server does,
// otherwise the reason it does not.
func (s *Source) orderableKey(t *table) error {
	for i, k := range t.layout.Key {
		col := t.layout.Columns[k]
		switch col.Type.(type) {
		case iceberg.Int32Type, iceberg.Int64Type, iceberg.Float32Type, iceberg.Float64Type, iceberg.DecimalType,
			iceberg.DateType, iceberg.TimeType, iceberg.TimestampType, iceberg.BooleanType:
			continue
		case iceberg.TimestampTzType:
			if !strings.HasPrefix(strings.ToLower(t.colType[k]), "datetime") {
				continue // TIMESTAMP: UTC instants, ordered as stored
			}
		case iceberg.BinaryType, iceberg.FixedType:
			if t.binKey[i] {
				continue
			}
		case iceberg.StringType:
			if t.collation[k].weighable(t.colType[k]) {
				continue
			}
		}
		return fmt.Errorf("key column %s (%s) is not compared byte for byte or as a number", col.Name, t.colType[k])
	}
	return nil
}

// readAtSnapshotPosition reads one chunk with q in a consistent snapshot
// and returns the GTID position that snapshot is consistent with.
func (s *Source) readAtSnapshotPosition(ctx context.Context, t *table, q string, args []any, add func(schema.Row) error,
	bad func(error, capture.RawRow) error) (Position, error) {
	c, err := s.conn(ctx)
	if err != nil {
		return Position{}, err
	}
	defer c.Close()
	// The GTID position of the binlog's end, read so that no commit can
	// fall in between (the end did not move while it was read): when the
	// snapshot is at that end, BINLOG_GTID_POS (a scan of the binlog
	// file) is not needed.
	endFile, endOffset, endGTIDs, err := binlogEnd(ctx, c)
	if err != nil {
		return Position{}, err
	}
	jitter.At(jitter.Watermark)
	if err := beginConsistent(ctx, c); err != nil { // window.go
		return Position{}, err
	}
	done := false
	defer func() {
		if !done {
			_, _ = c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	file, offset, err := snapshotBinlogPosition(ctx, c)
	if err != nil {
		return Position{}, err
	}
	gtids := endGTIDs
	if file != endFile || offset != endOffset {
		var pos sql.NullString
		if err := c.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", file, offset).Scan(&pos); err != nil {
			return Position{}, fmt.Errorf("GTID position of binlog %s:%d: %w", file, offset, err)
		}
		if !pos.Valid {
			return Position{}, fmt.Errorf("GTID position of binlog %s:%d: the server has none", file, offset)
		}
		gtids = pos.String
	}
	gs, err := parseMaria(gtids)
	if err != nil {
		return Position{}, fmt.Errorf("GTID position of binlog %s:%d: %w", file, offset, err)
	}
	if err := s.readChunkRows(ctx, c, t, q, args, add, bad); err != nil {
		return Position{}, err
	}
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		return Position{}, fmt.Errorf("end snapshot transaction: %w", err)
	}
	done = true
	return Position{Kind: KindMariaDB, Maria: gs}, nil
}

// binlogEnd reads the binlog's current end and its GTID position, retrying
// until no commit moved the end while the GTID position was read.
func binlogEnd(ctx context.Context, c *sql.Conn) (file string, offset uint32, gtids string, err error) {
	for range 5 {
		f1, o1, err := masterStatus(ctx, c)
		if err != nil {
			return "", 0, "", err
		}
		if err := c.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos").Scan(&gtids); err != nil {
			return "", 0, "", fmt.Errorf("read gtid_binlog_pos: %w", err)
		}
		f2, o2, err := masterStatus(ctx, c)
		if err != nil {
			return "", 0, "", err
		}
		if f1 == f2 && o1 == o2 {
			return f1, o1, gtids, nil
		}
	}
	return "", 0, "", nil // busy server: leave it to BINLOG_GTID_POS
}

// snapshotBinlogPosition reads the binlog position MariaDB reports for the
// session's consistent snapshot.
func snapshotBinlogPosition(ctx context.Context, c *sql.Conn) (string, uint32, error) {
	rows, err := c.QueryContext(ctx, "SHOW SESSION STATUS LIKE 'binlog_snapshot_%'")
	if err != nil {
		return "", 0, fmt.Errorf("read the snapshot's binlog position: %w", err)
	}
	defer rows.Close()
	var file, offset string
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return "", 0, err
		}
		switch strings.ToLower(name) {
		case "binlog_snapshot_file":
			file = value
		case "binlog_snapshot_position":
			offset = value
		}
	}
	if err := rows.Err(); err != nil {
		return "", 0, err
	}
	off, err := strconv.ParseUint(offset, 10, 32)
	if file == "" || err != nil {
		return "", 0, fmt.Errorf("the server reported no binlog position for the snapshot (binlog_snapshot_file %q, binlog_snapshot_position %q)", file, offset)
	}
	return file, uint32(off), nil
}

// collation is a character column's character set and collation.
type collation struct {
	charset, name string
	chars         int64 // the column's length in characters
}

// weighable reports whether key values of the column can be ordered by
// weight strings: CHAR and VARCHAR of a known collation.
func (c collation) weighable(colType string) bool {
	ct := strings.ToLower(colType)
	return c.name != "" && c.chars > 0 && c.chars <= 4096 &&
		(strings.HasPrefix(ct, "char(") || strings.HasPrefix(ct, "varchar("))
}

// padSpace reports whether trailing spaces are insignificant (every
// collation but MariaDB's NO PAD ones and MySQL's UCA 9.0 ones).
func (c collation) padSpace() bool {
	return !strings.Contains(c.name, "_nopad_") && !strings.Contains(c.name, "_0900_")
}

// weightExpr is the SQL expression of the weight string of a parameter in
// the column's collation: padded with spaces to the column's length for
// PAD SPACE collations, so that weight strings compare as the values do.
func (c collation) weightExpr() string {
	e := fmt.Sprintf("WEIGHT_STRING(CONVERT(? USING %s) COLLATE %s", c.charset, c.name)
	if c.padSpace() {
		e += fmt.Sprintf(" AS CHAR(%d)", c.chars)
	}
	return e + ")"
}

// weight is a collated string key value as the stream compares it: its
// weight string in the column's collation.
type weight []byte

// chunkMarks is one table's chunk watermarks as the stream uses them.
type chunkMarks struct {
	// keyNames are the key columns; keyIdx their ordinals in each layout
	// version a change came with (a schema change may move them).
	keyNames []string
	keyIdx   map[*schema.Table][]int

	uppers []schema.Row // each chunk's Upper bound, comparable (see comparable); nil = unbounded
	marks  []*Position  // each chunk's watermark; nil = read at From
	end    Position     // every watermark's transactions (withWatermark)

	// weighed are the key positions of collated string columns, with
	// their weight expressions; weights caches the weight strings the
	// server computed, per position.
	weighed []int
	exprs   []string
	weights []map[string]weight
	db      *sql.DB

	// beside is set for a plan read beside the stream (see beside.go):
	// its chunks get their watermarks as ReadChunk reads them. mu then
	// guards marks, end and beside between the stream and ReadChunk.
	mu     sync.Mutex
	beside *besideMarks
}

// SetWatermarks implements capture.Watermarker: the stream started next
// drops the changes each plan's chunks already hold.
func (s *Source) SetWatermarks(ctx context.Context, plans map[capture.TableID]*capture.SnapshotPlan) error {
	marks := map[capture.TableID]*chunkMarks{}
	for id, plan := range plans {
		t, err := s.tables.Get(id)
		if err != nil {
			return err
		}
		m, err := s.buildMarks(ctx, t, plan)
		if err != nil {
			return fmt.Errorf("snapshot watermarks of %s: %w; re-snapshot the table with floe resnapshot", id, err)
		}
		if m != nil {
			marks[id] = m
		}
	}
	s.mu.Lock()
	s.marks = marks
	s.mu.Unlock()
	return nil
}

func (s *Source) buildMarks(ctx context.Context, t *table, plan *capture.SnapshotPlan) (*chunkMarks, error) {
	beside := plan.Streamed && !plan.Complete()
	if len(plan.Watermarks) == 0 && !beside {
		return nil, nil
	}
	if beside && len(plan.Done) > 0 {
		return nil, fmt.Errorf("a plan read beside the stream has %d chunks done already; only a new plan can be", len(plan.Done))
	}
	if err := s.orderableKey(t); err != nil {
		return nil, err
	}
	chunks := append([]capture.Chunk(nil), plan.Chunks...)
	sort.Slice(chunks, func(i, j int) bool { return chunks[i].Index < chunks[j].Index })
	m := &chunkMarks{keyNames: t.layout.KeyNames(), keyIdx: map[*schema.Table][]int{},
		uppers: make([]schema.Row, len(chunks)), marks: make([]*Position, len(chunks))}
	for i, k := range t.layout.Key {
		if _, ok := t.layout.Columns[k].Type.(iceberg.StringType); ok {
			m.weighed = append(m.weighed, i)
			m.exprs = append(m.exprs, t.collation[k].weightExpr())
			m.weights = append(m.weights, map[string]weight{})
		}
	}
	if len(m.weighed) > 0 {
		db, err := s.pool()
		if err != nil {
			return nil, err
		}
		m.db = db
	}
	for i, ch := range chunks {
		if ch.Upper != nil {
			bound, err := decodeBound(t, ch.Upper)
			if err != nil {
				return nil, fmt.Errorf("chunk %d bound: %w", ch.Index, err)
			}
			up, err := m.comparable(ctx, bound)
			if err != nil {
				return nil, fmt.Errorf("chunk %d bound: %w", ch.Index, err)
			}
			if i > 0 && m.uppers[i-1] != nil && compareKeys(m.uppers[i-1], up) >= 0 {
				return nil, fmt.Errorf("chunk %d bound is not after chunk %d's", ch.Index, chunks[i-1].Index)
			}
			m.uppers[i] = up
		} else if i != len(chunks)-1 {
			return nil, fmt.Errorf("chunk %d is unbounded but not the last", ch.Index)
		}
		w, ok := plan.Watermarks[ch.Index]
		if !ok {
			continue
		}
		p, err := DecodePosition(w)
		if err != nil {
			return nil, err
		}
		if p.Kind == 0 {
			return nil, fmt.Errorf("chunk %d watermark %s is no position", ch.Index, w)
		}
		m.marks[i] = &p
		m.end = withWatermark(m.end, p)
	}
	if beside {
		m.beside = newBesideMarks(t, chunks)
	}
	return m, nil
}

// decodeBound decodes a chunk bound (the text form of each key column;
// binary columns hex-encoded) into canonical key values.
func decodeBound(t *table, bound []string) (schema.Row, error) {
	if len(bound) != len(t.layout.Key) {
		return nil, fmt.Errorf("bound has %d values, the key has %d columns", len(bound), len(t.layout.Key))
	}
	out := make(schema.Row, len(bound))
	for i, k := range t.layout.Key {
		raw := []byte(bound[i])
		if t.binKey[i] {
			var err error
			if raw, err = hex.DecodeString(bound[i]); err != nil {
				return nil, fmt.Errorf("key column %s: %w", t.layout.Columns[k].Name, err)
			}
		}
		v, err := t.text[k](raw)
		if err != nil {
			return nil, fmt.Errorf("key column %s: %w", t.layout.Columns[k].Name, err)
		}
		out[i] = v
	}
	return out, nil
}

// comparable returns a key (canonical values in key order) with each
// collated string value replaced by its weight string, asking the server
// for those it has not seen yet.
func (m *chunkMarks) comparable(ctx context.Context, key schema.Row) (schema.Row, error) {
	if len(m.weighed) == 0 {
		return key, nil
	}
	out := slices.Clone(key)
	var (
		missing []int
		args    []any
		exprs   []string
	)
	for j, i := range m.weighed {
		s, _ := key[i].(string)
		if w, ok := m.weights[j][s]; ok {
			out[i] = w
			continue
		}
		missing = append(missing, j)
		args = append(args, s)
		exprs = append(exprs, m.exprs[j])
	}
	if len(missing) == 0 {
		return out, nil
	}
	got := make([][]byte, len(missing))
	dest := make([]any, len(missing))
	for i := range got {
		dest[i] = &got[i]
	}
	if err := m.db.QueryRowContext(ctx, "SELECT "+strings.Join(exprs, ", "), args...).Scan(dest...); err != nil {
		return nil, fmt.Errorf("collation weight of a key: %w", err)
	}
	for n, j := range missing {
		w := weight(got[n])
		if len(m.weights[j]) >= maxCachedWeights {
			clear(m.weights[j])
		}
		m.weights[j][args[n].(string)] = w
		out[m.weighed[j]] = w
	}
	return out, nil
}

// maxCachedWeights bounds each key column's weight cache.
const maxCachedWeights = 1 << 17

// keyOf returns the key values of row, a row in layout, in key order.
func (m *chunkMarks) keyOf(layout *schema.Table, row schema.Row) (schema.Row, error) {
	idx, ok := m.keyIdx[layout]
	if !ok {
		for _, name := range m.keyNames {
			i := layout.Index(name)
			if i < 0 {
				return nil, fmt.Errorf("key column %s is not in the layout %s", name, layout)
			}
			idx = append(idx, i)
		}
		m.keyIdx[layout] = idx
	}
	key := make(schema.Row, len(idx))
	for i, k := range idx {
		key[i] = row[k]
	}
	return key, nil
}

// chunkOf returns the index (in chunk order) of the chunk that holds the
// key of row, a row in layout. Chunks are (previous Upper, Upper].
func (m *chunkMarks) chunkOf(ctx context.Context, layout *schema.Table, row schema.Row) (int, error) {
	key, err := m.keyOf(layout, row)
	if err != nil {
		return 0, err
	}
	return m.chunkOfKey(ctx, key)
}

// chunkOfKey is chunkOf for key values in key order.
func (m *chunkMarks) chunkOfKey(ctx context.Context, key schema.Row) (int, error) {
	key, err := m.comparable(ctx, key)
	if err != nil {
		return 0, err
	}
	return sort.Search(len(m.uppers), func(i int) bool {
		return m.uppers[i] == nil || compareKeys(key, m.uppers[i]) <= 0
	}), nil
}

// watermark returns the watermark of the chunk that holds row's key (nil
// when that chunk was read at From).
func (m *chunkMarks) watermark(ctx context.Context, layout *schema.Table, row schema.Row) (*Position, error) {
	i, err := m.chunkOf(ctx, layout, row)
	if err != nil || i == len(m.uppers) {
		return nil, err // past the last bound of a plan without an open end: cannot happen
	}
	return m.marks[i], nil
}

// compareKeys orders two canonical keys of orderable columns (see
// orderableKey) as the server does.
func compareKeys(a, b schema.Row) int {
	for i := range a {
		if c := compareValue(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

// compareValue orders two values of one key column as the server does:
// strings by their collation's weights, the rest of orderableKey's types
// by value (schema.CompareValues: the server's order for numbers,
// decimals, booleans and binary strings).
func compareValue(a, b any) int {
	switch x := a.(type) {
	case weight:
		return compareWeights(x, b.(weight))
	case string:
		panic("mysql: a key string reached the order without its collation weight") // orderableKey weighs every string
	}
	if c, ok := schema.CompareValues(a, b); ok {
		return c
	}
	panic(fmt.Sprintf("mysql: key value of type %T is not orderable", a))
}

// compareWeights compares two weight strings. Both are padded to the
// column's length (PAD SPACE) or not padded at all (NO PAD), so a weight
// string that is a prefix of the other is the smaller value, except that
// an expansion ('ß' weighs as "ss") can leave the longer one with extra
// trailing space weights; those are still ordered after the prefix, which
// can only misplace a key equal to a chunk bound under the collation yet
// spelled differently.
func compareWeights(a, b weight) int { return bytes.Compare(a, b) }

// reconcile applies the chunk watermarks to one change of transaction
// pos (txnState.own): a change a chunk already holds is dropped (false);
// an update whose old and new keys lie in chunks on different sides of
// pos keeps only the side the chunk does not hold, as a delete or an
// insert. Once the stream has read every transaction of the table's
// watermarks before this one (st.cur reached m.end), the marks are
// dropped: no later transaction is in any of them.
func (st *streamer) reconcile(ctx context.Context, pos Position, ch capture.Change) (capture.Change, bool, error) {
	m := st.marks[ch.Table]
	if m == nil {
		return ch, true, nil
	}
	if (m.beside == nil || m.beside.pending == 0) && st.cur.Kind == m.end.Kind && reached(st.cur, m.end) {
		delete(st.marks, ch.Table) // positions only grow from here
		return ch, true, nil
	}
	if ch.Err != nil {
		// No images to place by key: a statement-format change
		// (OpUnreadable) or one whose value could not be decoded (a dead
		// letter): dropped when every chunk was read after it (the rows
		// hold its effect), kept otherwise (stopping the pipeline, or a
		// dead letter).
		for _, w := range m.marks {
			if w == nil || !notAfter(pos, *w) {
				return ch, true, nil
			}
		}
		return ch, false, nil
	}
	var err error
	held := func(row schema.Row) bool {
		w, werr := m.watermark(ctx, ch.Schema, row)
		if werr != nil {
			err = werr
			return true
		}
		return w != nil && notAfter(pos, *w)
	}
	switch ch.Op {
	case capture.OpInsert:
		keep := !held(ch.After)
		return ch, keep && err == nil, err
	case capture.OpDelete:
		keep := !held(ch.Before)
		return ch, keep && err == nil, err
	case capture.OpUpdate:
		oldHeld, newHeld := held(ch.Before), held(ch.After)
		if err != nil {
			return ch, false, err
		}
		switch {
		case oldHeld && newHeld:
			return ch, false, nil
		case oldHeld:
			return capture.Change{Table: ch.Table, Op: capture.OpInsert, Schema: ch.Schema, After: ch.After}, true, nil
		case newHeld:
			return capture.Change{Table: ch.Table, Op: capture.OpDelete, Schema: ch.Schema, Before: ch.Before}, true, nil
		}
		return ch, true, nil
	case capture.OpTruncate:
		if m.beside != nil {
			// Read beside the stream: the coordinator applies it before
			// every chunk read after it, and drops the rows of those read
			// before it (see beside.go).
			return ch, true, nil
		}
		before, after := 0, 0
		for _, w := range m.marks {
			switch {
			case w == nil || !notAfter(pos, *w):
				after++
			default:
				before++
			}
		}
		switch {
		case after == 0:
			return ch, false, nil // every chunk was read after it
		case before == 0:
			return ch, true, nil
		}
		return ch, false, fmt.Errorf("%s was truncated at %s while its snapshot was read: some chunks hold rows from before and some from after; re-snapshot it with floe resnapshot", ch.Table, pos)
	}
	return ch, true, nil
}
