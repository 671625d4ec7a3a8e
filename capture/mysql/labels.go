package mysql

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/schema/mysqltype"
)

// ENUM and SET labels in the binlog.
//
// A binlog ENUM or SET value is a member index or bitmask, and
// information_schema shows each label character outside the BMP (emoji)
// as '?' (see mysqltype.WithLabels). With binlog_row_metadata=FULL each
// TABLE_MAP event carries the labels in full; the stream decodes with
// those, after checking they are the discovered ones (a difference is a
// schema change). Without them a label containing '?' cannot be trusted,
// and decoding it is an error naming the setting.

// rowDecoders are the row-event decoders of one table for the labels of
// its last TABLE_MAP event.
type rowDecoders struct {
	labels [][][]byte // per enumCols entry: the labels they were built for (nil: none in the event)
	dec    []func(v any) (any, error)
}

// enumColumns lists the layout's ENUM and SET columns.
func enumColumns(layout *schema.Table) []int {
	var out []int
	for i, c := range layout.Columns {
		if mysqltype.Labels(c) != nil {
			out = append(out, i)
		}
	}
	return out
}

// eventLabels returns the raw labels e carries for each of cols (nil
// entries when e has no label metadata).
func eventLabels(e *replication.TableMapEvent, cols []int) [][][]byte {
	out := make([][][]byte, len(cols))
	enums, sets := 0, 0
	next := 0
	for i := 0; i < int(e.ColumnCount) && next < len(cols); i++ {
		var labels [][]byte
		switch {
		case e.IsEnumColumn(i):
			if enums < len(e.EnumStrValue) {
				labels = e.EnumStrValue[enums]
			}
			enums++
		case e.IsSetColumn(i):
			if sets < len(e.SetStrValue) {
				labels = e.SetStrValue[sets]
			}
			sets++
		default:
			continue
		}
		if i == cols[next] {
			out[next] = labels
			next++
		}
	}
	return out
}

func sameLabels(a, b [][][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) || (a[i] == nil) != (b[i] == nil) {
			return false
		}
		for j := range a[i] {
			if !bytes.Equal(a[i][j], b[i][j]) {
				return false
			}
		}
	}
	return true
}

// decoders returns the row-event decoders of t for the TABLE_MAP event e,
// reusing prev when e carries the same labels. An error means the
// labels changed (a schema change).
func (s *Source) decoders(t *table, e *replication.TableMapEvent, prev *rowDecoders) (*rowDecoders, error) {
	if len(t.enumCols) == 0 {
		if prev != nil {
			return prev, nil
		}
		return &rowDecoders{dec: t.binlog}, nil
	}
	labels := eventLabels(e, t.enumCols)
	if prev != nil && sameLabels(prev.labels, labels) {
		return prev, nil
	}
	dec := append([]func(any) (any, error){}, t.binlog...)
	for k, i := range t.enumCols {
		col := t.layout.Columns[i]
		if labels[k] == nil {
			if mysqltype.LabelsUncertain(col) {
				dec[i] = uncertainLabels(t, col, t.binlog[i])
			}
			continue
		}
		full, err := mysqltype.WithLabels(col, labels[k])
		if err != nil {
			return nil, err
		}
		if dec[i], err = mysqltype.BinlogDecoder(full, s.decodeOptions()); err != nil {
			return nil, fmt.Errorf("binlog decoder for %s.%s: %w", t.id, col.Name, err)
		}
	}
	return &rowDecoders{labels: labels, dec: dec}, nil
}

// uncertainLabels wraps the decoder of an ENUM or SET column whose labels
// contain '?' and arrive without binlog label metadata: a decoded value
// with '?' may be wrong, so it is an error.
func uncertainLabels(t *table, col schema.Column, dec func(any) (any, error)) func(any) (any, error) {
	return func(v any) (any, error) {
		out, err := dec(v)
		if s, ok := out.(string); err == nil && ok && strings.Contains(s, "?") {
			return nil, fmt.Errorf("the label %q of %s.%s may stand for characters information_schema cannot show (emoji), "+
				"and the binlog does not carry the labels; fix: SET GLOBAL binlog_row_metadata=FULL (and in the server's option file)",
				s, t.id, col.Name)
		}
		return out, err
	}
}
