package capture

// KeyOverride names the key columns of a table without a primary key (a
// route's primary-key) and the configuration field that names them, so
// that problems point at it ("route[2].primary-key").
//
// Contract for sources: a table with a primary key is keyed by it, so an
// override naming other columns is reported rather than ignored;
// otherwise the columns must be NOT NULL and a unique index must cover
// exactly them, or two source rows could share a key and collapse into
// one Iceberg row (upsert keeps one row per key; TOAST fill-in and
// snapshot reconciliation match rows by key in both modes). Discovery
// reports an override that breaks this as a Problem naming Field.
type KeyOverride struct {
	Columns []string
	Field   string // e.g. "route[2].primary-key"; "" reads as "route"
}

// FieldOr is o.Field, or "route" when unset.
func (o KeyOverride) FieldOr() string {
	if o.Field == "" {
		return "route"
	}
	return o.Field
}
