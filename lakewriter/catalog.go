package lakewriter

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	"github.com/apache/iceberg-go/table"
	_ "github.com/jackc/pgx/v5/stdlib" // registers database/sql driver "pgx"
	_ "modernc.org/sqlite"             // registers database/sql driver "sqlite"

	"github.com/floe-cdc/floe/schema"
)

// ErrNoSuchTable is returned (wrapped) by LoadTable when the catalog has no
// table under the given identifier.
var ErrNoSuchTable = errors.New("no such table")

// Options configures Open.
type Options struct {
	// CatalogType is the Iceberg catalog kind; only "sql" (the default when
	// empty) is supported so far.
	CatalogType string
	// CatalogName is the catalog_name stored in the SQL catalog rows;
	// default "floe".
	CatalogName string
	// URI locates the catalog database: sqlite:///abs/path.db,
	// sqlite:relative.db, or postgres://... / postgresql://...
	URI string
	// Warehouse is the root under which new tables are placed: a local
	// directory or a file:// URI.
	Warehouse string
	// Logger receives debug lines about commits; nil discards them.
	Logger *slog.Logger
}

// Catalog is an open Iceberg catalog. It is safe for concurrent use.
type Catalog struct {
	cat       *sqlcat.Catalog
	db        *sql.DB
	name      string
	warehouse string
	log       *slog.Logger
}

// Ident names a table: Namespace (dots separate levels) and Name.
type Ident struct {
	Namespace, Name string
}

func (id Ident) String() string { return id.Namespace + "." + id.Name }

func (id Ident) iceberg() table.Identifier {
	return append(strings.Split(id.Namespace, "."), id.Name)
}

// Open connects to the catalog database, creates the catalog tables when
// they are missing and prepares the warehouse directory.
func Open(ctx context.Context, opts Options) (*Catalog, error) {
	typ := opts.CatalogType
	if typ == "" {
		typ = "sql"
	}
	if typ != "sql" {
		return nil, fmt.Errorf("sink.catalog.type: %s is not supported yet; use sql", typ)
	}
	name := opts.CatalogName
	if name == "" {
		name = "floe"
	}
	warehouse, err := warehouseURI(opts.Warehouse)
	if err != nil {
		return nil, err
	}
	driver, dsn, dialect, err := catalogDSN(opts.URI)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open catalog database: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to catalog database %s: %w", redactURI(opts.URI), err)
	}
	cat, err := sqlcat.NewCatalog(name, db, dialect, iceberg.Properties{
		"warehouse":           warehouse,
		"init_catalog_tables": "true",
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initialise sql catalog: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Catalog{cat: cat, db: db, name: name, warehouse: warehouse, log: log}, nil
}

// Close releases the catalog database connections. Tables obtained from
// the catalog must not be used afterwards.
func (c *Catalog) Close() error {
	err := c.cat.Close()
	return errors.Join(err, c.db.Close())
}

// catalogDSN maps a catalog URI to a database/sql driver, DSN and dialect.
func catalogDSN(uri string) (driver, dsn string, dialect sqlcat.SupportedDialect, err error) {
	switch {
	case uri == "":
		return "", "", "", errors.New("sink.catalog.uri: is empty; use sqlite:///path/catalog.db or postgres://user@host/db")
	case strings.HasPrefix(uri, "postgres://"), strings.HasPrefix(uri, "postgresql://"):
		return "pgx", uri, sqlcat.Postgres, nil
	case strings.HasPrefix(uri, "sqlite:"):
		p := strings.TrimPrefix(uri, "sqlite:")
		if strings.HasPrefix(p, "//") {
			p = strings.TrimPrefix(p, "//")
			if !strings.HasPrefix(p, "/") {
				return "", "", "", fmt.Errorf("sink.catalog.uri: %q has a host part; use sqlite:///absolute/path.db or sqlite:relative.db", uri)
			}
		}
		if p == "" || strings.ContainsAny(p, "?#") {
			return "", "", "", fmt.Errorf("sink.catalog.uri: %q is not a usable SQLite file path", uri)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", "", "", fmt.Errorf("sink.catalog.uri: resolve %q: %w", p, err)
		}
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			return "", "", "", fmt.Errorf("sink.catalog.uri: create directory for %s: %w", abs, err)
		}
		// WAL lets readers run beside the writer; busy_timeout waits for a
		// concurrent writer instead of failing; immediate transactions take
		// the write lock up front so a read-then-write transaction never
		// fails with SQLITE_BUSY on upgrade.
		dsn := "file:" + abs + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		return "sqlite", dsn, sqlcat.SQLite, nil
	default:
		return "", "", "", fmt.Errorf("sink.catalog.uri: %q is not supported; use sqlite:///path/catalog.db or postgres://user@host/db", redactURI(uri))
	}
}

