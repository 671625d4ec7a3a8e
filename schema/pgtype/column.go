package pgtype

import (
	"fmt"

	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/schema"
)

// PostgreSQL type mapping.
//
// Column maps a PostgreSQL column type to the Iceberg type Floe writes,
// and TextDecoder turns the type's text output into the canonical value of
// that Iceberg type (see schema.Row). Built-in types are recognised by OID
// (by typname when OID is 0; citext by typname always), enums and arrays
// by Type.Kind. A domain arrives already resolved to its base type and
// maps like that base type.
//
//	PostgreSQL                      Iceberg          notes
//	int2, int4                      int
//	int8, oid                       long
//	numeric(p,s), p<=38, 0<=s<=p    decimal(p,s)
//	numeric(p,s), s<0               decimal(p-s,0)   when p-s <= 38, else string
//	numeric(p,s), s>p               decimal(s,s)     when s <= 38, else string
//	numeric(p,s), p>38              string           the exact text
//	numeric (unconstrained)         decimal(38,18)   a value that does not fit is a ValueError; see override.go
//	float4                          float            NaN and ±Infinity kept
//	float8                          double           NaN and ±Infinity kept
//	bool                            boolean
//	text, varchar, bpchar, name,
//	citext, "char"                  string           bpchar keeps its padding
//	bytea                           binary           needs bytea_output=hex
//	date                            date             BC and years > 9999 kept; ±infinity is a ValueError
//	time                            time             24:00:00 is a ValueError
//	timetz                          string           keeps the offset
//	timestamp                       timestamp        wall clock; ±infinity is a ValueError
//	timestamptz                     timestamptz      the instant in UTC; ±infinity is a ValueError
//	uuid                            uuid
//	json, jsonb, xml                string
//	inet, cidr, macaddr, macaddr8   string
//	interval                        string           ISO 8601 (IntervalStyle=iso_8601)
//	money                           decimal(19,2)    needs lc_monetary=C
//	enum                            string           the label
//	bit, varbit                     string           e.g. "0101"
//	any other base type             string           its text output (tsvector, point, ...)
//	T[] (one dimension)             list<T'>         T' = mapping of T, elements optional;
//	                                                 multi-dimensional values and non-default
//	                                                 lower bounds are ValueErrors
//
// Nested field IDs: a list type is returned as &iceberg.ListType with
// ElementID 0 (unassigned). iceberg-go ignores IDs <= 0 when it checks a
// schema for duplicate IDs, and whoever creates the Iceberg table must
// assign real IDs (lakewriter does, e.g. with iceberg.AssignFreshSchemaIDs).
// ListType.Equals compares ElementID, so compare a mapped type with a
// table's type with schema.SameType, which ignores nested IDs.

// Built-in PostgreSQL type OIDs (pg_type.oid; stable across versions).
const (
	oidBool        = 16
	oidBytea       = 17
	oidChar        = 18
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt2Vector  = 22
	oidInt4        = 23
	oidText        = 25
	oidOID         = 26
	oidOIDVector   = 30
	oidJSON        = 114
	oidXML         = 142
	oidPoint       = 600
	oidBox         = 603
	oidCIDR        = 650
	oidFloat4      = 700
	oidFloat8      = 701
	oidMacaddr8    = 774
	oidMoney       = 790
	oidMacaddr     = 829
	oidInet        = 869
	oidBpchar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidInterval    = 1186
	oidTimetz      = 1266
	oidBit         = 1560
	oidVarbit      = 1562
	oidNumeric     = 1700
	oidUUID        = 2950
	oidTSVector    = 3614
	oidJSONB       = 3802
)

// builtinByName maps typnames to OIDs for callers that only know names
// (OID 0) and for extension types whose OID differs per database.
var builtinByName = map[string]uint32{
	"bool": oidBool, "bytea": oidBytea, "char": oidChar, "name": oidName,
	"int8": oidInt8, "int2": oidInt2, "int4": oidInt4, "text": oidText,
	"oid": oidOID, "json": oidJSON, "xml": oidXML, "point": oidPoint,
	"box": oidBox, "cidr": oidCIDR, "float4": oidFloat4, "float8": oidFloat8,
	"macaddr8": oidMacaddr8, "money": oidMoney, "macaddr": oidMacaddr,
	"inet": oidInet, "bpchar": oidBpchar, "varchar": oidVarchar,
	"date": oidDate, "time": oidTime, "timestamp": oidTimestamp,
	"timestamptz": oidTimestamptz, "interval": oidInterval, "timetz": oidTimetz,
	"bit": oidBit, "varbit": oidVarbit, "numeric": oidNumeric, "uuid": oidUUID,
	"tsvector": oidTSVector, "jsonb": oidJSONB,
}

