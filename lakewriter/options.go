package lakewriter

import (
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/floe-cdc/floe/schema/problem"
)

// Options configures Open: the sink: section of a configuration file.
// Start from Defaults(); Open fills the zero fields from it and refuses
// Options that Validate faults.
type Options struct {
	// CatalogType is the Iceberg catalog kind (sink.catalog.type): "sql"
	// (the default), "rest" or "glue" (glue is untested here).
	CatalogType string
	// CatalogName is the catalog_name stored in the SQL catalog rows (the
	// name Trino's, Spark's and PyIceberg's JDBC/SQL catalogs must be
	// given to see the tables; sink.catalog.name); default "floe".
	CatalogName string
	// URI locates the catalog (sink.catalog.uri): for sql the database
	// (sqlite:///abs/path.db, sqlite:relative.db resolved against the
	// working directory, or postgres://... / postgresql://...), for rest
	// the server's base URL (http(s)://host:port/path); unused by glue.
	// No default: floe run resolves its own beside the config file.
	URI string
	// Warehouse is the root under which new tables are placed
	// (sink.warehouse): a local directory, a file:// URI or
	// s3://bucket/prefix (sql, glue). For rest it is optional and passed
	// to the server as is.
	Warehouse string
	// S3 configures S3 access for an s3:// warehouse and S3 table
	// locations (sink.s3).
	S3 S3Options
	// Credential ("client_id:client_secret", OAuth2 client credentials)
	// or Token (a bearer token) authenticates to a REST catalog; optional
	// (sink.catalog.credential, sink.catalog.token).
	Credential, Token string
	// Timeout bounds connecting to the catalog database, S3 and a REST
	// catalog, and every wait for data on an open connection to them, so
	// that a half-open connection fails a call instead of hanging it (see
	// timeouts.go for what each bounds; sink.timeout). Default
	// DefaultTimeout.
	Timeout time.Duration
	// DeleteMode is how upsert commits delete the old rows of the keys
	// they change (sink.delete-mode): DeleteModeAuto (the default) by
	// position where the table's key index locates the row, not at all
	// where it knows the key is new, by equality otherwise;
	// DeleteModeEquality always by equality (see keyindex.go).
	DeleteMode string
	// PositionDeletesMaxKeys bounds the keys the key indexes of all
	// tables hold together (sink.position-deletes-max-keys, about 100
	// bytes of memory per key); a table whose index does not fit is
	// deleted from by equality until floe restarts. Default
	// DefaultPositionDeletesMaxKeys.
	PositionDeletesMaxKeys int
	// Logger receives debug lines about commits; nil discards them.
	Logger *slog.Logger
}

// Defaults returns the defaults of every setting that has one.
func Defaults() Options {
	return Options{CatalogType: "sql", CatalogName: "floe", Timeout: DefaultTimeout,
		DeleteMode: DeleteModeAuto, PositionDeletesMaxKeys: DefaultPositionDeletesMaxKeys}
}

