package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/internal/toolkit"
	"github.com/floe-cdc/floe/capture/jitter"
	"github.com/floe-cdc/floe/schema"
)

// inSnapshot runs fn in a REPEATABLE READ, READ ONLY transaction (InnoDB
// consistent read) on a pooled connection.
func (s *Source) inSnapshot(ctx context.Context, fn func(tx *sql.Tx) error) error {
	db, err := s.pool()
	if err != nil {
		return err
	}
	return inSnapshotOn(ctx, db, s, fn)
}

// inLongSnapshot is inSnapshot for one whole-table pass, which the server
// may sort or materialise before it answers: it runs on a connection of
// its own whose reads wait capture.LongReadFactor times the bound.
func (s *Source) inLongSnapshot(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if _, err := s.pool(); err != nil {
		return err
	}
	db := sql.OpenDB(s.connector) // no idle connection: the next one is dialled with ctx
	defer db.Close()
	return inSnapshotOn(capture.WithLongReads(ctx), db, s, fn)
}

func inSnapshotOn(ctx context.Context, db *sql.DB, s *Source, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return s.connectError(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	// The COMMIT goes with ctx first: database/sql and the driver send
	// tx.Commit's without one, so on a connection that went silent after
	// the last row it would wait for the connection's read bound (ten
	// times the stall timeout for a whole-table pass) even after the
	// snapshot was cancelled. The second COMMIT only hands the connection
	// back; it is a no-op for the server.
	if _, err := tx.ExecContext(ctx, "COMMIT"); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("end snapshot transaction: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("end snapshot transaction: %w", err)
	}
	return nil
}

func (s *Source) snapshotTable(id capture.TableID) (*table, error) {
	if !s.life.Started() {
		return nil, capture.ErrNotStarted
	}
	s.mu.Lock()
	ended := s.ended
	s.mu.Unlock()
	if ended {
		return nil, capture.ErrSnapshotEnded
	}
	return s.tables.Get(id)
}

// keyExprs returns the key columns as SELECTed for chunk bounds: binary
// columns as HEX() so that bounds are valid text.
func keyExprs(t *table) []string {
	out := make([]string, len(t.layout.Key))
	for i, k := range t.layout.Key {
		q := quoteIdent(t.layout.Columns[k].Name)
		if t.binKey[i] {
			q = "HEX(" + q + ")"
		}
		out[i] = q
	}
	return out
}

// PlanChunks splits the table into contiguous key ranges of about
// rowsPerChunk rows (Lower exclusive, Upper inclusive; the first Lower and
// the last Upper are nil) in one pass over the key. A table without rows,
// or without a key, is one unbounded chunk.
func (s *Source) PlanChunks(ctx context.Context, id capture.TableID, rowsPerChunk int) ([]capture.Chunk, error) {
	t, err := s.snapshotTable(id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.snapshotted == nil {
		s.snapshotted = map[capture.TableID]bool{}
	}
	s.snapshotted[id] = true // every chunk is read after Start's server position
	s.mu.Unlock()
	return toolkit.PlanKeyRanges(id, t.layout, rowsPerChunk, func() ([][]string, error) {
		return s.keyBounds(ctx, t, rowsPerChunk)
	})
}

// keyBounds reads the bounds of t's chunks in key order, in one
// consistent read: the key of every rowsPerChunk-th row, and of each row
// that takes the running total of row sizes past a multiple of
// toolkit.ChunkBytes (toolkit.ChunkCuts). A row's size is what its column
// types bound (table.boundBytes) plus the LENGTH of its values whose type
// does not bound them to a few hundred bytes (table.sizedCols).
//
// The pass streams every row's key (and that LENGTH) to the client, which
// decides the cuts: measured on 2M rows of the benchmark's orders table
// (MariaDB 10.11), it took 2.1 s, where numbering the rows with window
// functions on the server took 5.6 s for the count alone and 11.6 s with
// the running total of every value's LENGTH, longer than reading the
// whole table (3.3 s).
func (s *Source) keyBounds(ctx context.Context, t *table, rowsPerChunk int) ([][]string, error) {
	cols := keyExprs(t)
	nk := len(cols)
	if len(t.sizedCols) > 0 {
		sizes := make([]string, len(t.sizedCols))
		for i, c := range t.sizedCols {
			sizes[i] = "COALESCE(LENGTH(" + quoteIdent(t.layout.Columns[c].Name) + "), 0)"
		}
		cols = append(cols, "CAST("+strings.Join(sizes, " + ")+" AS SIGNED)")
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + t.qname + " ORDER BY " + t.keyList
	cuts := toolkit.NewChunkCuts(rowsPerChunk)
	var bounds [][]string
	err := s.inLongSnapshot(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		return scanRaw(rows, len(cols), func(vals []sql.RawBytes) error {
			size := t.boundBytes
			if len(vals) > nk {
				n, err := strconv.ParseInt(string(vals[nk]), 10, 64)
				if err != nil {
					return fmt.Errorf("row size %q: %w", vals[nk], err)
				}
				size += n
			}
			if !cuts.After(size) {
				return nil
			}
			b, err := toolkit.KeyBound(t.layout, vals[:nk])
			if err != nil {
				return err
			}
			bounds = append(bounds, b)
			return nil
		})
	})
	return bounds, err
}

// chunkQuery builds the SELECT of one chunk with its bounds as parameters
// (a binary key column's bound, hex text, through UNHEX).
func chunkQuery(t *table, chunk capture.Chunk) (string, []any, error) {
	var args []any
	q, err := toolkit.ChunkQuery(t.selectList, t.qname, t.keyList, len(t.layout.Key), chunk, func(i int, v string) string {
		args = append(args, v)
		if t.binKey[i] {
			return "UNHEX(?)"
		}
		return "?"
	})
	if err != nil {
		return "", nil, err
	}
	return q, args, nil
}

// queryRows runs q on db (a *sql.Tx or *sql.Conn) and calls fn with each
// row decoded by the table's text decoders. A row with a value a decoder
// rejects (a *schema.ValueError) goes to bad with the row as the server
// sent it (capture.Change.Raw), when bad is set; otherwise it ends the
// read with that error.
func queryRows(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, t *table, q string, args []any, fn func(schema.Row) error, bad func(error, capture.RawRow) error) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	if len(cols) != len(t.text) {
		return fmt.Errorf("query returned %d columns, the layout has %d", len(cols), len(t.text))
	}
	var slab toolkit.RowSlab
	return scanRaw(rows, len(cols), func(vals []sql.RawBytes) error {
		row := slab.Next(len(vals))
		err := decodeText(t, vals, row)
		var verr *schema.ValueError
		if err != nil && bad != nil && errors.As(err, &verr) {
			return bad(err, rawTextRow(t, vals))
		}
		if err != nil {
			return err
		}
		return fn(row)
	})
}

// rawTextRow copies a row of text values as the server sent them
// (capture.RawRow), NULL as nil.
func rawTextRow(t *table, vals []sql.RawBytes) capture.RawRow {
	raw := make(capture.RawRow, len(vals))
	for i, v := range vals {
		raw[i] = capture.RawValue{Column: t.layout.Columns[i].Name, Text: capture.NewRawText(v)}
	}
	return raw
}

// scanRaw scans each of rows' n columns as raw bytes and calls fn with
// them, until a row fails, fn fails or the rows end. The driver reuses
// the buffers: fn must copy what it keeps.
func scanRaw(rows *sql.Rows, n int, fn func([]sql.RawBytes) error) error {
	vals := make([]sql.RawBytes, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	return rows.Err()
}

// decodeText decodes one row of text values (nil = NULL) into row, whose
// values are nil (toolkit.RowSlab). The driver reuses the buffers; the
// decoders retain nothing of what they are given (schema.Decoder), so the
// values are decoded in place.
func decodeText(t *table, vals []sql.RawBytes, row schema.Row) error {
	for i, v := range vals {
		if v == nil {
			continue
		}
		val, err := t.text[i](v)
		if err != nil {
			err = withRowKey(t, err, func(k int) []byte { return vals[k] })
			return fmt.Errorf("column %s: %w", t.layout.Columns[i].Name, err)
		}
		row[i] = val
	}
	return nil
}

// ReadChunk reads the chunk's rows in key order as OpRead changes, in one
// consistent read. On MariaDB, for a key Go orders as the server does,
// Position is the chunk's watermark: the position the read is consistent
// with (see watermark.go). On MySQL (with GTIDs, or with file positions
// and the LOCK TABLES privilege), a chunk of a plan read beside the
// stream, for such a key, is read in a watermark window and its Position
// is the window's high watermark (see window.go, lockwindow.go). Otherwise
// it is StartInfo.From, and the rows are as of a later point, which the
// coordinator converges by replay.
func (s *Source) ReadChunk(ctx context.Context, id capture.TableID, chunk capture.Chunk) (capture.Batch, error) {
	jitter.At(jitter.ChunkRead)
	t, err := s.snapshotTable(id)
	if err != nil {
		return capture.Batch{}, err
	}
	q, args, err := chunkQuery(t, chunk)
	if err != nil {
		return capture.Batch{}, fmt.Errorf("read chunk %d of %s: %w", chunk.Index, id, err)
	}
	b, add := s.chunkSizes.Batch(id, chunk, t.layout)
	bad := func(err error, raw capture.RawRow) error {
		b.Changes = append(b.Changes, capture.Change{Table: id, Op: capture.OpRead, Schema: t.layout, Err: err, Raw: raw})
		return nil
	}
	b.CommitTime = time.Now().UTC()
	s.mu.Lock()
	from := s.from
	s.mu.Unlock()
	b.Position = from
	if s.watermarked(t) {
		mark, err := s.readAtSnapshotPosition(ctx, t, q, args, add, bad)
		if err != nil {
			return capture.Batch{}, fmt.Errorf("read chunk %d of %s: %w", chunk.Index, id, err)
		}
		if mark.Compare(from) > 0 {
			b.Position = mark
		}
		s.chunkSizes.Note(b)
		s.registerBeside(t, chunk, mark, b) // beside.go
		return *b, nil
	}
	if m := s.besideWindow(t); m != nil {
		if err := s.readChunkInWindow(ctx, m, t, chunk, q, args, b, add, bad); err != nil { // window.go
			return capture.Batch{}, fmt.Errorf("read chunk %d of %s: %w", chunk.Index, id, err)
		}
		s.chunkSizes.Note(b)
		return *b, nil
	}
	err = s.inSnapshot(ctx, func(tx *sql.Tx) error { return s.readChunkRows(ctx, tx, t, q, args, add, bad) })
	if err != nil {
		return capture.Batch{}, fmt.Errorf("read chunk %d of %s: %w", chunk.Index, id, err)
	}
	s.chunkSizes.Note(b)
	return *b, nil
}

// readChunkRows reads a chunk's rows with q inside the caller's
// transaction and then checks, still inside it, that the table's
// definition is the one its rows were decoded with. The rows read hold
// the table's metadata lock until the transaction ends, so no ALTER can
// complete between the read and the check: a definition that differs is
// the one the rows came in (an ALTER that completed before the read), and
// the read is refused with capture.ErrLayoutChanged. A query that fails
// because of such an ALTER (a dropped column; MariaDB's "table definition
// has changed" for a table rebuilt after the transaction's read view) is
// reported the same way.
func (s *Source) readChunkRows(ctx context.Context, q querier, t *table, query string, args []any, add func(schema.Row) error,
	bad func(error, capture.RawRow) error) error {
	readErr := queryRows(ctx, q, t, query, args, add, bad)
	if readErr != nil && ctx.Err() != nil {
		return readErr
	}
	now, _, err := s.describe(ctx, q, t.id)
	if err != nil {
		if readErr != nil {
			return readErr
		}
		return fmt.Errorf("check the definition of %s: %w", t.id, err)
	}
	if now == nil || !sameDefinition(t, now) {
		if readErr != nil {
			return fmt.Errorf("%w (%s was altered: %v)", capture.ErrLayoutChanged, t.id, readErr)
		}
		return fmt.Errorf("%w (%s was altered after it was discovered)", capture.ErrLayoutChanged, t.id)
	}
	return readErr
}

// EndSnapshot ends the snapshot phase; later snapshot calls fail. Safe to
// call more than once.
func (s *Source) EndSnapshot(context.Context) error {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	return nil
}

// ScanTable reads the whole table in key order in one consistent read,
// decoding values exactly as the snapshot does (for verify); a row with
// a value that cannot be decoded (one the snapshot makes a dead letter,
// such as a zero date under zero-date: error) goes to bad when it is set
// (capture.TableScanner).
func (s *Source) ScanTable(ctx context.Context, id capture.TableID, fn func(schema.Row) error, bad func(key schema.Row, err error) error) error {
	t, err := s.tables.Lookup(ctx, s.Discover, id)
	if err != nil {
		return err
	}
	q, _, err := chunkQuery(t, capture.Chunk{})
	if err != nil {
		return fmt.Errorf("scan %s: %w", id, err)
	}
	onBad := toolkit.UndecodableByKey(t.layout, func(k int, text []byte) (any, error) { return t.text[k](text) }, bad)
	err = s.inLongSnapshot(ctx, func(tx *sql.Tx) error { return queryRows(ctx, tx, t, q, nil, fn, onBad) })
	if err != nil {
		return fmt.Errorf("scan %s: %w", id, err)
	}
	return nil
}

// ReadRows reads the current rows of the given keys (key-only rows in the
// table's key order), decoded as the snapshot does, in the table's layout
// now: it is described again on the reading connection, since a column
// dropped since discovery cannot be selected. Keys with no row are left
// out.
func (s *Source) ReadRows(ctx context.Context, id capture.TableID, keys []schema.Row) ([]schema.Row, *schema.Table, error) {
	return s.tables.ReadRows(ctx, s.Discover, id, keys, func(t *table) (toolkit.KeyReader, *schema.Table, func(), error) {
		c, err := s.conn(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		now, problems, err := s.describe(ctx, c, t.id)
		if err == nil && len(problems) > 0 {
			err = capture.Problems(problems)
		}
		if err != nil {
			c.Close()
			return nil, nil, nil, fmt.Errorf("describe %s again to read its rows: %w", id, err)
		}
		return s.keyReader(ctx, c, now), now.layout, func() { c.Close() }, nil
	})
}

// keyReader reads batches of keys of t on c, one query per batch.
func (s *Source) keyReader(ctx context.Context, c *sql.Conn, t *table) toolkit.KeyReader {
	nkey := len(t.layout.Key)
	ph := "(" + strings.TrimSuffix(strings.Repeat("?, ", nkey), ", ") + ")"
	return func(batch []schema.Row, emit func(schema.Row) error) error {
		var (
			tuples []string
			args   []any
		)
		for _, key := range batch {
			// Each key is one tuple, or several when a zoned DATETIME
			// has two wall clocks (see schema.ZonedWallClocks).
			alts := make([][]any, nkey)
			for i, v := range key {
				alts[i] = s.keyArgs(v, t.layout.Columns[t.layout.Key[i]])
			}
			for _, tuple := range product(alts) {
				tuples = append(tuples, ph)
				args = append(args, tuple...)
			}
		}
		q := fmt.Sprintf("SELECT %s FROM %s WHERE (%s) IN (%s)", t.selectList, t.qname, t.keyList, strings.Join(tuples, ", "))
		return queryRows(ctx, c, t, q, args, emit, nil)
	}
}

// product lists every combination that takes one value from each of alts.
func product(alts [][]any) [][]any {
	out := [][]any{nil}
	for _, vals := range alts {
		next := make([][]any, 0, len(out)*len(vals))
		for _, prefix := range out {
			for _, v := range vals {
				next = append(next, append(slices.Clip(prefix), v))
			}
		}
		out = next
	}
	return out
}

// keyArgs turns a canonical key value into the query arguments MySQL
// compares with the column: one, except for a zoned DATETIME instant that
// two stored wall clocks map to.
func (s *Source) keyArgs(v any, col schema.Column) []any {
	if us, ok := v.(int64); ok && strings.HasPrefix(strings.ToLower(col.Source.String()), "datetime") {
		if zone := s.decodeOptions().DatetimeZone; zone != nil {
			var out []any
			for _, w := range schema.ZonedWallClocks(us, zone) {
				out = append(out, keyArg(w, schema.Column{Type: iceberg.PrimitiveTypes.Timestamp, Source: col.Source}))
			}
			return out
		}
	}
	return []any{keyArg(v, col)}
}

// keyArg turns a canonical key value into a query argument MySQL compares
// correctly with the column (sessions run in UTC; a zoned DATETIME is
// given as its wall clock, see keyArgs).
func keyArg(v any, col schema.Column) any {
	src := strings.ToLower(col.Source.String())
	if us, ok := v.(int64); ok && strings.HasPrefix(src, "time") && !strings.HasPrefix(src, "timestamp") {
		sign := ""
		if us < 0 {
			sign, us = "-", -us
		}
		return fmt.Sprintf("%s%d:%02d:%02d.%06d", sign, us/3600e6, us/60e6%60, us/1e6%60, us%1e6)
	}
	switch col.Type.(type) {
	case iceberg.DecimalType, iceberg.DateType:
		return schema.FormatValue(v, col.Type)
	case iceberg.TimestampType, iceberg.TimestampTzType:
		s := schema.FormatValue(v, col.Type) // 2024-01-02T03:04:05.000000[Z]
		return strings.TrimSuffix(strings.Replace(s, "T", " ", 1), "Z")
	}
	return v
}
