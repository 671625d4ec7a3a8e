// Package registry registers the schemas of Floe's sink tables in a
// schema registry and enforces the registry's compatibility rules before
// a table's schema changes.
//
// # Schemas
//
// AvroSchema renders a sink layout (the source columns followed by Floe's
// metadata columns, as transform.SinkLayout builds it) as an Avro record
// schema with logical types for decimals, dates, times, timestamps and
// uuids. The rendering is deterministic: the same layout always yields
// byte-identical text (pinned by testdata/avro_v1.golden), so re-registering
// an unchanged table adds no version. A renamed column has every earlier
// name as an Avro alias (AvroSchemaWithAliases: the former names an
// Iceberg table's history gives, and schema.Column.RenamedFrom for a
// rename about to be applied), so that the rename resolves under BACKWARD
// and the text is the same before and after the table took the rename.
//
// # Subjects
//
// Each sink table's schema is registered under the subject a SubjectName
// gives it: a template of literal text and the placeholders {pipeline},
// {schema} and {table} (the source schema or database and table),
// {namespace} and {iceberg_table} (the Iceberg table). The default,
// DefaultSubjectName, is "{pipeline}.{schema}.{table}-value": one subject
// per captured table, the Confluent TopicNameStrategy spelling with the
// source table in place of the topic. IcebergSubjectName,
// "{namespace}.{iceberg_table}-value", is the naming of releases before
// the template existed. Clashes finds tables a template maps to one
// subject, which the caller refuses.
//
// # Registries
//
// A Registry checks a schema against its subject's compatibility rule
// (Check) and registers it as the subject's next version (Register),
// returning its ID and version. Registering a schema the subject already
// holds returns the existing ID and version, so a run that crashed between
// registering and changing its table repeats the registration harmlessly.
// A refusal is an *IncompatibleError naming subject, rule and version, and
// changes nothing in the registry. DeleteSubject retires a subject's
// versions (Confluent's soft delete), so that a table dropped and
// snapshotted again is checked against none of them; version numbers go on.
//
// Confluent talks to any registry with the Confluent REST API (Confluent,
// Redpanda, Apicurio's ccompat API, Karapace) through
// github.com/riferrei/srclient; that registry enforces its own rules, and
// the rule configured in Floe is set on each subject Floe creates.
//
// Embedded is used when no external registry is configured. It enforces
// BACKWARD (the default), FORWARD, FULL, their _TRANSITIVE forms and NONE
// with the Avro schema-resolution rules of github.com/hamba/avro/v2 (see
// checkRule), and keeps its subjects in two tables of a SQL database — the
// SQL catalog's own (SQLite or PostgreSQL), so that the registry is as
// durable as the catalog and never lives in the state directory, which is
// a cache. Each subject is one row holding a versioned JSON document
// (format 1, pinned by testdata/subject_v1.golden; a deleted version is
// kept and marked "deleted"); schema IDs are
// allocated in a second table, one per distinct schema text.
//
// See docs/architecture.md (the package map, and where a change's new
// layout is registered on its way to Iceberg).
package registry
