package mysqltype

import (
	"fmt"
	"time"

	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/schema"
)

// MySQL and MariaDB type mapping.
//
// Column maps a column's Type to the Iceberg type Floe writes. Two
// decoders produce the canonical value (see schema.Row) of that type:
// TextDecoder for the text protocol (the snapshot's SELECT) and
// BinlogDecoder for go-mysql's decoded row events; for the same stored
// value both return the same canonical value.
//
//	MySQL / MariaDB                    Iceberg          notes
//	TINYINT, SMALLINT, MEDIUMINT       int              signed or UNSIGNED; BOOL is TINYINT(1): int
//	INT                                int              INT UNSIGNED: long
//	BIGINT                             long             BIGINT UNSIGNED: decimal(20,0)
//	DECIMAL(p,s), p <= 38              decimal(p,s)
//	DECIMAL(p,s), p > 38               string           plain text, exactly s fractional digits
//	FLOAT                              float
//	DOUBLE                             double
//	BIT(n), n <= 63                    long             the bits as an unsigned number
//	BIT(64)                            binary           8 bytes, big-endian
//	CHAR, VARCHAR, *TEXT               string           any collation (also _bin); CHAR without trailing spaces
//	BINARY(n)                          binary           n bytes, 0x00-padded as stored
//	VARBINARY, *BLOB                   binary
//	DATE                               date             zero dates: see Options.ZeroDate
//	DATETIME(0-6)                      timestamp        wall clock, never shifted
//	                                   timestamptz      with Options.DatetimeZone: the UTC instant of the wall clock in that zone
//	TIMESTAMP(0-6)                     timestamptz      the UTC instant
//	TIME(0-6)                          long             signed microseconds, -838:59:59 .. 838:59:59
//	YEAR                               int              0 for YEAR 0000
//	ENUM                               string           the label ('' for the error value)
//	SET                                string           labels in definition order, comma-joined
//	JSON (MySQL)                       string           compact text, key order kept (see json.go)
//	JSON (MariaDB: LONGTEXT)           string           the exact text
//	GEOMETRY, POINT, POLYGON, ...      binary           MySQL's internal form: 4-byte little-endian SRID, then WKB
//
// Types not listed (MariaDB UUID, INET4, INET6, VECTOR) are an error.

// Options says how ambiguous MySQL values are interpreted.
type Options struct {
	// ServerTimeZone is the session time zone in which the text protocol
	// prints TIMESTAMP values (nil: UTC). Snapshot connections should set
	// time_zone='+00:00' and leave this nil: a zone with daylight saving
	// prints two instants of the autumn hour alike. DATETIME is a wall
	// clock and never shifted. Binlog TIMESTAMP values are epoch instants
	// and do not depend on it.
	ServerTimeZone *time.Location
	// DatetimeZone is the zone whose wall clocks the server's DATETIME
	// values are. nil (the default): DATETIME is a wall clock without a
	// zone, Iceberg timestamp, never shifted. Set: DATETIME maps to Iceberg
	// timestamptz and each value becomes the UTC instant of its wall clock
	// in this zone; gaps and overlaps are resolved as schema.ZonedInstant
	// says. Column and the decoders must be given the same value.
	// TIMESTAMP is an instant either way and does not depend on it.
	DatetimeZone *time.Location
	// ZeroDate is the treatment of DATE, DATETIME and TIMESTAMP values
	// that are not calendar dates: MySQL's zero date '0000-00-00' and,
	// without NO_ZERO_IN_DATE / with ALLOW_INVALID_DATES, dates such as
	// '2020-05-00' or '2020-02-30':
	//   "error" (the default, also for ""): a *schema.ValueError that
	//            names the value and this option; the pipeline stops,
	//            nothing is written.
	//   "null":  NULL; on a NOT NULL column (Nullable false) NULL is
	//            impossible, so that is a *schema.ValueError too.
	//   "epoch": 1970-01-01 (00:00:00 UTC).
	ZeroDate string
}

// ZeroDate treatments (Options.ZeroDate).
const (
	ZeroDateError = "error"
	ZeroDateNull  = "null"
	ZeroDateEpoch = "epoch"
)

