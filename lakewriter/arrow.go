package lakewriter

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/floe-cdc/floe/schema"
)

// An Arrow record batch handed to the Parquet writers holds at most
// batchRows rows, and is cut early once its values reach batchBytes (a row
// is never split, so a single value larger than that makes a batch of its
// own): this bounds the memory a commit holds in Arrow form, whatever the
// size of the rows.
const (
	batchRows  = 64 * 1024
	batchBytes = 4 << 20
)

// encoder appends canonical rows to Arrow record batches shaped like an
// Iceberg schema. Field i of the schema takes row[pos[i]]; rows must have
// exactly width values. Values are validated as they are appended: a NULL
// in a required field, schema.Unchanged, a Go type that is not the
// canonical one for the field, a decimal beyond its precision or a fixed
// value of the wrong length is an error naming the column. After an
// error the encoder must not be flushed.
type encoder struct {
	schema  *arrow.Schema
	rb      *array.RecordBuilder
	pos     []int
	names   []string
	writers []valueWriter
	width   int
	rows    int
	bytes   int // estimated bytes of the values appended since the last flush
	// fieldBytes are the value bytes of each field since the last flush:
	// after a flush, the builders are reserved at the size of the batch
	// just cut (see flush).
	fieldBytes []int
	// raws are the fields' raw writers (nil: none for the field's type),
	// layout the table encoded rows are scanned as (layoutEncoder's), and
	// scanned the values of the last one.
	raws    []rawWriter
	layout  *schema.Table
	scanned []schema.RawValue
}

type valueWriter func(v any) error

func newEncoder(sc *iceberg.Schema, pos []int, width int) (*encoder, error) {
	asc, err := table.SchemaToArrowSchema(sc, nil, true, false)
	if err != nil {
		return nil, fmt.Errorf("arrow schema: %w", err)
	}
	fields := sc.Fields()
	e := &encoder{
		schema:     asc,
		rb:         array.NewRecordBuilder(memory.DefaultAllocator, asc),
		pos:        pos,
		names:      make([]string, len(fields)),
		writers:    make([]valueWriter, len(fields)),
		width:      width,
		fieldBytes: make([]int, len(fields)),
	}
	for i, f := range fields {
		e.names[i] = f.Name
		w, err := newWriter(e.rb.Field(i), f.Type, f.Required, f.Name)
		if err != nil {
			e.rb.Release()
			return nil, err
		}
		e.writers[i] = w
		e.raws = append(e.raws, newRawWriter(e.rb.Field(i), f.Type, f.Required))
	}
	return e, nil
}

// append validates r and appends it to the current batch.
func (e *encoder) append(r schema.Row) error {
	if len(r) != e.width {
		return fmt.Errorf("row has %d values, want %d", len(r), e.width)
	}
	for i, w := range e.writers {
		v := r[e.pos[i]]
		if err := w(v); err != nil {
			return err
		}
		size := schema.ValueSize(v)
		e.bytes += size
		e.fieldBytes[i] += size
	}
	e.rows++
	return nil
}

// appendRaw is append for the values of a row scanned by schema.ScanRow.
// A value its field's raw writer takes is appended without being boxed;
// any other (a type without a raw writer, or a value that is an error)
// goes boxed to the writer append uses, so both append the same values
// and fail with the same errors.
func (e *encoder) appendRaw(r []schema.RawValue) error {
	if len(r) != e.width {
		return fmt.Errorf("row has %d values, want %d", len(r), e.width)
	}
	for i, w := range e.writers {
		v := &r[e.pos[i]]
		if raw := e.raws[i]; raw == nil || !raw(v) {
			if err := w(v.Box()); err != nil {
				return err
			}
		}
		size := v.Size()
		e.bytes += size
		e.fieldBytes[i] += size
	}
	e.rows++
	return nil
}

// add appends a data row: a Row, or the encoding of one in e.layout.
func (e *encoder) add(r dataRow) error {
	if !r.isEncoded {
		return e.append(r.row)
	}
	var err error
	if e.scanned, err = schema.ScanRow(e.layout, r.encoded, e.scanned); err != nil {
		return err
	}
	return e.appendRaw(e.scanned)
}

