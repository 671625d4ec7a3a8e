package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"gopkg.in/yaml.v3"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/schema/registry"
	"github.com/floe-cdc/floe/transform"
)

// RegistryConfig is the `registry:` section: the Confluent-compatible
// schema registry each sink table's Avro schema is registered in. With no
// url, the embedded registry is meant (schema/registry.Embedded).
type RegistryConfig struct {
	URL string // url: the registry's base URL (http or https); "" = the embedded registry
	// Username and Password (username, password) are HTTP basic
	// credentials; Token (token) is a bearer token, for registries that
	// take one instead.
	Username, Password, Token string
	// Compatibility (compatibility) is the rule set on each subject Floe
	// creates: BACKWARD (default), BACKWARD_TRANSITIVE, FORWARD,
	// FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE.
	Compatibility string
	// SubjectName (subject-name) is the template naming each table's
	// subject (registry.ParseSubjectName); "" is
	// registry.DefaultSubjectName, {pipeline}.{schema}.{table}-value.
	SubjectName string
}

// registrySection decodes the registry: section into r.
func (d *decoder) registrySection(r *RegistryConfig) setter {
	return func(n *yaml.Node, p string) {
		d.mapping(n, p, []field{{"url", d.str(&r.URL)}, {"username", d.str(&r.Username)},
			{"password", d.raw(&r.Password)}, {"token", d.raw(&r.Token)},
			{"compatibility", d.str(&r.Compatibility)}, {"subject-name", d.str(&r.SubjectName)}})
	}
}

// Validate returns the problems of the registry: section.
func (r RegistryConfig) Validate() []Problem {
	var ps []Problem
	add := func(field, msg, fix string) { ps = append(ps, Problem{Field: field, Message: msg, Fix: fix}) }
	if r.URL != "" {
		if u, err := url.Parse(r.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("registry.url", "is not an http(s) URL", "write the registry's base URL, e.g. http://registry:8081")
		} else if u.User != nil {
			add("registry.url", "carries credentials", "move them to registry.username and registry.password")
		}
	} else if r.Username != "" || r.Password != "" || r.Token != "" {
		add("registry.url", "is empty but credentials are set", "set registry.url, or remove the credentials to use the embedded registry")
	}
	if (r.Username == "") != (r.Password == "") {
		add("registry.username", "basic authentication needs both username and password", "set both registry.username and registry.password, or neither")
	}
	if r.Token != "" && r.Username != "" {
		add("registry.token", "is set together with registry.username", "use either basic authentication or a bearer token")
	}
	if _, err := registry.ParseCompatibility(r.Compatibility); err != nil {
		add("registry.compatibility", err.Error(), "")
	}
	if _, err := registry.ParseSubjectName(r.SubjectName); err != nil {
		add("registry.subject-name", err.Error(), "write a template such as "+registry.DefaultSubjectName+" (the default) or "+registry.IcebergSubjectName)
	}
	return ps
}

// Options returns the Confluent client options of r (URL set).
func (r RegistryConfig) Options() (registry.ConfluentOptions, error) {
	c, err := registry.ParseCompatibility(r.Compatibility)
	if err != nil {
		return registry.ConfluentOptions{}, err
	}
	return registry.ConfluentOptions{URL: r.URL, Username: r.Username, Password: r.Password, Token: r.Token, Compatibility: c}, nil
}

// redactedRegistry renders the registry: section for Config.Redacted, the
// secrets masked; nil when the section is unset.
func redactedRegistry(r RegistryConfig, str func(string) *yaml.Node, m func(...any) *yaml.Node) *yaml.Node {
	if r == (RegistryConfig{}) {
		return nil
	}
	return m("url", str(redactURI(r.URL)), "username", str(r.Username), "password", str(mask(r.Password)),
		"token", str(mask(r.Token)), "compatibility", str(r.Compatibility), "subject-name", str(r.SubjectName))
}

// Subjects returns the subject naming of registry.subject-name; a
// template Validate refuses is the default.
func (r RegistryConfig) Subjects() registry.SubjectName {
	n, _ := registry.ParseSubjectName(r.SubjectName)
	return n
}