// Column returns the Iceberg column named name of type t under the
// options o (with o.DatetimeZone set, DATETIME maps to timestamptz);
// notNull is IS_NULLABLE = 'NO' (or a key column). The mapping is the
// table above; the column's Source is t. The decoders of the column must
// be built with the same options.
func Column(name string, t Type, notNull bool, o Options) (schema.Column, error) {
	typ, err := t.icebergType()
	if err != nil {
		return schema.Column{}, fmt.Errorf("map column %s: %w", name, err)
	}
	if t.base == "datetime" && o.DatetimeZone != nil {
		typ = iceberg.PrimitiveTypes.TimestampTz
	}
	return schema.Column{Name: name, Type: typ, Nullable: !notNull, Source: t}, nil
}

// typeOf returns the Type of a column Column built.
func typeOf(c schema.Column) (Type, error) {
	t, ok := c.Source.(Type)
	if !ok {
		return Type{}, fmt.Errorf("column %s has source type %v, not a MySQL type (build it with mysqltype.Column)", c.Name, c.Source)
	}
	return t, nil
}

// SelectExpr returns the select-list expression with which a snapshot
// reads column c (quoted is its quoted name, e.g. "`price`") so that the
// text protocol is lossless: the column itself, except FLOAT, which the
// server prints with only 6 significant digits and which is therefore read
// as CAST(quoted AS DOUBLE) (exact; MariaDB 10.4.5+ and MySQL 8.0.17+).
// TextDecoder accepts either text for FLOAT.
func SelectExpr(c schema.Column, quoted string) string {
	if t, err := typeOf(c); err == nil && t.base == "float" {
		return "CAST(" + quoted + " AS DOUBLE)"
	}
	return quoted
}

// icebergType maps t (see the table above).
func (t Type) icebergType() (iceberg.Type, error) {
	if bits, ok := intBits[t.base]; ok {
		switch {
		case bits == 64 && t.unsigned:
			return iceberg.DecimalTypeOf(20, 0), nil
		case bits == 64 || (bits == 32 && t.unsigned):
			return iceberg.PrimitiveTypes.Int64, nil
		}
		return iceberg.PrimitiveTypes.Int32, nil
	}
	switch {
	case charTypes[t.base] && t.charset == "binary":
		return iceberg.PrimitiveTypes.Binary, nil
	case t.textual(), t.base == "json":
		return iceberg.PrimitiveTypes.String, nil
	case byteTypes[t.base], geoTypes[t.base]:
		return iceberg.PrimitiveTypes.Binary, nil
	}
	switch t.base {
	case "decimal", "numeric", "dec", "fixed":
		p, s := t.width(0, 10), t.width(1, 0)
		if p < 1 || s < 0 || s > p {
			return nil, fmt.Errorf("invalid MySQL decimal(%d,%d)", p, s)
		}
		if p > 38 {
			return iceberg.PrimitiveTypes.String, nil
		}
		return iceberg.DecimalTypeOf(p, s), nil
	case "float":
		return iceberg.PrimitiveTypes.Float32, nil
	case "double", "real", "double precision":
		return iceberg.PrimitiveTypes.Float64, nil
	case "bit":
		if n := t.width(0, 1); n < 1 || n > 64 {
			return nil, fmt.Errorf("invalid MySQL bit(%d)", n)
		} else if n == 64 {
			return iceberg.PrimitiveTypes.Binary, nil
		}
		return iceberg.PrimitiveTypes.Int64, nil
	case "bool", "boolean", "year":
		return iceberg.PrimitiveTypes.Int32, nil
	case "date":
		return iceberg.PrimitiveTypes.Date, nil
	case "datetime":
		return iceberg.PrimitiveTypes.Timestamp, nil
	case "timestamp":
		return iceberg.PrimitiveTypes.TimestampTz, nil
	case "time":
		return iceberg.PrimitiveTypes.Int64, nil
	}
	return nil, fmt.Errorf("MySQL type %s is not supported; exclude the table or the column from the pipeline", t.base)
}