// full reports whether the batch has reached batchRows rows or batchBytes
// bytes and should be flushed.
func (e *encoder) full() bool { return e.rows >= batchRows || e.bytes >= batchBytes }

// flush returns the rows appended since the last flush as one batch (the
// caller owns it) and resets the builder.
//
// The next batch is most likely the size of this one (rows of one table
// through one encoder), so the builders are reserved for as many rows and
// each variable-length field for as many bytes, at most batchBytes (a
// batch cut for one large value does not reserve its size again): they
// are allocated once per batch instead of being doubled (copied and
// cleared) as rows arrive.
func (e *encoder) flush() arrow.RecordBatch {
	rec := e.rb.NewRecordBatch()
	e.rb.Reserve(e.rows)
	for i, n := range e.fieldBytes {
		if b, ok := e.rb.Field(i).(interface{ ReserveData(int) }); ok && n > 0 {
			b.ReserveData(min(n, batchBytes))
		}
		e.fieldBytes[i] = 0
	}
	e.rows, e.bytes = 0, 0
	return rec
}

func (e *encoder) release() { e.rb.Release() }

// layoutEncoder returns an encoder of rows in t's Layout for the fields
// of sc. The caller holds commitMu or evolveMu (see Table.layout).
func (t *Table) layoutEncoder(sc *iceberg.Schema) (*encoder, error) {
	fields := sc.Fields()
	pos := make([]int, len(fields))
	for i, f := range fields {
		if pos[i] = t.layout.Index(f.Name); pos[i] < 0 {
			return nil, fmt.Errorf("table column %s is not in the layout", f.Name)
		}
	}
	e, err := newEncoder(sc, pos, len(t.layout.Columns))
	if err != nil {
		return nil, err
	}
	e.layout = t.layout
	return e, nil
}

// RowBatch is rows encoded by a RowEncoder, ready for a DataWriter of the
// same table. Write takes it over; otherwise Release it.
type RowBatch struct {
	rec      arrow.RecordBatch
	schemaID int
}

// Len is the number of rows in the batch.
func (b *RowBatch) Len() int64 {
	if b == nil || b.rec == nil {
		return 0
	}
	return b.rec.NumRows()
}

// Release frees the batch's memory. Safe on a nil batch and more than once.
func (b *RowBatch) Release() {
	if b != nil && b.rec != nil {
		b.rec.Release()
		b.rec = nil
	}
}

// RowEncoder encodes rows in the table's Layout into RowBatches shaped
// like the table's current schema, validating each value as a Commit's
// Rows are validated (a NULL in a required column, schema.Unchanged or a
// non-canonical value is an error naming the column). It lets rows be
// encoded on the goroutine that produced them, apart from the DataWriter
// that compresses them. Not safe for concurrent use; Release it when done.
type RowEncoder struct {
	enc      *encoder
	schemaID int
	broken   bool
}

// NewRowEncoder returns an encoder for the table's schema as last seen.
func (t *Table) NewRowEncoder() (*RowEncoder, error) {
	t.evolveMu.RLock()
	defer t.evolveMu.RUnlock()
	sc := t.current().Schema()
	enc, err := t.layoutEncoder(sc)
	if err != nil {
		return nil, fmt.Errorf("encoder for %s: %w", t.id, err)
	}
	return &RowEncoder{enc: enc, schemaID: sc.ID}, nil
}

// Append validates r and adds it to the current batch. After an error the
// rows appended since the last Batch are lost and Batch fails.
func (e *RowEncoder) Append(r schema.Row) error {
	if err := e.enc.append(r); err != nil {
		e.broken = true
		return err
	}
	return nil
}

// Full reports whether the rows appended since the last Batch have
// reached the size of a batch (rows or bytes): the caller should take the
// Batch now, so that no batch holds more than a bounded amount of memory.
func (e *RowEncoder) Full() bool { return e.enc.full() }

// Batch returns the rows appended since the last Batch (nil when none).
func (e *RowEncoder) Batch() (*RowBatch, error) {
	if e.broken {
		return nil, errors.New("row encoder: a row failed to encode; the batch is incomplete")
	}
	if e.enc.rows == 0 {
		return nil, nil
	}
	return &RowBatch{rec: e.enc.flush(), schemaID: e.schemaID}, nil
}

