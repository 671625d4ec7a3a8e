package lakewriter

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	"github.com/apache/iceberg-go/table"
	"github.com/aws/aws-sdk-go-v2/aws"
	_ "github.com/jackc/pgx/v5/stdlib" // registers database/sql driver "pgx"
	_ "modernc.org/sqlite"             // registers database/sql driver "sqlite"

	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/schema/problem"
)

// ErrNoSuchTable is returned (wrapped) by LoadTable when the catalog has no
// table under the given identifier.
var ErrNoSuchTable = errors.New("no such table")

// Catalog is an open Iceberg catalog. It is safe for concurrent use.
type Catalog struct {
	cat       catalog.Catalog
	db        *sql.DB // sql catalogs only
	name      string
	warehouse string
	log       *slog.Logger
	// aws is the S3 configuration with the bounded HTTP client (nil when
	// no S3 can be involved); see ioContext.
	aws *aws.Config

	locks     sync.Map // Ident.String() -> *sync.Mutex, see tableLock
	replacing sync.Map // Ident.String() -> *fileMarks, see Table.ReplacingFiles
	// followSlots: Ident.String() -> *followSlot, see Table.RewriteLanded
	followSlots sync.Map

	// file is the SQLite catalog's database file and id its identity
	// (device and inode) when it was opened; "" for other catalogs.
	file string
	id   os.FileInfo

	// deleteMode is Options.DeleteMode; indexKeys, the keys every
	// table's key index may hold together, Options.PositionDeletesMaxKeys.
	deleteMode string
	indexKeys  *keyBudget
}

// tableLock returns the mutex that serialises writers of table id in
// this process, shared by every Table opened for it.
func (c *Catalog) tableLock(id Ident) *sync.Mutex {
	mu, _ := c.locks.LoadOrStore(id.String(), &sync.Mutex{})
	return mu.(*sync.Mutex)
}

// Ident names a table: Namespace (dots separate levels) and Name.
type Ident struct {
	Namespace, Name string
}

func (id Ident) String() string { return id.Namespace + "." + id.Name }

func (id Ident) iceberg() table.Identifier {
	return append(strings.Split(id.Namespace, "."), id.Name)
}

// Open fills the zero fields of opts from Defaults(), refuses Options
// that Validate faults (every problem at once, as a problem.List), then
// connects to the catalog database, creates the catalog tables when they
// are missing and prepares the warehouse directory.
func Open(ctx context.Context, opts Options) (*Catalog, error) {
	opts = opts.withDefaults()
	if problems := opts.Validate(); len(problems) > 0 {
		return nil, problem.List(problems)
	}
	typ, name, log := opts.CatalogType, opts.CatalogName, opts.Logger
	props := opts.S3.properties()
	switch typ {
	case "sql":
	case "rest", "glue":
		return openService(ctx, opts, props)
	default:
		return nil, fmt.Errorf("sink.catalog.type: %s is not supported; use sql, rest or glue", typ)
	}
	warehouse, err := warehouseURI(opts.Warehouse)
	if err != nil {
		return nil, err
	}
	var awsCfg *aws.Config
	if isS3(warehouse) {
		if err := checkFileIO(ctx, props, warehouse); err != nil {
			return nil, err
		}
		if awsCfg, err = s3Config(ctx, props, opts.Timeout); err != nil {
			return nil, err
		}
	}
	driver, dsn, dialect, err := catalogDSN(opts.URI)
	if err != nil {
		return nil, err
	}
	file := ""
	if driver == "sqlite" {
		file = strings.TrimPrefix(dsn[:strings.IndexByte(dsn, '?')], "file:")
	}
	var db *sql.DB
	if driver == "pgx" {
		db, err = openPostgresDB(dsn, opts.Timeout)
	} else {
		db, err = sql.Open(driver, dsn)
	}
	if err != nil {
		return nil, fmt.Errorf("open catalog database: %w", err)
	}
	if err := pingCatalog(ctx, db.PingContext); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to catalog database %s: %w", redactURI(opts.URI), err)
	}
	props["warehouse"] = warehouse
	props["init_catalog_tables"] = "true"
	cat, err := sqlcat.NewCatalog(name, db, dialect, props)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initialise sql catalog: %w", err)
	}
	c := &Catalog{cat: cat, db: db, name: name, warehouse: warehouse, log: log, aws: awsCfg, file: file,
		deleteMode: opts.DeleteMode, indexKeys: &keyBudget{max: int64(opts.PositionDeletesMaxKeys)}}
	if file != "" {
		if c.id, err = os.Stat(file); err != nil {
			db.Close()
			return nil, fmt.Errorf("sink.catalog.uri: %w", err)
		}
	}
	return c, nil
}