// withDefaults fills the zero fields of o from Defaults().
func (o Options) withDefaults() Options {
	o = problem.WithDefaults(o, Defaults())
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Validate returns every problem of o, each naming its field in the
// configuration file (sink.*) and the fix. Secrets are never quoted;
// URIs are quoted with their password hidden. It connects to nothing
// and creates nothing.
func (o Options) Validate() []problem.Problem {
	var c problem.Checks
	c.OneOf("sink.catalog.type", o.CatalogType, "sql", "rest", "glue")
	c.Required("sink.catalog.name", o.CatalogName, "set a catalog name, e.g. `name: floe`")
	switch o.CatalogType {
	case "sql":
		checkSQLURI(&c, o.URI)
	case "rest":
		checkRESTURI(&c, o.URI)
		if o.Credential != "" && o.Token != "" {
			c.Add("sink.catalog.token", "keep one of credential and token", "credential and token are both set")
		}
	case "glue":
		if scheme(o.Warehouse) != "s3" {
			c.Add("sink.warehouse", "set s3://bucket/prefix", "the glue catalog needs an s3:// warehouse")
		}
	}
	if o.CatalogType != "rest" && (o.Credential != "" || o.Token != "") {
		c.Add("sink.catalog.credential", "remove it, or use `type: rest`", "credential and token apply to rest catalogs only")
	}
	if o.CatalogType != "rest" {
		checkWarehouse(&c, o.Warehouse)
	}
	o.S3.check(&c)
	c.Positive("sink.timeout", o.Timeout)
	if o.DeleteMode != "" { // empty: the default
		c.OneOf("sink.delete-mode", o.DeleteMode, DeleteModeAuto, DeleteModeEquality)
	}
	if o.PositionDeletesMaxKeys < 0 {
		c.Add("sink.position-deletes-max-keys", "set a positive number of keys, e.g. 1000000, or sink.delete-mode: equality",
			"%d is negative", o.PositionDeletesMaxKeys)
	}
	return c.List
}

// checkSQLURI checks the database URI of a sql catalog.
func checkSQLURI(c *problem.Checks, uri string) {
	const fix = "use sqlite:///absolute/path.db, sqlite:relative.db or postgres://user@host/db"
	if p, ok := strings.CutPrefix(uri, "sqlite:"); ok {
		// sqlite://x names a host, not a file; sqlite:x is a relative path.
		if p, host := strings.CutPrefix(p, "//"); p == "" || host && !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#") {
			c.Add("sink.catalog.uri", fix, "%q is not a SQLite file path", uri)
		}
		return
	}
	switch scheme(uri) {
	case "postgres", "postgresql":
	default:
		if uri == "" {
			c.Add("sink.catalog.uri", fix, "required")
			return
		}
		c.Add("sink.catalog.uri", fix, "unsupported catalog URI %q", redactURI(uri))
	}
}

// checkRESTURI checks the base URL of a REST catalog.
func checkRESTURI(c *problem.Checks, uri string) {
	const fix = "set the REST catalog's base URL, e.g. http://127.0.0.1:8181"
	if uri == "" {
		c.Add("sink.catalog.uri", fix, "required for a rest catalog")
	} else if u, err := url.Parse(uri); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.Add("sink.catalog.uri", fix, "%q is not an http:// or https:// URL", redactURI(uri))
	} else if u.User != nil {
		c.Add("sink.catalog.uri", "put credentials in sink.catalog.credential or token", "the URI carries credentials")
	}
}

// checkWarehouse checks the warehouse of a sql or glue catalog.
func checkWarehouse(c *problem.Checks, w string) {
	const fix = "use a local path, file:// URI or s3://bucket/prefix"
	switch sc := scheme(w); {
	case w == "":
		c.Add("sink.warehouse", "set a local directory or s3://bucket/prefix", "required")
	case sc == "s3" || sc == "s3a":
		if _, err := s3Warehouse(w); err != nil {
			c.List = append(c.List, err.(problem.Problem))
		}
	case sc == "gs" || sc == "abfs" || sc == "abfss":
		c.Add("sink.warehouse", fix, "%s:// warehouses are not supported yet", sc)
	case sc == "file":
		if u, err := url.Parse(w); err != nil || u.Host != "" && u.Host != "localhost" {
			c.Add("sink.warehouse", "write file:///absolute/path", "%q names a host", w)
		}
	case sc != "":
		c.Add("sink.warehouse", fix, "unsupported warehouse URI %q", redactURI(w))
	}
}

// check checks sink.s3.
func (o S3Options) check(c *problem.Checks) {
	if o.Endpoint != "" {
		if u, err := url.Parse(o.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			c.Add("sink.s3.endpoint", "write the server's URL, e.g. http://127.0.0.1:9000", "%q is not an http:// or https:// URL", o.Endpoint)
		}
	}
	if (o.AccessKeyID == "") != (o.SecretAccessKey == "") {
		c.Add("sink.s3.access-key-id", "set both access-key-id and secret-access-key, or neither to use the AWS credential chain",
			"only one of the key pair is set")
	}
	if o.SessionToken != "" && o.AccessKeyID == "" {
		c.Add("SessionToken", "set access-key-id and secret-access-key with it", "a session token needs a key pair")
	}
}

var schemeRE = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*)://`)

// scheme is the lower-cased scheme of a URI, "" for a plain path.
func scheme(s string) string {
	if m := schemeRE.FindStringSubmatch(s); m != nil {
		return strings.ToLower(m[1])
	}
	return ""
}
