package registry

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Dialect is the SQL dialect of the database the embedded registry keeps
// its subjects in.
type Dialect string

// The supported dialects: the SQL catalog's databases.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// documentFormat is the version of the subject document (see document).
// Bump it on any change to the document's fields or meaning, and keep
// reading the older versions.
const documentFormat = 1

// document is one subject as the embedded registry persists it: one row
// of floe_schema_registry_subjects, the JSON of this struct (pinned by
// testdata/subject_v1.golden).
type document struct {
	Format        int           `json:"format"`
	Subject       string        `json:"subject"`
	Compatibility Compatibility `json:"compatibility"`
	// Versions are in registration order; Versions[i].Version == i+1.
	Versions []version `json:"versions"`
}

// The tables. Schema IDs are allocated in floe_schema_registry_schemas,
// one row per distinct schema text (keyed by its SHA-256), so that a
// schema registered under two subjects has one ID.
const (
	ddlSchemas = `CREATE TABLE IF NOT EXISTS floe_schema_registry_schemas (
	id INTEGER PRIMARY KEY,
	fingerprint VARCHAR(64) NOT NULL UNIQUE,
	schema_text TEXT NOT NULL)`
	ddlSubjects = `CREATE TABLE IF NOT EXISTS floe_schema_registry_subjects (
	subject VARCHAR(1024) PRIMARY KEY,
	document TEXT NOT NULL)`
)

// Embedded is the registry Floe uses when no external one is configured.
// It keeps its subjects in two tables of a SQL database (in practice the
// SQL catalog's own database, so the registry lives as long as the
// catalog does; the state directory is a cache and is not used). Each
// registration is one database transaction holding the registry's write
// lock, so several processes sharing the database allocate IDs and
// versions without gaps or duplicates. It is safe for concurrent use.
type Embedded struct {
	db      *sql.DB
	dialect Dialect
	compat  Compatibility
	mu      sync.Mutex // serialises this process's registrations
}

// OpenEmbedded creates the registry's tables in db when they are missing
// and returns a registry that sets compat on new subjects ("" means
// DefaultCompatibility). db stays the caller's: Close does not close it.
func OpenEmbedded(ctx context.Context, db *sql.DB, dialect Dialect, compat Compatibility) (*Embedded, error) {
	if dialect != SQLite && dialect != Postgres {
		return nil, fmt.Errorf("embedded schema registry: dialect %q is not supported; use sqlite or postgres", dialect)
	}
	if compat == "" {
		compat = DefaultCompatibility
	}
	if _, err := ParseCompatibility(string(compat)); err != nil {
		return nil, fmt.Errorf("embedded schema registry: %w", err)
	}
	for _, ddl := range []string{ddlSchemas, ddlSubjects} {
		if _, err := db.ExecContext(ctx, ddl); err != nil {
			return nil, fmt.Errorf("embedded schema registry: create tables: %w", err)
		}
	}
	return &Embedded{db: db, dialect: dialect, compat: compat}, nil
}

// Close implements Registry; the database stays open (it is the caller's).
func (e *Embedded) Close() error { return nil }