// arrayElem maps the OIDs of the built-in array types to their element
// OIDs, so an array Type without Elem still maps.
var arrayElem = map[uint32]uint32{
	1000: oidBool, 1001: oidBytea, 1002: oidChar, 1003: oidName, 1005: oidInt2,
	1007: oidInt4, 1009: oidText, 1014: oidBpchar, 1015: oidVarchar, 1016: oidInt8,
	1017: oidPoint, 1020: oidBox, 1021: oidFloat4, 1022: oidFloat8, 1028: oidOID,
	1231: oidNumeric, 1182: oidDate, 1183: oidTime, 1115: oidTimestamp,
	1185: oidTimestamptz, 1187: oidInterval, 1270: oidTimetz, 2951: oidUUID,
	199: oidJSON, 3807: oidJSONB, 791: oidMoney, 1041: oidInet, 651: oidCIDR,
	1040: oidMacaddr, 775: oidMacaddr8, 1561: oidBit, 1563: oidVarbit, 143: oidXML,
	3643: oidTSVector,
}

// builtinTypes are the Iceberg types of the built-in types that map to
// neither string nor, as numeric does, a type of their modifier.
var builtinTypes = map[uint32]iceberg.Type{
	oidInt2: iceberg.PrimitiveTypes.Int32, oidInt4: iceberg.PrimitiveTypes.Int32,
	oidInt8: iceberg.PrimitiveTypes.Int64, oidOID: iceberg.PrimitiveTypes.Int64,
	oidFloat4: iceberg.PrimitiveTypes.Float32, oidFloat8: iceberg.PrimitiveTypes.Float64,
	oidBool: iceberg.PrimitiveTypes.Bool, oidBytea: iceberg.PrimitiveTypes.Binary,
	oidDate: iceberg.PrimitiveTypes.Date, oidTime: iceberg.PrimitiveTypes.Time,
	oidTimestamp: iceberg.PrimitiveTypes.Timestamp, oidTimestamptz: iceberg.PrimitiveTypes.TimestampTz,
	oidUUID: iceberg.PrimitiveTypes.UUID, oidMoney: iceberg.DecimalTypeOf(19, 2),
}

// Precision and scale used for numeric columns declared without them.
const (
	unconstrainedPrecision = 38
	unconstrainedScale     = 18
)

// Column returns the Iceberg column for a PostgreSQL column named name of
// type t; notNull is pg_attribute.attnotnull (or a key column). The
// mapping is the table above; the column's Source is t. It fails only for
// an array whose element type is unknown or itself an array.
func Column(name string, t Type, notNull bool) (schema.Column, error) {
	typ, err := icebergType(t)
	if err != nil {
		return schema.Column{}, fmt.Errorf("map column %s: %w", name, err)
	}
	return schema.Column{Name: name, Type: typ, Nullable: !notNull, Source: t}, nil
}

// icebergType maps one type (see Column).
func icebergType(t Type) (iceberg.Type, error) {
	if t.OID == oidInt2Vector || t.OID == oidOIDVector {
		// Catalog vector types look like arrays in pg_type but print as
		// space-separated text, not {...}.
		return iceberg.PrimitiveTypes.String, nil
	}
	switch t.Kind {
	case KindEnum:
		return iceberg.PrimitiveTypes.String, nil
	case KindArray:
		return listType(t)
	}
	if _, ok := arrayElem[t.OID]; ok {
		return listType(Type{Name: t.Name, OID: t.OID, Modifier: t.Modifier, Kind: KindArray})
	}
	oid := builtinOID(t)
	if oid == oidNumeric {
		return numericType(t.Modifier), nil
	}
	if typ, ok := builtinTypes[oid]; ok {
		return typ, nil
	}
	// text, varchar, bpchar, name, citext, "char", timetz, json, jsonb, xml,
	// inet, cidr, macaddr(8), interval, bit, varbit and every other base
	// type: the exact text output.
	return iceberg.PrimitiveTypes.String, nil
}

// listType maps array type t to a list of its element's mapping.
func listType(t Type) (iceberg.Type, error) {
	elem, err := arrayElemType(t)
	if err != nil {
		return nil, err
	}
	if elem.Kind == KindArray {
		return nil, fmt.Errorf("array of arrays %s is not a PostgreSQL type", t)
	}
	et, err := icebergType(elem)
	if err != nil {
		return nil, err
	}
	return &iceberg.ListType{ElementID: 0, Element: et, ElementRequired: false}, nil
}

// numericType maps numeric(p,s) (see the table above).
func numericType(mod int32) iceberg.Type {
	prec, scale, ok := numericTypmod(mod)
	if !ok {
		return iceberg.DecimalTypeOf(unconstrainedPrecision, unconstrainedScale)
	}
	switch {
	case scale < 0:
		prec, scale = prec-scale, 0
	case scale > prec:
		prec = scale
	}
	if prec < 1 || prec > 38 {
		return iceberg.PrimitiveTypes.String
	}
	return iceberg.DecimalTypeOf(prec, scale)
}
