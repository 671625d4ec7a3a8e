package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/internal/toolkit"
	"github.com/floe-cdc/floe/capture/jitter"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/schema/pgtype"
)

// textFormat asks for every result column in text form, the form the
// schema decoders read (the same form pgoutput sends).
var textFormat = []int16{0}

// oidBytea is the type OID of bytea.
const oidBytea = 17

// rowCodec is how the rows of a table are read: each result column's
// format (0 text, 1 binary) and, for a column read in binary form other
// than bytea, its decoder.
type rowCodec struct {
	formats []int16          // nil: every column in text
	binary  []schema.Decoder // per column: pgtype.BinaryDecoder's, nil for text and bytea
	oids    []uint32         // the columns' type OIDs (t.attTypes)
}

// readCodec returns how the rows of t are read: bytea columns in binary
// (their binary form is the value's bytes, half the size of the hex text,
// and decoding it is a copy); integers, booleans, uuids, dates and
// timestamps in binary when pgtype.BinaryDecoder reads them for their
// column (the server copies such a value instead of printing it, and Floe
// reads it instead of parsing it); the others in text (see textFormat).
func readCodec(t *table) rowCodec {
	c := rowCodec{oids: t.attTypes}
	for i, oid := range t.attTypes[:min(len(t.attTypes), len(t.layout.Columns))] {
		var dec schema.Decoder
		if oid != oidBytea {
			var ok bool
			if dec, ok = pgtype.BinaryDecoder(t.layout.Columns[i], oid); !ok {
				continue
			}
		}
		if c.formats == nil {
			c.formats = make([]int16, len(t.attTypes))
			c.binary = make([]schema.Decoder, len(t.attTypes))
		}
		c.formats[i], c.binary[i] = 1, dec
	}
	return c
}

// binaryAt reports whether column i is read in binary form.
func (c rowCodec) binaryAt(i int) bool { return i < len(c.formats) && c.formats[i] == 1 }

// text returns column i's non-NULL value v as PostgreSQL prints it: v
// itself when read in text, bytea's hex form, pgtype.BinaryText's for the
// others.
func (c rowCodec) text(i int, v []byte) string {
	if !c.binaryAt(i) {
		return string(v)
	}
	if c.binary[i] == nil {
		return `\x` + hexString(v)
	}
	if text, ok := pgtype.BinaryText(c.oids[i], v); ok {
		return text
	}
	return `\x` + hexString(v) // not of the type's width: the bytes as they came
}

// readerPool hands out chunk-reader connections. Each use runs its own
// REPEATABLE READ transaction: one that imports the exported snapshot, or
// a fresh one. No reader holds a transaction (and so a table lock) between
// uses: a TRUNCATE or other ACCESS EXCLUSIVE lock request waits only for
// the read in progress, never for a reader that waits behind it.
type readerPool struct {
	s     *Source
	slots chan struct{}

	mu    sync.Mutex
	idle  []*pgx.Conn
	ended bool
}

func newReaderPool(s *Source, size int) *readerPool {
	return &readerPool{s: s, slots: make(chan struct{}, size)}
}

func (p *readerPool) acquire(ctx context.Context) (*pgx.Conn, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	if p.ended {
		p.mu.Unlock()
		<-p.slots
		return nil, capture.ErrSnapshotEnded
	}
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	c, err := p.open(ctx)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return c, nil
}

// open connects a reader.
func (p *readerPool) open(ctx context.Context) (*pgx.Conn, error) {
	return p.s.connect(ctx)
}

// release returns c to the pool; a connection that failed is closed.
func (p *readerPool) release(c *pgx.Conn, failed bool) {
	p.mu.Lock()
	keep := !failed && !p.ended && !c.IsClosed()
	if keep {
		p.idle = append(p.idle, c)
	}
	p.mu.Unlock()
	if !keep {
		c.Close(context.Background())
	}
	<-p.slots
}

// end closes the idle connections and refuses further use.
func (p *readerPool) end() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.ended = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		c.Close(context.Background())
	}
}

