package ledger

import (
	"fmt"
	"strconv"
)

// Table property keys (Iceberg table properties, not snapshot summary
// properties) naming the schema-registry entry of the table's current
// schema. They are set with the schema they describe: when the table is
// created, in the catalog commit of each schema evolution, and at start
// when they are missing or name another entry (a registry configured
// later, a changed registry.subject-name). Their values are the subject
// and the registry's own decimal numbers, pinned by
// testdata/tableprops.golden.
const (
	PropRegistrySubject  = "floe.registry.subject"
	PropRegistrySchemaID = "floe.registry.schema-id"
	PropRegistryVersion  = "floe.registry.version"
)

// TableProps returns the table properties recording e.
func (e RegistryEntry) TableProps() map[string]string {
	return map[string]string{
		PropRegistrySubject:  e.Subject,
		PropRegistrySchemaID: strconv.Itoa(e.ID),
		PropRegistryVersion:  strconv.Itoa(e.Version),
	}
}

// RegistryOf returns the registry entry table properties props record;
// nil when they record none. A partial or malformed record is an error.
func RegistryOf(props map[string]string) (*RegistryEntry, error) {
	subject, hasSubject := props[PropRegistrySubject]
	id, hasID := props[PropRegistrySchemaID]
	version, hasVersion := props[PropRegistryVersion]
	if !hasSubject && !hasID && !hasVersion {
		return nil, nil
	}
	if !hasSubject || !hasID || !hasVersion {
		return nil, fmt.Errorf("table properties %s, %s and %s are not all set", PropRegistrySubject, PropRegistrySchemaID, PropRegistryVersion)
	}
	e := RegistryEntry{Subject: subject}
	var err error
	if e.ID, err = strconv.Atoi(id); err != nil {
		return nil, fmt.Errorf("table property %s: %w", PropRegistrySchemaID, err)
	}
	if e.Version, err = strconv.Atoi(version); err != nil {
		return nil, fmt.Errorf("table property %s: %w", PropRegistryVersion, err)
	}
	return &e, nil
}