// openRegistry opens the schema registry of cfg: a client of the
// Confluent-compatible registry at registry.url, or else the embedded
// registry in the SQL catalog's own database (SQLite or PostgreSQL), so
// that it is as durable as the catalog. A REST or Glue catalog has no
// database Floe may write to: without registry.url such a pipeline runs
// without a registry, and says so in the log.
func openRegistry(ctx context.Context, cfg *Config, log *slog.Logger) (registry.Registry, error) {
	r := cfg.Registry
	if r.URL != "" {
		opts, err := r.Options()
		if err != nil {
			return nil, fmt.Errorf("registry.compatibility: %w", err)
		}
		opts.Timeout = cfg.Sink.Timeout
		c, err := registry.NewConfluent(opts)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	compat, err := registry.ParseCompatibility(r.Compatibility)
	if err != nil {
		return nil, fmt.Errorf("registry.compatibility: %w", err)
	}
	uri := cfg.Sink.Catalog.URI
	var driver, dsn string
	var dialect registry.Dialect
	switch {
	case cfg.Sink.Catalog.Type != "sql":
		log.Info("no schema registry: the embedded registry lives in a SQL catalog's database; set registry.url to use one",
			"catalog_type", cfg.Sink.Catalog.Type)
		return nil, nil
	case sqlitePath(uri) != "":
		driver, dialect = "sqlite", registry.SQLite
		dsn = "file:" + sqlitePath(uri) + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
	case strings.HasPrefix(uri, "postgres://"), strings.HasPrefix(uri, "postgresql://"):
		driver, dsn, dialect = "pgx", uri, registry.Postgres
	default:
		return nil, fmt.Errorf("sink.catalog.uri: %s is no database the embedded schema registry can use; set registry.url", redactURI(uri))
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("embedded schema registry: open the catalog database: %w", err)
	}
	e, err := registry.OpenEmbedded(ctx, db, dialect, compat)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return embeddedRegistry{e, db}, nil
}

// embeddedRegistry is the embedded registry with the database connection
// opened for it, which Close closes.
type embeddedRegistry struct {
	*registry.Embedded
	db *sql.DB
}

func (e embeddedRegistry) Close() error { return errors.Join(e.Embedded.Close(), e.db.Close()) }

// retireSubject deletes the subject of source table source, captured
// into Iceberg table sink, in reg (nil: no registry), for floe
// resnapshot. The subject is the one registry.subject-name names now; a
// subject of an earlier naming is left alone.
func retireSubject(ctx context.Context, reg registry.Registry, cfg *Config, source capture.TableID, sink lakewriter.Ident) error {
	if reg == nil {
		return nil
	}
	return reg.DeleteSubject(ctx, cfg.Registry.Subjects().Subject(subjectVars(cfg, source, sink.Namespace, sink.Name)))
}

// subjectVars are the names registry.subject-name may use for source
// table source, captured into Iceberg table (namespace, name).
func subjectVars(cfg *Config, source capture.TableID, namespace, name string) registry.SubjectVars {
	return registry.SubjectVars{Pipeline: cfg.Pipeline.Name, Schema: source.Schema, Table: source.Name, Namespace: namespace, IcebergTable: name}
}

// registryInUse says whether floe run registers schemas: with registry.url,
// or in the embedded registry of a SQL catalog (see openRegistry).
func registryInUse(cfg *Config) bool {
	return cfg.Registry.URL != "" || cfg.Sink.Catalog.Type == "sql"
}

// avroProblems are the tables whose sink layouts floe run could not
// register because they render to no valid Avro schema (two column names
// that adjust to one Avro name), or because registry.subject-name maps
// them to one subject, for floe check.
func avroProblems(cfg *Config, infos []capture.TableInfo) []capture.Problem {
	mode, err := sinkMode(cfg)
	if err != nil || !registryInUse(cfg) {
		return nil
	}
	router := newRouter(cfg)
	out := subjectProblems(cfg, router, infos)
	for _, ti := range infos {
		layout, err := transform.BuildSinkLayout(ti.Schema, mode)
		if err != nil {
			continue // reported as a metadata-column collision
		}
		target := router.Target(ti.ID)
		if _, err := registry.AvroSchema(target.Namespace, target.Name, layout); err != nil {
			out = append(out, capture.Problem{Field: "source.tables", Message: fmt.Sprintf("table %s: %v", ti.ID, err),
				Fix: "rename one of the columns, or exclude the table from source.tables"})
		}
	}
	return out
}

// subjectProblems are the pairs of tables registry.subject-name maps to
// one subject, which floe run refuses at start.
func subjectProblems(cfg *Config, router *transform.Router, infos []capture.TableInfo) []capture.Problem {
	vars := make([]registry.SubjectVars, len(infos))
	for i, ti := range infos {
		target := router.Target(ti.ID)
		vars[i] = subjectVars(cfg, ti.ID, target.Namespace, target.Name)
	}
	var out []capture.Problem
	for _, cl := range cfg.Registry.Subjects().Clashes(vars, func(i int) string { return infos[i].ID.String() }) {
		out = append(out, capture.Problem{Field: "registry.subject-name",
			Message: fmt.Sprintf("tables %s and %s both map to subject %s", cl.First, cl.Second, cl.Subject),
			Fix:     "use a template naming each table apart, e.g. " + registry.DefaultSubjectName})
	}
	return out
}