// withSnapshot runs fn on a reader connection inside the snapshot, in a
// transaction of its own: one that imports the exported snapshot, or a
// fresh REPEATABLE READ one. It passes fn the time the snapshot was taken.
//
// An exported snapshot can be imported as often as needed while its
// exporting connection stays idle (until EndSnapshot). A TRUNCATE that
// commits in between is not MVCC-safe: reads after it find the table
// empty, and the stream, which carries the TRUNCATE after the snapshot's
// position, brings the table back in line once it passes it.
func (s *Source) withSnapshot(ctx context.Context, fn func(c *pgx.Conn, at time.Time) error) error {
	s.mu.Lock()
	pool, exact, name, snapTime := s.readers, s.exact, s.snapName, s.snapTime
	s.mu.Unlock()
	if pool == nil {
		return capture.ErrNotStarted
	}
	c, err := pool.acquire(ctx)
	if err != nil {
		return err
	}
	switch {
	case exact && name == "":
		err = errors.New("exported snapshot is no longer available")
	case exact:
		err = inExportedSnapshot(ctx, c, name, func(c *pgx.Conn) error { return fn(c, snapTime) })
	default:
		err = inRepeatableRead(ctx, c, fn)
	}
	pool.release(c, err != nil)
	return err
}

// inExportedSnapshot runs fn in a new REPEATABLE READ READ ONLY
// transaction on c that imports the exported snapshot name.
func inExportedSnapshot(ctx context.Context, c *pgx.Conn, name string, fn func(c *pgx.Conn) error) error {
	if _, err := c.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return fmt.Errorf("begin snapshot transaction: %w", err)
	}
	if _, err := c.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+strings.ReplaceAll(name, "'", "''")+"'"); err != nil {
		return fmt.Errorf("import snapshot %s: %w", name, err)
	}
	if err := fn(c); err != nil {
		return err
	}
	if _, err := c.Exec(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("end snapshot transaction: %w", err)
	}
	return nil
}

// inRepeatableRead runs fn in a new REPEATABLE READ READ ONLY transaction
// on c and passes it the transaction's snapshot time.
func inRepeatableRead(ctx context.Context, c *pgx.Conn, fn func(c *pgx.Conn, at time.Time) error) error {
	if _, err := c.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return fmt.Errorf("begin snapshot transaction: %w", err)
	}
	var at time.Time
	if err := c.QueryRow(ctx, "SELECT now()").Scan(&at); err != nil {
		return fmt.Errorf("read snapshot time: %w", err)
	}
	if err := fn(c, at.UTC()); err != nil {
		return err
	}
	if _, err := c.Exec(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("end snapshot transaction: %w", err)
	}
	return nil
}

// PlanChunks splits the table into contiguous key ranges of about
// rowsPerChunk rows (Lower exclusive, Upper inclusive; the first Lower and
// the last Upper are nil), in one pass over the key inside the snapshot.
// A table without rows, or without a key, is one unbounded chunk.
func (s *Source) PlanChunks(ctx context.Context, id capture.TableID, rowsPerChunk int) ([]capture.Chunk, error) {
	t, err := s.tables.Get(id)
	if err != nil {
		return nil, err
	}
	return toolkit.PlanKeyRanges(id, t.layout, rowsPerChunk, func() ([][]string, error) {
		return s.keyBounds(ctx, t, rowsPerChunk)
	})
}

// keyBounds reads the bounds of t's chunks in key order, inside the
// snapshot: the key of every rowsPerChunk-th row, and of each row that
// takes the running total of row sizes past a multiple of
// toolkit.ChunkBytes (toolkit.ChunkCuts). A row's size is the sum of its
// values' stored sizes (pg_column_size: a TOASTed value's compressed
// size, read from its pointer, so the pass does not read TOAST data).
//
// The pass streams every row's key and size to the client, which decides
// the cuts: measured on 2M rows of the benchmark's orders table
// (PostgreSQL 15), it took 0.65-0.74 s, where numbering the rows and
// summing their sizes with window functions on the server took 1.3-1.4 s.
func (s *Source) keyBounds(ctx context.Context, t *table, rowsPerChunk int) ([][]string, error) {
	sizes := make([]string, len(t.layout.Columns))
	for i, c := range t.layout.Columns {
		sizes[i] = "coalesce(pg_column_size(" + pgx.Identifier{c.Name}.Sanitize() + "), 0)"
	}
	sql := fmt.Sprintf(`SELECT %[1]s, (%[3]s)::int8 FROM %[2]s ORDER BY %[1]s`, t.keyList, t.qname, strings.Join(sizes, " + "))
	nk := len(t.layout.Key)
	cuts := toolkit.NewChunkCuts(rowsPerChunk)
	var bounds [][]string
	err := s.withSnapshot(ctx, func(c *pgx.Conn, _ time.Time) error {
		// The server may sort the whole key before it sends the first row.
		defer capture.ExtendConn(c.PgConn().Conn())()
		rr := c.PgConn().ExecParams(ctx, sql, nil, nil, nil, textFormat)
		for rr.NextRow() {
			vals := rr.Values()
			if len(vals) != nk+1 {
				rr.Close()
				return fmt.Errorf("key scan returned %d columns, want %d", len(vals), nk+1)
			}
			size, err := strconv.ParseInt(string(vals[nk]), 10, 64)
			if err != nil {
				rr.Close()
				return fmt.Errorf("row size %q: %w", vals[nk], err)
			}
			if !cuts.After(size) {
				continue
			}
			b, err := toolkit.KeyBound(t.layout, vals[:nk])
			if err != nil {
				rr.Close()
				return err
			}
			bounds = append(bounds, b)
		}
		_, err := rr.Close()
		return err
	})
	return bounds, err
}