// warehouseURI turns a local path or file:// URI into an absolute file://
// URI and creates the directory.
func warehouseURI(w string) (string, error) {
	if w == "" {
		return "", errors.New("sink.warehouse: is empty; use a local directory")
	}
	p := w
	if i := strings.Index(w, "://"); i > 0 {
		scheme := w[:i]
		switch scheme {
		case "file":
			u, err := url.Parse(w)
			if err != nil {
				return "", fmt.Errorf("sink.warehouse: parse %q: %w", w, err)
			}
			if u.Host != "" && u.Host != "localhost" {
				return "", fmt.Errorf("sink.warehouse: %q names a host; use file:///absolute/path", w)
			}
			p = u.Path
		case "s3", "s3a", "gs", "abfs", "abfss":
			return "", fmt.Errorf("sink.warehouse: %s:// is not supported yet; use a local directory", scheme)
		default:
			return "", fmt.Errorf("sink.warehouse: scheme %q is not supported; use a local directory", scheme)
		}
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("sink.warehouse: resolve %q: %w", p, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("sink.warehouse: create %s: %w", abs, err)
	}
	return "file://" + filepath.ToSlash(abs), nil
}

// redactURI hides a password in a connection URI for messages.
func redactURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		return uri
	}
	return u.Redacted()
}

// EnsureTable returns the table id, creating it when missing: format
// version 2, unpartitioned, zstd Parquet, columns in layout order,
// non-nullable columns required, identifier fields = identifier (ordinals
// into layout.Columns; each must be non-nullable and not floating point).
// An existing table must match layout exactly (names, types,
// nullability, identifier fields) or an error names the difference.
func (c *Catalog) EnsureTable(ctx context.Context, id Ident, layout *schema.Table, identifier []int) (*Table, error) {
	sc, err := icebergSchema(layout, identifier)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", id, err)
	}
	if err := c.ensureNamespace(ctx, id); err != nil {
		return nil, err
	}
	tbl, err := c.cat.LoadTable(ctx, id.iceberg())
	if errors.Is(err, catalog.ErrNoSuchTable) {
		tbl, err = c.cat.CreateTable(ctx, id.iceberg(), sc, catalog.WithProperties(tableProperties()))
		if errors.Is(err, catalog.ErrTableAlreadyExists) {
			tbl, err = c.cat.LoadTable(ctx, id.iceberg())
		} else if err == nil {
			c.log.Info("created iceberg table", "table", id.String(), "location", tbl.Location())
		}
	}
	if err != nil {
		return nil, fmt.Errorf("ensure table %s: %w", id, err)
	}
	if err := compareSchema(tbl.Schema(), sc, layout); err != nil {
		return nil, fmt.Errorf("table %s: %w (schema evolution is not supported yet)", id, err)
	}
	return newTable(c, id, layout, tbl)
}

// LoadTable opens an existing table; its Layout is derived from the
// table's current schema (Key = identifier fields). A missing table is
// reported with an error matching ErrNoSuchTable.
func (c *Catalog) LoadTable(ctx context.Context, id Ident) (*Table, error) {
	tbl, err := c.cat.LoadTable(ctx, id.iceberg())
	if errors.Is(err, catalog.ErrNoSuchTable) || errors.Is(err, catalog.ErrNoSuchNamespace) {
		return nil, fmt.Errorf("load table %s: %w", id, ErrNoSuchTable)
	}
	if err != nil {
		return nil, fmt.Errorf("load table %s: %w", id, err)
	}
	layout, err := layoutOf(tbl.Schema())
	if err != nil {
		return nil, fmt.Errorf("load table %s: %w", id, err)
	}
	return newTable(c, id, layout, tbl)
}

func (c *Catalog) ensureNamespace(ctx context.Context, id Ident) error {
	ns := id.iceberg()[:len(id.iceberg())-1]
	ok, err := c.cat.CheckNamespaceExists(ctx, ns)
	if err != nil {
		return fmt.Errorf("check namespace %s: %w", id.Namespace, err)
	}
	if ok {
		return nil
	}
	err = c.cat.CreateNamespace(ctx, ns, nil)
	if err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
		return fmt.Errorf("create namespace %s: %w", id.Namespace, err)
	}
	return nil
}

// tableFormatVersion is stored as table property floe.table-version on
// every table Floe creates; bump it when the table layout conventions
// change.
const tableFormatVersion = "1"

// tableProperties are the properties of a newly created table.
func tableProperties() iceberg.Properties {
	return iceberg.Properties{
		table.PropertyFormatVersion: "2",
		table.ParquetCompressionKey: "zstd",
		"floe.table-version":        tableFormatVersion,
		table.WriteDeleteModeKey:    table.WriteModeCopyOnWrite,
		table.CommitNumRetriesKey:   "0", // lakewriter retries itself (see Commit)
	}
}