// Release frees the encoder.
func (e *RowEncoder) Release() { e.enc.release() }

func typeError(col string, t iceberg.Type, v any) error {
	return fmt.Errorf("column %s: value of Go type %T is not canonical for %s", col, v, t)
}

// appendBytes appends v to b. A large value first reserves exactly its
// size: the builder would round the buffer up to a power of two, copying
// what it holds.
func appendBytes(b *array.BinaryBuilder, v []byte) {
	if len(v) >= 1<<20 {
		b.ReserveData(len(v))
	}
	b.Append(v)
}

// typed adapts an append function for canonical Go type T.
func typed[T any](col string, t iceberg.Type, app func(T)) func(any) error {
	return func(v any) error {
		x, ok := v.(T)
		if !ok {
			return typeError(col, t, v)
		}
		app(x)
		return nil
	}
}

// newWriter returns the writer of canonical values of type t into b.
func newWriter(b array.Builder, t iceberg.Type, required bool, col string) (valueWriter, error) {
	var app func(any) error
	switch t := t.(type) {
	case iceberg.BooleanType:
		app = typed(col, t, b.(*array.BooleanBuilder).Append)
	case iceberg.Int32Type:
		app = typed(col, t, b.(*array.Int32Builder).Append)
	case iceberg.Int64Type:
		app = typed(col, t, b.(*array.Int64Builder).Append)
	case iceberg.Float32Type:
		app = typed(col, t, b.(*array.Float32Builder).Append)
	case iceberg.Float64Type:
		app = typed(col, t, b.(*array.Float64Builder).Append)
	case iceberg.DecimalType:
		db := b.(*array.Decimal128Builder)
		prec := int32(t.Precision())
		app = func(v any) error {
			x, ok := v.(decimal128.Num)
			if !ok {
				return typeError(col, t, v)
			}
			if !x.FitsInPrecision(prec) {
				return fmt.Errorf("column %s: decimal %s does not fit %s", col, x.ToString(int32(t.Scale())), t)
			}
			db.Append(x)
			return nil
		}
	case iceberg.StringType:
		sb := b.(*array.StringBuilder).BinaryBuilder
		// StringBuilder.Append converts the string to a new []byte; a
		// read-only view of its bytes is appended instead.
		app = typed(col, t, func(x string) { appendBytes(sb, unsafe.Slice(unsafe.StringData(x), len(x))) })
	case iceberg.BinaryType:
		bb := b.(*array.BinaryBuilder)
		app = typed(col, t, func(x []byte) { appendBytes(bb, x) })
	case iceberg.FixedType:
		fb := b.(*array.FixedSizeBinaryBuilder)
		app = func(v any) error {
			x, ok := v.([]byte)
			if !ok {
				return typeError(col, t, v)
			}
			if len(x) != t.Len() {
				return fmt.Errorf("column %s: %d bytes for %s", col, len(x), t)
			}
			fb.Append(x)
			return nil
		}
	case iceberg.UUIDType:
		ub, ok := b.(interface{ AppendBytes([16]byte) })
		if !ok {
			return nil, fmt.Errorf("column %s: unexpected arrow builder %T for uuid", col, b)
		}
		app = typed(col, t, ub.AppendBytes)
	case iceberg.DateType:
		db := b.(*array.Date32Builder)
		app = typed(col, t, func(x int32) { db.Append(arrow.Date32(x)) })
	case iceberg.TimeType:
		tb := b.(*array.Time64Builder)
		app = typed(col, t, func(x int64) { tb.Append(arrow.Time64(x)) })
	case iceberg.TimestampType, iceberg.TimestampTzType:
		tb := b.(*array.TimestampBuilder)
		app = typed(col, t, func(x int64) { tb.Append(arrow.Timestamp(x)) })
	case *iceberg.ListType:
		lb := b.(*array.ListBuilder)
		elem, err := newWriter(lb.ValueBuilder(), t.Element, t.ElementRequired, col+".element")
		if err != nil {
			return nil, err
		}
		app = func(v any) error {
			x, ok := v.([]any)
			if !ok {
				return typeError(col, t, v)
			}
			lb.Append(true)
			for _, e := range x {
				if err := elem(e); err != nil {
					return err
				}
			}
			return nil
		}
	default:
		return nil, fmt.Errorf("column %s: type %s is not supported by lakewriter", col, t)
	}
	return func(v any) error {
		if v == nil {
			if required {
				return fmt.Errorf("column %s: NULL in a required column", col)
			}
			b.AppendNull()
			return nil
		}
		if schema.IsUnchanged(v) {
			return fmt.Errorf("column %s: unchanged (TOAST) value was not resolved before writing", col)
		}
		return app(v)
	}, nil
}