// ReadChunk reads the chunk's rows in key order as OpRead changes. The
// batch's Position is StartInfo.From, or the position of the snapshot
// ExportSnapshot took.
func (s *Source) ReadChunk(ctx context.Context, id capture.TableID, chunk capture.Chunk) (capture.Batch, error) {
	jitter.At(jitter.ChunkRead)
	t, err := s.tables.Get(id)
	if err != nil {
		return capture.Batch{}, err
	}
	sql, params, oids, err := chunkQuery(t, chunk)
	if err != nil {
		return capture.Batch{}, fmt.Errorf("read chunk %d of %s: %w", chunk.Index, id, err)
	}
	b, add := s.chunkSizes.Batch(id, chunk, t.layout)
	err = s.withSnapshot(ctx, func(c *pgx.Conn, at time.Time) error {
		b.CommitTime = at
		return s.checkChunkLayout(ctx, c, t, readRows(ctx, c.PgConn(), t, sql, params, oids, add, func(err error, raw capture.RawRow) error {
			b.Changes = append(b.Changes, capture.Change{Table: id, Op: capture.OpRead, Schema: t.layout, Err: err, Raw: raw})
			return nil
		}))
	})
	if err != nil {
		return capture.Batch{}, fmt.Errorf("read chunk %d of %s: %w", chunk.Index, id, err)
	}
	s.chunkSizes.Note(b)
	s.mu.Lock()
	b.Position = s.snapAt
	s.mu.Unlock()
	return *b, nil
}

// chunkQuery builds the SELECT of one chunk with its bounds as text
// parameters typed by the key columns' OIDs.
func chunkQuery(t *table, chunk capture.Chunk) (string, [][]byte, []uint32, error) {
	var (
		params [][]byte
		oids   []uint32
	)
	sql, err := toolkit.ChunkQuery(t.selectList, t.qname, t.keyList, len(t.layout.Key), chunk, func(i int, v string) string {
		params = append(params, []byte(v))
		oids = append(oids, t.keyOIDs[i])
		return "$" + strconv.Itoa(len(params))
	})
	if err != nil {
		return "", nil, nil, err
	}
	return sql, params, oids, nil
}

