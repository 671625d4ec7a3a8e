package capturetest

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// The workload's tables. The DDL and DML are the common subset of
// PostgreSQL and MySQL/MariaDB, so every test is written once.
const (
	// ddlT is the main table: a bigint key, a varchar, a decimal and a text.
	ddlT = "CREATE TABLE t (id bigint PRIMARY KEY, name varchar(100), amount decimal(12,2), note text)"
	// ddlU has a composite key whose first column is text.
	ddlU = "CREATE TABLE u (region varchar(10) NOT NULL, id bigint NOT NULL, qty int, PRIMARY KEY (region, id))"
	// ddlOther is never captured: its changes must not appear.
	ddlOther = "CREATE TABLE other (id bigint PRIMARY KEY, v int)"
	// ddlEmpty stays empty.
	ddlEmpty = "CREATE TABLE empty_t (id bigint PRIMARY KEY, v int)"
)

// tRow is one row of t. Name and Note are nil (NULL) or a string.
type tRow struct {
	ID    int64
	Name  any
	Cents int64 // amount in hundredths
	Note  any
}

// sql renders the row as a VALUES tuple.
func (r tRow) sql() string {
	return fmt.Sprintf("(%d, %s, %s, %s)", r.ID, sqlText(r.Name), amountSQL(r.Cents), sqlText(r.Note))
}

// row is the row's canonical form (schema.Row in t's column order).
func (r tRow) row() schema.Row {
	return schema.Row{r.ID, r.Name, decimal128.FromI64(r.Cents), r.Note}
}

// uRow is one row of u; a negative Qty is NULL.
type uRow struct {
	Region string
	ID     int64
	Qty    int32
}

func (r uRow) sql() string {
	qty := "NULL"
	if r.Qty >= 0 {
		qty = strconv.Itoa(int(r.Qty))
	}
	return fmt.Sprintf("(%s, %d, %s)", sqlText(r.Region), r.ID, qty)
}

func (r uRow) row() schema.Row {
	var qty any
	if r.Qty >= 0 {
		qty = r.Qty
	}
	return schema.Row{r.Region, r.ID, qty}
}

// sqlText renders nil as NULL and a string as a literal. Strings must not
// hold backslashes (MySQL reads them as escapes, PostgreSQL does not).
func sqlText(v any) string {
	if v == nil {
		return "NULL"
	}
	s := v.(string)
	if strings.Contains(s, `\`) {
		panic("capturetest: backslash in a SQL literal")
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// amountSQL renders hundredths as a decimal literal ("-2.05").
func amountSQL(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

// insertT is one INSERT statement for all rows.
func insertT(rows ...tRow) string {
	vals := make([]string, len(rows))
	for i, r := range rows {
		vals[i] = r.sql()
	}
	return "INSERT INTO t VALUES " + strings.Join(vals, ", ")
}

func insertU(rows ...uRow) string {
	vals := make([]string, len(rows))
	for i, r := range rows {
		vals[i] = r.sql()
	}
	return "INSERT INTO u VALUES " + strings.Join(vals, ", ")
}

// fmtRow renders a row for messages.
func fmtRow(r schema.Row) string {
	if r == nil {
		return "<nil>"
	}
	parts := make([]string, len(r))
	for i, v := range r {
		switch x := v.(type) {
		case nil:
			parts[i] = "NULL"
		case decimal128.Num:
			parts[i] = "dec:" + x.BigInt().String()
		default:
			parts[i] = fmt.Sprintf("%T:%v", v, v)
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// keyString renders the key of a full row of layout l.
func keyString(l *schema.Table, r schema.Row) string {
	return fmtRow(schema.KeyRow(l, r))
}

// Key-only layouts of t and u, for keyString on expected rows.
var (
	tLayout = &schema.Table{Columns: make([]schema.Column, 4), Key: []int{0}}
	uLayout = &schema.Table{Columns: make([]schema.Column, 3), Key: []int{0, 1}}
)

// want is one expected change.
type want struct {
	table  string
	op     capture.Op
	before schema.Row // the full old row (delete, update)
	after  schema.Row
}

func (w want) String() string {
	return fmt.Sprintf("%s %s before=%s after=%s", w.table, w.op, fmtRow(w.before), fmtRow(w.after))
}

func fmtChange(c capture.Change) string {
	return fmt.Sprintf("%s %s before=%s keyOnly=%v after=%s", c.Table, c.Op, fmtRow(c.Before), c.BeforeKeyOnly, fmtRow(c.After))
}

// matchChange returns "" when got is w under the source's caps, or what differs.
func matchChange(e Env, got capture.Change, w want) string {
	if got.Table != e.Table(w.table) {
		return fmt.Sprintf("table %s, want %s", got.Table, e.Table(w.table))
	}
	if got.Op != w.op {
		return fmt.Sprintf("op %s, want %s", got.Op, w.op)
	}
	if !reflect.DeepEqual(got.After, w.after) {
		return fmt.Sprintf("after %s, want %s", fmtRow(got.After), fmtRow(w.after))
	}
	switch w.op {
	case capture.OpInsert, capture.OpTruncate:
		if got.Before != nil {
			return fmt.Sprintf("before %s, want none", fmtRow(got.Before))
		}
		return ""
	}
	caps := e.Caps()
	if got.Before == nil {
		keyKept := w.op == capture.OpUpdate && got.Schema != nil &&
			reflect.DeepEqual(schema.KeyRow(got.Schema, w.before), schema.KeyRow(got.Schema, w.after))
		if caps.PartialBefore && keyKept {
			return ""
		}
		return fmt.Sprintf("no before image, want %s", fmtRow(w.before))
	}
	if !got.BeforeKeyOnly {
		if !reflect.DeepEqual(got.Before, w.before) {
			return fmt.Sprintf("before %s, want %s", fmtRow(got.Before), fmtRow(w.before))
		}
		return ""
	}
	if !caps.PartialBefore {
		return "key-only before image from a source that documents full ones"
	}
	if len(got.Before) != len(w.before) {
		return fmt.Sprintf("key-only before %s has %d values, the layout %d", fmtRow(got.Before), len(got.Before), len(w.before))
	}
	isKey := map[int]bool{}
	for _, k := range got.Schema.Key {
		isKey[k] = true
	}
	for i, v := range got.Before {
		switch {
		case isKey[i] && !reflect.DeepEqual(v, w.before[i]):
			return fmt.Sprintf("key-only before %s, want key of %s", fmtRow(got.Before), fmtRow(w.before))
		case !isKey[i] && v != nil:
			return fmt.Sprintf("key-only before %s has a non-key value in column %d", fmtRow(got.Before), i)
		}
	}
	return ""
}
