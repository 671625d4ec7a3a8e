package postgres

import (
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgtype"
)

var builtinTypes = sync.OnceValue(pgtype.NewMap)

// typeName renders a type OID and modifier for messages as PostgreSQL
// writes the type (int4, varchar(20), numeric(10,2), timestamptz(3)): a
// Relation message carries only the OID and the modifier. A type that is
// not built in (an enum, a domain, an extension's type) is named by its
// OID.
func typeName(oid uint32, mod int32) string {
	t, ok := builtinTypes().TypeForOID(oid)
	if !ok {
		if mod >= 0 {
			return fmt.Sprintf("the type with OID %d (modifier %d)", oid, mod)
		}
		return fmt.Sprintf("the type with OID %d", oid)
	}
	if mod < 0 {
		return t.Name
	}
	switch t.Name {
	case "varchar", "bpchar":
		return fmt.Sprintf("%s(%d)", t.Name, mod-4)
	case "numeric":
		return fmt.Sprintf("numeric(%d,%d)", (mod-4)>>16, (mod-4)&0xffff)
	case "bit", "varbit", "time", "timetz", "timestamp", "timestamptz":
		return fmt.Sprintf("%s(%d)", t.Name, mod)
	}
	return fmt.Sprintf("%s (modifier %d)", t.Name, mod)
}