// readRows runs sql (selecting t.selectList) with results in rowFormats
// and calls fn with each row decoded by the table's decoders. A row with a
// value a decoder rejects (a *schema.ValueError) goes to bad with the row
// as the server sent it, when bad is set; otherwise it ends the read with
// that error. When fn or bad fails the rows are not drained; the caller
// must discard the connection.
func readRows(ctx context.Context, c *pgconn.PgConn, t *table, sql string, params [][]byte, oids []uint32, fn func(schema.Row) error,
	bad func(error, capture.RawRow) error) error {
	codec := readCodec(t)
	asked := textFormat
	if codec.formats != nil {
		asked = codec.formats
	}
	rr := c.ExecParams(ctx, sql, params, oids, nil, asked)
	if err := resultInLayout(rr.FieldDescriptions(), t); err != nil {
		rr.Close()
		return err
	}
	var slab toolkit.RowSlab
	for rr.NextRow() {
		row, err := decodeRow(t, rr.Values(), codec, slab.Next(len(t.decoders)))
		var verr *schema.ValueError
		if err != nil && bad != nil && errors.As(err, &verr) {
			if err := bad(err, rawValues(t, rr.Values(), codec)); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	_, err := rr.Close()
	return err
}

// resultInLayout checks that a result's columns have the built-in types
// and modifiers t's columns had when t was discovered, which its
// decoders read: a value of another type (a column altered since, such
// as a float4 widened to float8) is refused with capture.ErrLayoutChanged,
// never decoded as the old type. Columns of types defined in the
// database (a domain is described by its base type, an enum by its own)
// are left to the checks that read the catalog. No columns (a failed
// query) passes; the query's error says why.
func resultInLayout(fields []pgconn.FieldDescription, t *table) error {
	if len(fields) == 0 {
		return nil
	}
	if len(fields) != len(t.layout.Columns) {
		return fmt.Errorf("%w (%s: the query returned %d columns, the layout has %d)", capture.ErrLayoutChanged, t.id, len(fields), len(t.layout.Columns))
	}
	for i, f := range fields {
		if t.attTypes[i] >= firstUserOID {
			continue
		}
		if f.DataTypeOID != t.attTypes[i] || f.TypeModifier != t.attMods[i] {
			return fmt.Errorf("%w (%s: column %s is %s now, %s when the table was discovered)", capture.ErrLayoutChanged, t.id, t.layout.Columns[i].Name,
				typeText(f.DataTypeOID, f.TypeModifier, schema.TypeName(fmt.Sprintf("type oid %d", f.DataTypeOID))),
				typeText(t.attTypes[i], t.attMods[i], t.layout.Columns[i].Source))
		}
	}
	return nil
}

// firstUserOID is the first OID of an object created in a database
// (FirstNormalObjectId): lower ones are built in.
const firstUserOID = 16384

// decodeRow decodes one row of values read as codec says (nil = NULL)
// into row, whose values are nil (toolkit.RowSlab): a binary bytea value
// is copied, the other binary values decoded by their binary decoders,
// the rest decoded from text.
func decodeRow(t *table, vals [][]byte, codec rowCodec, row schema.Row) (schema.Row, error) {
	if len(vals) != len(t.decoders) || len(row) != len(vals) {
		return nil, fmt.Errorf("row has %d values, the layout has %d columns", len(vals), len(t.decoders))
	}
	for i, v := range vals {
		if v == nil {
			continue // NULL
		}
		var val any
		var err error
		switch {
		case !codec.binaryAt(i):
			val, err = t.decoders[i](v) // decoders never retain their input
		case codec.binary[i] == nil:
			val = bytes.Clone(v) // bytea's binary form; never nil for a non-NULL value
		default:
			val, err = codec.binary[i](v)
		}
		if err != nil {
			return nil, withRowKey(t, err, func(k int) []byte {
				if vals[k] == nil {
					return nil
				}
				return []byte(codec.text(k, vals[k]))
			})
		}
		row[i] = val
	}
	return row, nil
}

// EndSnapshot closes the chunk readers and releases the exported snapshot.
// Safe to call more than once.
func (s *Source) EndSnapshot(ctx context.Context) error {
	s.mu.Lock()
	pool, conn := s.readers, s.snapConn
	s.snapConn, s.snapName, s.exported = nil, "", false
	s.mu.Unlock()
	if pool != nil {
		pool.end()
	}
	if conn != nil {
		if err := conn.Close(ctx); err != nil {
			return fmt.Errorf("release exported snapshot: %w", err)
		}
	}
	return nil
}

// ScanTable reads the whole table in key order in its own REPEATABLE READ
// transaction, decoding values exactly as the snapshot and the stream do;
// a row with a value that cannot be decoded goes to bad when it is set
// (capture.TableScanner).
func (s *Source) ScanTable(ctx context.Context, id capture.TableID, fn func(schema.Row) error, bad func(key schema.Row, err error) error) error {
	t, err := s.tables.Lookup(ctx, s.Discover, id)
	if err != nil {
		return err
	}
	c, err := s.connect(capture.WithLongReads(ctx)) // a whole-table pass (see capture.ReadBound)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	sql, _, _, err := chunkQuery(t, capture.Chunk{})
	if err != nil {
		return fmt.Errorf("scan %s: %w", id, err)
	}
	onBad := toolkit.UndecodableByKey(t.layout, func(k int, text []byte) (any, error) { return t.decoders[k](text) }, bad)
	err = inRepeatableRead(ctx, c, func(c *pgx.Conn, _ time.Time) error {
		if err := readRows(ctx, c.PgConn(), t, sql, nil, nil, fn, onBad); err != nil {
			return err
		}
		// The rows are in the layout of the transaction's snapshot,
		// which an ALTER since the lookup may have changed.
		atts, err := readAtts(ctx, c, t.oid)
		if err != nil {
			return err
		}
		if !sameAtts(atts, t) {
			return fmt.Errorf("%w (%s was altered while it was read; read it again)", capture.ErrLayoutChanged, id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("scan %s: %w", id, err)
	}
	return nil
}