// q rewrites the '?' placeholders of query for the dialect.
func (e *Embedded) q(query string) string {
	if e.dialect != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// load reads subject's document; ok is false when the subject is new.
func (e *Embedded) load(ctx context.Context, db querier, subject string) (doc document, ok bool, err error) {
	var text string
	err = db.QueryRowContext(ctx, e.q(`SELECT document FROM floe_schema_registry_subjects WHERE subject = ?`), subject).Scan(&text)
	if errors.Is(err, sql.ErrNoRows) {
		return document{}, false, nil
	}
	if err != nil {
		return document{}, false, fmt.Errorf("read subject %s: %w", subject, err)
	}
	doc, err = decodeDocument([]byte(text))
	if err != nil {
		return document{}, false, fmt.Errorf("subject %s: %w", subject, err)
	}
	if doc.Subject != subject {
		return document{}, false, fmt.Errorf("subject %s: its document names subject %s", subject, doc.Subject)
	}
	return doc, true, nil
}

// decodeDocument parses a persisted subject document, refusing formats
// this build does not know.
func decodeDocument(b []byte) (document, error) {
	var doc document
	if err := json.Unmarshal(b, &doc); err != nil {
		return document{}, fmt.Errorf("decode registry document: %w", err)
	}
	if doc.Format != documentFormat {
		return document{}, fmt.Errorf("registry document has format %d; this build reads format %d (upgrade floe)", doc.Format, documentFormat)
	}
	for i, v := range doc.Versions {
		if v.Version != i+1 {
			return document{}, fmt.Errorf("registry document: version %d is at position %d", v.Version, i+1)
		}
	}
	return doc, nil
}

// find returns the live version of doc whose text is s.
func (doc document) find(s Schema) (version, bool) {
	for _, v := range doc.Versions {
		if v.Schema == s && !v.Deleted {
			return v, true
		}
	}
	return version{}, false
}

// live returns the versions not deleted, oldest first.
func (doc document) live() []version {
	var out []version
	for _, v := range doc.Versions {
		if !v.Deleted {
			out = append(out, v)
		}
	}
	return out
}

// Check implements Registry.
func (e *Embedded) Check(ctx context.Context, subject string, s Schema) error {
	doc, ok, err := e.load(ctx, e.db, subject)
	if err != nil {
		return fmt.Errorf("embedded schema registry: %w", err)
	}
	if !ok {
		_, err := parseAvro(s)
		return err
	}
	if _, ok := doc.find(s); ok {
		return nil
	}
	return checkRule(subject, doc.Compatibility, doc.live(), s)
}

// Register implements Registry.
func (e *Embedded) Register(ctx context.Context, subject string, s Schema) (Registered, error) {
	if _, err := parseAvro(s); err != nil {
		return Registered{}, fmt.Errorf("register subject %s: %w", subject, err)
	}
	var reg Registered
	err := e.inTx(ctx, func(conn *sql.Conn) error {
		var err error
		reg, err = e.register(ctx, conn, subject, s)
		return err
	})
	if err != nil && !IsIncompatible(err) {
		err = fmt.Errorf("register subject %s: %w", subject, err)
	}
	return reg, err
}

// DeleteSubject implements Registry: its versions are marked deleted
// and kept in the document.
func (e *Embedded) DeleteSubject(ctx context.Context, subject string) error {
	err := e.inTx(ctx, func(conn *sql.Conn) error {
		doc, ok, err := e.load(ctx, conn, subject)
		if err != nil || !ok {
			return err
		}
		for i := range doc.Versions {
			doc.Versions[i].Deleted = true
		}
		text, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		_, err = conn.ExecContext(ctx, e.q(`UPDATE floe_schema_registry_subjects SET document = ? WHERE subject = ?`), string(text), subject)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete subject %s: %w", subject, err)
	}
	return nil
}

// inTx runs f in a transaction holding the registry's write lock (see
// begin) and commits when f succeeds.
func (e *Embedded) inTx(ctx context.Context, f func(*sql.Conn) error) (err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := e.begin(ctx, conn); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			// The rollback's own failure adds nothing: the connection is
			// closed and the transaction ends with it.
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	if err = f(conn); err != nil {
		return err
	}
	if _, err = conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// begin opens a transaction on conn that holds the registry's write lock
// until it ends: SQLite's IMMEDIATE transaction takes the database write
// lock up front; PostgreSQL locks the subjects table against other
// registrations (readers go on).
func (e *Embedded) begin(ctx context.Context, conn *sql.Conn) error {
	if e.dialect == SQLite {
		_, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE")
		return err
	}
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "LOCK TABLE floe_schema_registry_subjects IN SHARE ROW EXCLUSIVE MODE"); err != nil {
		_, _ = conn.ExecContext(ctx, "ROLLBACK")
		return err
	}
	return nil
}

// register is Register inside the transaction on conn.
func (e *Embedded) register(ctx context.Context, conn *sql.Conn, subject string, s Schema) (Registered, error) {
	doc, existed, err := e.load(ctx, conn, subject)
	if err != nil {
		return Registered{}, err
	}
	if v, ok := doc.find(s); ok {
		return Registered{ID: v.ID, Version: v.Version}, nil
	}
	if !existed {
		doc = document{Format: documentFormat, Subject: subject, Compatibility: e.compat}
	}
	if err := checkRule(subject, doc.Compatibility, doc.live(), s); err != nil {
		return Registered{}, err
	}
	id, err := e.schemaID(ctx, conn, s)
	if err != nil {
		return Registered{}, err
	}
	v := version{Version: len(doc.Versions) + 1, ID: id, Schema: s}
	doc.Versions = append(doc.Versions, v)
	text, err := json.Marshal(doc)
	if err != nil {
		return Registered{}, err
	}
	query := `UPDATE floe_schema_registry_subjects SET document = ? WHERE subject = ?`
	args := []any{string(text), subject}
	if !existed {
		query = `INSERT INTO floe_schema_registry_subjects (document, subject) VALUES (?, ?)`
	}
	if _, err := conn.ExecContext(ctx, e.q(query), args...); err != nil {
		return Registered{}, fmt.Errorf("write version %d: %w", v.Version, err)
	}
	return Registered{ID: id, Version: v.Version}, nil
}

// schemaID returns the ID of schema text s, allocating the next one when
// s is new to the registry.
func (e *Embedded) schemaID(ctx context.Context, conn *sql.Conn, s Schema) (int, error) {
	sum := sha256.Sum256([]byte(s))
	fp := hex.EncodeToString(sum[:])
	var id int
	err := conn.QueryRowContext(ctx, e.q(`SELECT id FROM floe_schema_registry_schemas WHERE fingerprint = ?`), fp).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("look up schema id: %w", err)
	}
	if err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM floe_schema_registry_schemas`).Scan(&id); err != nil {
		return 0, fmt.Errorf("allocate schema id: %w", err)
	}
	if _, err := conn.ExecContext(ctx, e.q(`INSERT INTO floe_schema_registry_schemas (id, fingerprint, schema_text) VALUES (?, ?, ?)`), id, fp, string(s)); err != nil {
		return 0, fmt.Errorf("store schema id %d: %w", id, err)
	}
	return id, nil
}