// rawWriter appends one value of a row scanned by schema.ScanRow to its
// field's builder and reports true, or appends nothing and reports false
// for a value it leaves to the field's valueWriter: one of another kind
// (an error there), NULL in a required field, Unchanged, a decimal
// beyond the field's precision.
type rawWriter func(v *schema.RawValue) bool

// newRawWriter returns the raw writer of values of type t into b, or nil
// for a type whose values all go to the valueWriter (lists, fixed).
func newRawWriter(b array.Builder, t iceberg.Type, required bool) rawWriter {
	var app rawWriter
	switch t := t.(type) {
	case iceberg.BooleanType:
		bb := b.(*array.BooleanBuilder)
		app = rawOf(schema.RawBool, func(v *schema.RawValue) { bb.Append(v.Int != 0) })
	case iceberg.Int32Type:
		ib := b.(*array.Int32Builder)
		app = rawOf(schema.RawInt32, func(v *schema.RawValue) { ib.Append(int32(v.Int)) })
	case iceberg.Int64Type:
		ib := b.(*array.Int64Builder)
		app = rawOf(schema.RawInt64, func(v *schema.RawValue) { ib.Append(v.Int) })
	case iceberg.Float32Type:
		fb := b.(*array.Float32Builder)
		app = rawOf(schema.RawFloat32, func(v *schema.RawValue) { fb.Append(math.Float32frombits(uint32(v.Bits))) })
	case iceberg.Float64Type:
		fb := b.(*array.Float64Builder)
		app = rawOf(schema.RawFloat64, func(v *schema.RawValue) { fb.Append(math.Float64frombits(v.Bits)) })
	case iceberg.DecimalType:
		db := b.(*array.Decimal128Builder)
		prec := int32(t.Precision())
		app = func(v *schema.RawValue) bool {
			if v.Kind != schema.RawDecimal {
				return false
			}
			x := decimal128.New(v.High, v.Bits)
			if !x.FitsInPrecision(prec) {
				return false
			}
			db.Append(x)
			return true
		}
	case iceberg.StringType:
		sb := b.(*array.StringBuilder).BinaryBuilder
		app = rawOf(schema.RawString, func(v *schema.RawValue) { appendBytes(sb, v.Bytes) })
	case iceberg.BinaryType:
		bb := b.(*array.BinaryBuilder)
		app = rawOf(schema.RawBinary, func(v *schema.RawValue) { appendBytes(bb, v.Bytes) })
	case iceberg.UUIDType:
		ub, ok := b.(interface{ AppendBytes([16]byte) })
		if !ok {
			return nil
		}
		app = rawOf(schema.RawUUID, func(v *schema.RawValue) { ub.AppendBytes([16]byte(v.Bytes)) })
	case iceberg.DateType:
		db := b.(*array.Date32Builder)
		app = rawOf(schema.RawInt32, func(v *schema.RawValue) { db.Append(arrow.Date32(v.Int)) })
	case iceberg.TimeType:
		tb := b.(*array.Time64Builder)
		app = rawOf(schema.RawInt64, func(v *schema.RawValue) { tb.Append(arrow.Time64(v.Int)) })
	case iceberg.TimestampType, iceberg.TimestampTzType:
		tb := b.(*array.TimestampBuilder)
		app = rawOf(schema.RawInt64, func(v *schema.RawValue) { tb.Append(arrow.Timestamp(v.Int)) })
	default:
		return nil
	}
	return func(v *schema.RawValue) bool {
		if v.Kind == schema.RawNull {
			if required {
				return false
			}
			b.AppendNull()
			return true
		}
		return app(v)
	}
}