// openService opens a REST or Glue catalog (opts.CatalogType): the
// service keeps the catalog, and the S3 configuration Open's props
// describe reaches the table files. A Glue catalog names its warehouse as
// warehouseURI does; a REST catalog's warehouse is passed on as written.
func openService(ctx context.Context, opts Options, props iceberg.Properties) (*Catalog, error) {
	glue := opts.CatalogType == "glue"
	warehouse := opts.Warehouse
	if glue {
		var err error
		if warehouse, err = warehouseURI(opts.Warehouse); err != nil {
			return nil, err
		}
	}
	awsCfg, err := s3Config(ctx, props, opts.Timeout)
	if err != nil {
		return nil, err
	}
	var cat catalog.Catalog
	if glue {
		cat, err = openGlue(ctx, opts, warehouse, props)
	} else {
		cat, err = openREST(ctx, opts.CatalogName, opts, props)
	}
	if err != nil {
		return nil, err
	}
	return &Catalog{cat: cat, name: opts.CatalogName, warehouse: warehouse, log: opts.Logger, aws: awsCfg,
		deleteMode: opts.DeleteMode, indexKeys: &keyBudget{max: int64(opts.PositionDeletesMaxKeys)}}, nil
}

// ErrCatalogGone is returned (wrapped) by every catalog operation of a
// SQLite catalog whose database file was deleted or replaced since Open:
// writing on would commit into a file nobody else can see.
var ErrCatalogGone = errors.New("catalog file deleted or replaced")

// checkFile fails with ErrCatalogGone when the SQLite catalog's file is
// no longer the one opened (same path, device and inode). Other catalogs
// always pass.
func (c *Catalog) checkFile() error {
	if c.file == "" {
		return nil
	}
	now, err := os.Stat(c.file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("sink.catalog.uri: %w: %s no longer exists; Floe stops rather than commit into the deleted file (fix: restore the file, e.g. from a backup, and start Floe again; to start over instead, also delete the state dir)", ErrCatalogGone, c.file)
	case err != nil:
		return fmt.Errorf("sink.catalog.uri: check catalog file: %w", err)
	case !os.SameFile(c.id, now):
		return fmt.Errorf("sink.catalog.uri: %w: %s is another file than the one Floe opened; Floe stops rather than commit into the replaced file (fix: start Floe again to use the new file)", ErrCatalogGone, c.file)
	}
	return nil
}

// CheckWritable creates and removes a file in a local warehouse directory,
// so that one Floe may not write fails before anything starts, with a
// *StorageFault naming the directory. Other warehouses always pass.
func (c *Catalog) CheckWritable() error {
	dir, ok := strings.CutPrefix(c.warehouse, "file://")
	if !ok {
		return nil
	}
	f, err := os.CreateTemp(dir, ".floe-write-check-*")
	if err == nil {
		name := f.Name()
		_, err = f.Write([]byte{0})
		err = errors.Join(err, f.Close(), os.Remove(name))
		if err != nil {
			_ = os.Remove(name)
		}
	}
	if err != nil {
		if fault, ok := ClassifyStorage(err); ok {
			return &StorageFault{Kind: fault.Kind, Path: dir, Err: err}
		}
		return fmt.Errorf("sink.warehouse: write to %s: %w", dir, err)
	}
	return nil
}

