package e2e

import (
	"fmt"
	"os"
	"strings"
)

// PasswordEnv is the environment variable the configs Config writes take
// the source password from (password: ${FLOE_TEST_PASSWORD}).
const PasswordEnv = "FLOE_TEST_PASSWORD"

// Config is a test pipeline's floe.yaml: a checkpoint every second, state
// under the pipeline's directory, namespace lake and debug logging.
type Config struct {
	// Name is pipeline.name (the slot and publication default to
	// floe_<Name>).
	Name   string
	Source Source
	Sink   Sink
}

// Source is the config's source: section.
type Source struct {
	Type     string // "postgres" or "mysql"
	Port     int    // on 127.0.0.1
	User     string // the password comes from PasswordEnv
	Database string // PostgreSQL only
	Tables   string // source.tables
	// Extra are more lines of the section, each indented two spaces and
	// ending in a newline ("  snapshot.chunk-rows: 500\n").
	Extra string
}

// Sink is the config's sink: section, an Iceberg sink.
type Sink struct {
	// Catalog are the lines of sink.catalog, each indented four spaces
	// and ending in a newline; "" is a SQLite catalog in the pipeline's
	// directory.
	Catalog string
	// Warehouse is sink.warehouse; "" is the pipeline's directory's
	// warehouse/.
	Warehouse string
	// S3 are the lines of sink.s3 (indented four spaces); "" for none.
	S3   string
	Mode string // "upsert" or "changelog"
}

// YAML renders c for a pipeline whose directory is dir.
func (c Config) YAML(dir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pipeline:\n  name: %s\n  checkpoint-interval: 1s\nstate:\n  dir: %s/state\n", c.Name, dir)
	s := c.Source
	fmt.Fprintf(&b, "source:\n  type: %s\n  hostname: 127.0.0.1\n  port: %d\n  username: %s\n  password: ${%s}\n", s.Type, s.Port, s.User, PasswordEnv)
	if s.Database != "" {
		fmt.Fprintf(&b, "  database: %s\n", s.Database)
	}
	fmt.Fprintf(&b, "  tables: %s\n", s.Tables)
	if s.Type == "mysql" {
		b.WriteString("  server-time-zone: UTC\n")
	}
	b.WriteString(s.Extra)
	k := c.Sink
	if k.Catalog == "" {
		k.Catalog = fmt.Sprintf("    type: sql\n    uri: sqlite://%s/catalog.db\n", dir)
	}
	if k.Warehouse == "" {
		k.Warehouse = dir + "/warehouse"
	}
	fmt.Fprintf(&b, "sink:\n  type: iceberg\n  catalog:\n%s  warehouse: %s\n", k.Catalog, k.Warehouse)
	if k.S3 != "" {
		fmt.Fprintf(&b, "  s3:\n%s", k.S3)
	}
	fmt.Fprintf(&b, "  namespace: lake\n  mode: %s\nlog:\n  level: debug\n", k.Mode)
	return b.String()
}

// WriteConfig writes c to p.Config.
func (p *Pipeline) WriteConfig(c Config) {
	p.T.Helper()
	if err := os.WriteFile(p.Config, []byte(c.YAML(p.Dir)), 0o644); err != nil {
		p.T.Fatal(err)
	}
}