// rawOf returns the raw writer that appends values of kind k with app.
func rawOf(k schema.RawKind, app func(v *schema.RawValue)) rawWriter {
	return func(v *schema.RawValue) bool {
		if v.Kind != k {
			return false
		}
		app(v)
		return true
	}
}

// valueReader returns the canonical value at row i of one Arrow column.
type valueReader func(i int) any

// directReaders make the readers of the Arrow arrays whose values become
// canonical by one conversion of their own (a copy out of Arrow's buffers
// for strings and bytes), one entry per array type; each reports false
// for an array of another type.
var directReaders = []func(arrow.Array) (valueReader, bool){
	readerOf[*array.Boolean](same[bool]),
	readerOf[*array.Int32](same[int32]),
	readerOf[*array.Int64](same[int64]),
	readerOf[*array.Float32](same[float32]),
	readerOf[*array.Float64](same[float64]),
	readerOf[*array.Decimal128](same[decimal128.Num]),
	readerOf[*array.String](strings.Clone),
	readerOf[*array.LargeString](strings.Clone),
	readerOf[*array.Binary](bytes.Clone),
	readerOf[*array.LargeBinary](bytes.Clone),
	readerOf[*extensions.UUIDArray](func(x uuid.UUID) [16]byte { return x }),
	readerOf[*array.Date32](func(x arrow.Date32) int32 { return int32(x) }),
}

// readerOf returns the maker of the reader of arrays of type A that
// converts their values by conv (and reads nil at their nulls, as
// withNulls does: checked here, the reader is one call less per value).
func readerOf[A interface {
	arrow.Array
	Value(int) T
}, T, V any](conv func(T) V) func(arrow.Array) (valueReader, bool) {
	return func(arr arrow.Array) (valueReader, bool) {
		a, ok := arr.(A)
		if !ok {
			return nil, false
		}
		return func(i int) any {
			if arr.IsNull(i) {
				return nil
			}
			return conv(a.Value(i))
		}, true
	}
}

// newReader returns the reader of arr, a column of Iceberg type t as
// iceberg-go's scan delivers it. Values are copied out of Arrow buffers,
// so they stay valid after the batch is released.
func newReader(arr arrow.Array, t iceberg.Type) (valueReader, error) {
	for _, direct := range directReaders {
		if get, ok := direct(arr); ok {
			return get, nil
		}
	}
	var get valueReader
	switch a := arr.(type) {
	case *array.FixedSizeBinary:
		if _, ok := t.(iceberg.UUIDType); ok {
			get = func(i int) any { return [16]byte(a.Value(i)) }
		} else {
			get = func(i int) any { return bytes.Clone(a.Value(i)) }
		}
	case *array.Time64:
		div := unitDivisor(a.DataType().(*arrow.Time64Type).Unit)
		get = func(i int) any { return int64(a.Value(i)) / div }
	case *array.Timestamp:
		div := unitDivisor(a.DataType().(*arrow.TimestampType).Unit)
		get = func(i int) any { return int64(a.Value(i)) / div }
	case array.ListLike:
		lt, ok := t.(*iceberg.ListType)
		if !ok {
			return nil, fmt.Errorf("arrow list for iceberg type %s", t)
		}
		elem, err := newReader(a.ListValues(), lt.Element)
		if err != nil {
			return nil, err
		}
		get = func(i int) any {
			start, end := a.ValueOffsets(i)
			out := make([]any, 0, end-start)
			for j := start; j < end; j++ {
				out = append(out, elem(int(j)))
			}
			return out
		}
	case array.ExtensionArray:
		return newReader(a.Storage(), t)
	default:
		return nil, fmt.Errorf("arrow type %s for iceberg type %s is not supported", arr.DataType(), t)
	}
	return withNulls(arr, get), nil
}

// withNulls returns the reader of arr that reads nil at its nulls and
// get's value elsewhere.
func withNulls(arr arrow.Array, get valueReader) valueReader {
	return func(i int) any {
		if arr.IsNull(i) {
			return nil
		}
		return get(i)
	}
}

// unitDivisor converts a time unit to microseconds by division (units
// coarser than microseconds do not occur for Iceberg micro types).
func unitDivisor(u arrow.TimeUnit) int64 {
	if u == arrow.Nanosecond {
		return 1000
	}
	return 1
}