// Close releases the catalog database connections. Tables obtained from
// the catalog must not be used afterwards.
func (c *Catalog) Close() error {
	var err error
	if cl, ok := c.cat.(io.Closer); ok {
		err = cl.Close()
	}
	if c.db != nil {
		err = errors.Join(err, c.db.Close())
	}
	return err
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
		return "", errors.New("sink.warehouse: is empty; use a local directory or s3://bucket/prefix")
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
		case "s3", "s3a", "s3n":
			return s3Warehouse(w)
		case "gs", "abfs", "abfss":
			return "", fmt.Errorf("sink.warehouse: %s:// is not supported yet; use a local directory or s3://bucket/prefix", scheme)
		default:
			return "", fmt.Errorf("sink.warehouse: scheme %q is not supported; use a local directory or s3://bucket/prefix", scheme)
		}
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("sink.warehouse: resolve %q: %w", p, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		if fault, ok := ClassifyStorage(err); (ok && fault.Kind == NotDirectory) || errors.Is(err, syscall.EEXIST) {
			return "", fmt.Errorf("sink.warehouse: %s (or a directory above it) is a file, not a directory: %w", abs, err)
		}
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
// A new table, and an existing one that lacks it, gets the metrics mode
// counts for its uuid columns (readers.go), committed before it returns.
//
// An existing table that matches layout (names, types, nullability,
// identifier fields) is returned with Layout() == layout. One whose
// identifier fields differ (by name) is an error: the primary key cannot
// change in place. One that differs otherwise is returned with its own
// layout, derived from its current schema as LoadTable derives it, except
// that Key is layout's key (by name, in layout's key order) when the
// table has all those columns; the caller compares Layout() with layout
// and evolves the table (transform.EvolveSinkLayout, then Table.Evolve)
// before writing rows in the new layout.
func (c *Catalog) EnsureTable(ctx context.Context, id Ident, layout *schema.Table, identifier []int) (*Table, error) {
	return c.ensureTable(c.ioContext(ctx), id, layout, identifier, nil)
}

// ensureTable is EnsureTable on a context with the bounded S3 client
// (ioContext); a table it creates also gets the properties extra.
func (c *Catalog) ensureTable(ctx context.Context, id Ident, layout *schema.Table, identifier []int, extra map[string]string) (*Table, error) {
	sc, err := icebergSchema(layout, identifier)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", id, err)
	}
	if err := c.checkFile(); err != nil {
		return nil, err
	}
	if err := c.ensureNamespace(ctx, id); err != nil {
		return nil, err
	}
	tbl, err := c.cat.LoadTable(ctx, id.iceberg())
	if errors.Is(err, catalog.ErrNoSuchTable) {
		props := tableProperties()
		maps.Copy(props, readerSafeProps(sc, props))
		maps.Copy(props, extra)
		tbl, err = c.cat.CreateTable(ctx, id.iceberg(), sc, catalog.WithProperties(props))
		if errors.Is(err, catalog.ErrTableAlreadyExists) {
			tbl, err = c.cat.LoadTable(ctx, id.iceberg())
		} else if err == nil {
			c.log.Info("created iceberg table", "table", id.String(), "location", tbl.Location())
		}
	}
	if err != nil {
		return nil, fmt.Errorf("ensure table %s: %w", id, err)
	}
	if tbl, err = c.ensureReaderPropsLocked(ctx, id, tbl); err != nil {
		return nil, err
	}
	diff := compareSchema(tbl.Schema(), sc, layout)
	if diff == nil {
		return newTable(c, id, layout, tbl)
	}
	// A key the layout no longer names at all (renamed since the table's
	// position, which the stream will say) opens the table with its own
	// key; the caller's evolution refuses a real key change.
	if err := sameIdentifiers(tbl.Schema(), sc); err != nil && !identifiersGone(tbl.Schema(), layout) {
		return nil, fmt.Errorf("table %s: %w; the primary key cannot change in place: re-snapshot the table (floe resnapshot)", id, err)
	}
	own, err := layoutOf(tbl.Schema())
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", id, err)
	}
	if key, ok := keyByName(own, layout.KeyNames()); ok {
		own.Key = key
	}
	c.log.Info("iceberg table schema differs from the layout; opened with its own layout", "table", id.String(), "difference", diff.Error())
	return newTable(c, id, own, tbl)
}

// keyByName returns the ordinals in t of the named columns, in order;
// ok is false when one is missing.
// identifiersGone reports whether sc has identifier fields and layout has
// a column of none of their names.
func identifiersGone(sc *iceberg.Schema, layout *schema.Table) bool {
	names := fieldNames(sc, sc.IdentifierFieldIDs)
	return len(names) > 0 && !slices.ContainsFunc(names, func(n string) bool { return layout.Index(n) >= 0 })
}

func keyByName(t *schema.Table, names []string) (key []int, ok bool) {
	key = make([]int, len(names))
	for i, n := range names {
		if key[i] = t.Index(n); key[i] < 0 {
			return nil, false
		}
	}
	return key, true
}

// LoadTable opens an existing table; its Layout is derived from the
// table's current schema (Key = identifier fields). A missing table is
// reported with an error matching ErrNoSuchTable.
func (c *Catalog) LoadTable(ctx context.Context, id Ident) (*Table, error) {
	ctx = c.ioContext(ctx)
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

// parquetDictEnabledKey turns Parquet dictionary encoding on or off for a
// table's data files (iceberg-go's table/internal key, not re-exported by
// package table).
const parquetDictEnabledKey = "parquet.enable.dictionary"

// tableProperties are the properties of a newly created table.
func tableProperties() iceberg.Properties {
	return iceberg.Properties{
		table.PropertyFormatVersion: "2",
		table.ParquetCompressionKey: "zstd",
		// Level 1 costs ~9% larger files than the default level and saves
		// ~17-20% of the Parquet write path's CPU (BenchmarkCodec).
		table.ParquetCompressionLevelKey: "1",
		// No dictionary pages: on the benchmark's rows they make zstd
		// files no smaller (orders: 49.56 B/row without, 49.55 with) and
		// cost ~22 % of the Parquet write path's CPU, ~18 % of a PostgreSQL
		// snapshot's (BenchmarkCodec variants and cmd/floe-bench paired
		// runs, 2026-12-03).
		parquetDictEnabledKey:     "false",
		"floe.table-version":      tableFormatVersion,
		table.WriteDeleteModeKey:  table.WriteModeCopyOnWrite,
		table.CommitNumRetriesKey: "0", // lakewriter retries itself (see Commit)
		// Each commit deletes the metadata files beyond the newest 100
		// (metadataCleanupProps).
		table.MetadataDeleteAfterCommitEnabledKey: "true",
		table.MetadataPreviousVersionsMaxKey:      "100",
	}
}
