package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is one floe configuration file (Flink CDC pipeline shape) after
// ${VAR} expansion and defaults. Build it with LoadConfig or ParseConfig; a
// Config built in code starts from DefaultConfig, then ApplyDefaults and
// Validate. Paths (state dir, local warehouse, sqlite catalog file) are
// absolute after ApplyDefaults.
type Config struct {
	Pipeline   PipelineConfig
	State      StateConfig
	Source     SourceConfig
	Sink       SinkConfig
	Route      []RouteConfig
	Compaction CompactionConfig
	Server     ServerConfig
	Log        LogConfig

	lines map[string]int // field path -> line in the file; nil for a Config built in code
}

// PipelineConfig is the `pipeline:` section.
type PipelineConfig struct {
	Name               string        // name; required
	CheckpointInterval time.Duration // checkpoint-interval; default 10s
	// MemoryLimitMB is memory-limit-mb: the memory in MiB the process is
	// meant to stay within. Go's soft memory limit is set to three quarters
	// of it (the collector works harder as the heap nears that; the rest
	// is for memory outside the Go heap), and each table's buffer gets
	// 1/16 of it (at most 64 MiB); default 1024, 0 sets no limit
	// (GOMEMLIMIT, when set, is used then).
	MemoryLimitMB int
}

// StateConfig is the `state:` section.
type StateConfig struct {
	Dir string // dir; default ./.floe/<pipeline.name>, made absolute
}

// SourceConfig is the `source:` section.
type SourceConfig struct {
	Type     string // type: postgres | mysql (MySQL and MariaDB; the flavour is detected)
	Hostname string // hostname; default 127.0.0.1
	Port     int    // port; default 5432 (postgres), 3306 (mysql)
	Username string // username; required
	Password string // password; never printed, see Redacted
	Database string // database; required for postgres, unused by mysql (tables name their database)
	// ServerID is server-id (mysql): the replica server id of the binlog
	// connection; default derived from pipeline.name (see DefaultServerID).
	ServerID int
	// ServerTimeZone is server-time-zone (mysql): unset or UTC keeps DATETIME
	// as Iceberg timestamp (wall clock); any other IANA zone lands DATETIME
	// as timestamptz, read in that zone. TIMESTAMP is UTC instants always.
	ServerTimeZone string
	// ZeroDate is zero-date (mysql): error | null | epoch; default error.
	ZeroDate string
	// Tables holds the patterns of `tables`, a comma-separated list split on
	// commas not escaped by a backslash (`\,` is a literal comma, `\.` stays
	// a regexp escape). Each is a regexp on "schema.table".
	Tables []string
	// TableRegexps are Tables compiled and anchored as ^(?:pattern)$.
	TableRegexps        []*regexp.Regexp
	SlotName            string // slot.name; default floe_<pipeline.name> sanitised to [a-z0-9_]
	PublicationName     string // publication.name; same default
	SnapshotMode        string // snapshot.mode: initial | never | initial_only; default initial
	SnapshotParallelism int    // snapshot.parallelism: 1..64; default 2
	SnapshotChunkRows   int    // snapshot.chunk-rows: >= 1; default 50000
}

// SinkConfig is the `sink:` section.
type SinkConfig struct {
	Type    string // type: iceberg
	Catalog CatalogConfig
	// Warehouse is an absolute local path (a relative path or file:// URI
	// is resolved) or s3://bucket/prefix; default ./.floe/warehouse (outside
	// the state dir, which may be deleted) for the sql catalog. For rest it
	// is optional (no default) and passed to the server as is.
	Warehouse string
	S3        S3Config // s3: access to an s3:// warehouse and S3 table locations
	Namespace string   // namespace; default pipeline.name
	Mode      string   // mode: upsert | changelog; default upsert
}

// CatalogConfig is `sink.catalog:`.
type CatalogConfig struct {
	Type string // type: sql | rest | glue (glue is untested); default sql
	Name string // name; default floe
	// URI is, for sql, sqlite:///abs/path (sqlite:relative/path is
	// resolved) or a postgres:// / postgresql:// URL, default
	// sqlite://<cwd>/.floe/catalog.db; for rest the server's http(s) base
	// URL (required); unused by glue.
	URI string
	// Credential ("client_id:client_secret", OAuth2 client credentials) or
	// Token (a bearer token) authenticates to a rest catalog; never printed.
	Credential, Token string
}

// S3Config is `sink.s3:`. Empty fields fall back to the AWS SDK's standard
// chain (AWS_ACCESS_KEY_ID, AWS_REGION, ~/.aws, instance roles).
type S3Config struct {
	Endpoint        string // endpoint: http(s) URL of an S3-compatible server; empty = AWS
	Region          string // region: signing region; us-east-1 when an endpoint is set and none is known
	PathStyle       *bool  // path-style: true | false; unset = path style exactly when an endpoint is set
	AccessKeyID     string // access-key-id: with secret-access-key, or neither
	SecretAccessKey string // secret-access-key: never printed, see Redacted
}

// RouteConfig is one `route:` entry.
type RouteConfig struct {
	SourceTable  string         // source-table: regexp on "schema.table"; required
	SourceRegexp *regexp.Regexp // SourceTable anchored as ^(?:pattern)$
	SinkTable    string         // sink-table: "namespace.table" (sink.namespace added when absent); default: the source table's name
	PrimaryKey   []string       // primary-key: comma-separated column names; optional
}

// SinkIdent splits SinkTable into namespace and table name.
func (r RouteConfig) SinkIdent() (namespace, name string) {
	ns, n, ok := strings.Cut(r.SinkTable, ".")
	if !ok {
		return "", r.SinkTable
	}
	return ns, n
}

// CompactionConfig is the `compaction:` section: background table
// maintenance inside `floe run`, and the settings of `floe compact`.
type CompactionConfig struct {
	Enabled             *bool         // enabled: run passes inside floe run; unset = true
	Interval            time.Duration // interval between passes; default 30m
	TargetFileSizeMB    int           // target-file-size-mb: size rewritten files aim for; default 128
	MinInputFiles       int           // min-input-files: small files needed to bin-pack; default 5
	DeleteFileThreshold int           // delete-file-threshold: delete files that trigger applying them; default 1
	MaxRewriteMB        int           // max-rewrite-mb: input MiB one pass rewrites at most; default 2048, 0 = no bound
	// ExpireSnapshotsOlderThan is expire-snapshots-older-than; default
	// 24h, 0 keeps every snapshot.
	ExpireSnapshotsOlderThan time.Duration
	RetainLast               int // retain-last: snapshots expiry always keeps; default 20
	// RemoveOrphansOlderThan is remove-orphans-older-than; default 72h, 0
	// keeps orphan files. Must exceed the longest commit of any writer.
	RemoveOrphansOlderThan time.Duration
}

// On reports whether floe run compacts in the background.
func (c CompactionConfig) On() bool { return c.Enabled == nil || *c.Enabled }

// ServerConfig is the `server:` section.
type ServerConfig struct {
	MetricsAddress string // metrics-address, host:port for /metrics and /healthz; empty = off
}

// LogConfig is the `log:` section.
type LogConfig struct {
	Format string // format: text | json; default text
	Level  string // level: debug | info | warn | error; default info
}

// Problem is one configuration error. Path is the dotted field path
// ("source.slot.name", "route[1].sink-table"); Line is 1-based, 0 if unknown.
type Problem struct {
	Path, Message, Fix string
	Line               int
}

func (p Problem) format(file string) string {
	var b strings.Builder
	b.WriteString(file)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Message)
	if p.Fix != "" {
		b.WriteString(" (fix: " + p.Fix + ")")
	}
	return b.String()
}

// ConfigError carries every problem found in one file. Error renders one
// line per problem: "FILE:LINE: PATH: MESSAGE (fix: FIX)".
type ConfigError struct {
	File     string
	Problems []Problem
}

func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.format(e.File)
	}
	return strings.Join(lines, "\n")
}

// DefaultConfig returns the defaults that do not depend on other fields.
func DefaultConfig() *Config {
	return &Config{
		Pipeline: PipelineConfig{CheckpointInterval: 10 * time.Second, MemoryLimitMB: defaultMemoryLimitMB},
		Source: SourceConfig{Hostname: "127.0.0.1", Port: 5432, SnapshotMode: "initial",
			SnapshotParallelism: 2, SnapshotChunkRows: 50000},
		Sink: SinkConfig{Catalog: CatalogConfig{Type: "sql", Name: "floe"}, Mode: "upsert"},
		Compaction: CompactionConfig{Interval: 30 * time.Minute, TargetFileSizeMB: 128, MinInputFiles: 5,
			DeleteFileThreshold: 1, MaxRewriteMB: 2048, ExpireSnapshotsOlderThan: 24 * time.Hour, RetainLast: 20,
			RemoveOrphansOlderThan: 72 * time.Hour},
		Log: LogConfig{Format: "text", Level: "info"},
	}
}

// LoadConfig reads, expands, parses, defaults and validates the file at path,
// expanding ${VAR} from the process environment. Invalid content yields a
// *ConfigError with every problem.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(path, data, os.LookupEnv)
}

// ParseConfig is LoadConfig on data; name labels problems. lookupEnv resolves
// ${VAR} (nil: no variable is set). Problems come back as one *ConfigError,
// sorted by line, and never contain the password.
func ParseConfig(name string, data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	c := DefaultConfig()
	d := &decoder{env: lookupEnv, lines: map[string]int{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF): // empty file: the required fields are reported below
	case err != nil:
		return nil, &ConfigError{File: name, Problems: []Problem{syntaxProblem(err)}}
	default:
		var extra yaml.Node
		if dec.Decode(&extra) == nil {
			d.problems = append(d.problems, Problem{Line: extra.Line, Message: "a second YAML document",
				Fix: "keep one document per file; remove the '---' separator"})
		}
		d.root(&doc, c)
	}
	c.lines = d.lines
	if err := c.ApplyDefaults(); err != nil {
		return nil, err
	}
	problems := d.problems
	for _, p := range c.Validate() {
		if !d.reported(p.Path) { // a field that failed to decode is not reported twice
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		sortProblems(problems)
		return nil, &ConfigError{File: name, Problems: problems}
	}
	return c, nil
}

var syntaxLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func syntaxProblem(err error) Problem {
	p := Problem{Message: "bad YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), Fix: "correct the YAML syntax"}
	if m := syntaxLine.FindStringSubmatch(err.Error()); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Message = "bad YAML: " + m[2]
	}
	return p
}

// ApplyDefaults fills the defaults that depend on other fields, makes local
// paths absolute, qualifies route sink tables with sink.namespace and
// compiles the table patterns that compile (Validate reports the others).
func (c *Config) ApplyDefaults() error {
	name := c.Pipeline.Name
	if c.State.Dir == "" {
		c.State.Dir = filepath.Join(".floe", name)
	}
	dir, err := filepath.Abs(c.State.Dir)
	if err != nil {
		return fmt.Errorf("resolve state.dir: %w", err)
	}
	c.State.Dir = dir
	if c.Source.SlotName == "" {
		c.Source.SlotName = defaultIdent(name)
	}
	if c.Source.Type == "mysql" {
		if _, set := c.lines["source.port"]; !set && c.Source.Port == 5432 {
			c.Source.Port = 3306
		}
		if c.Source.ServerID == 0 {
			c.Source.ServerID = DefaultServerID(name)
		}
	}
	if c.Source.PublicationName == "" {
		c.Source.PublicationName = defaultIdent(name)
	}
	if c.Sink.Namespace == "" {
		c.Sink.Namespace = name
	}
	// The warehouse and catalog defaults sit beside the state dir, not in
	// it: the state dir is a cache that may be deleted, the lake may not.
	rest := c.Sink.Catalog.Type == "rest"
	if c.Sink.Warehouse == "" && !rest {
		c.Sink.Warehouse = filepath.Join(".floe", "warehouse")
	}
	if p, ok := localPath(c.Sink.Warehouse); ok && c.Sink.Warehouse != "" && !rest {
		if c.Sink.Warehouse, err = filepath.Abs(p); err != nil {
			return fmt.Errorf("resolve sink.warehouse: %w", err)
		}
	}
	if c.Sink.Catalog.URI == "" && c.Sink.Catalog.Type == "sql" {
		catalog, err := filepath.Abs(filepath.Join(".floe", "catalog.db"))
		if err != nil {
			return fmt.Errorf("resolve sink.catalog.uri: %w", err)
		}
		c.Sink.Catalog.URI = "sqlite://" + catalog
	}
	if p, ok := strings.CutPrefix(c.Sink.Catalog.URI, "sqlite:"); ok && p != "" && !strings.HasPrefix(p, "//") {
		if p, err = filepath.Abs(p); err != nil {
			return fmt.Errorf("resolve sink.catalog.uri: %w", err)
		}
		c.Sink.Catalog.URI = "sqlite://" + p
	}
	c.Source.TableRegexps = nil
	for _, t := range c.Source.Tables {
		if re, err := anchored(t); err == nil {
			c.Source.TableRegexps = append(c.Source.TableRegexps, re)
		}
	}
	for i := range c.Route {
		r := &c.Route[i]
		r.SourceRegexp, _ = anchored(r.SourceTable)
		if r.SinkTable != "" && !strings.Contains(r.SinkTable, ".") && c.Sink.Namespace != "" {
			r.SinkTable = c.Sink.Namespace + "." + r.SinkTable
		}
	}
	return nil
}

// defaultIdent is "floe_<name>" lowercased, every rune outside [a-z0-9_]
// replaced by '_', cut to PostgreSQL's 63-byte identifier limit.
func defaultIdent(name string) string {
	s := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, "floe_"+strings.ToLower(name))
	return s[:min(len(s), 63)]
}

// localPath returns the filesystem path of a plain path or file:// URI.
func localPath(s string) (string, bool) {
	if p, ok := strings.CutPrefix(s, "file://"); ok {
		return p, true
	}
	return s, uriScheme(s) == ""
}

var schemeRe = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*)://`)

func uriScheme(s string) string {
	if m := schemeRe.FindStringSubmatch(s); m != nil {
		return strings.ToLower(m[1])
	}
	return ""
}

// anchored compiles a table pattern so it must match the whole name.
func anchored(pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile("^(?:" + pattern + ")$")
	if err == nil {
		return re, nil
	}
	var se *syntax.Error
	if !errors.As(err, &se) {
		return nil, err
	}
	if wrapped := "^(?:" + pattern + ")$"; se.Expr == wrapped || se.Expr == "" {
		return nil, errors.New(se.Code.String())
	}
	return nil, fmt.Errorf("%s: `%s`", se.Code, strings.TrimSuffix(se.Expr, ")$"))
}

// splitList splits on commas not escaped by an odd number of backslashes,
// turns `\,` into `,`, keeps every other backslash, trims spaces and drops
// empty entries.
func splitList(s string) []string {
	var out []string
	var cur []byte
	flush := func() {
		if t := strings.TrimSpace(string(cur)); t != "" {
			out = append(out, t)
		}
		cur = cur[:0]
	}
	backslashes := 0
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == ',' && backslashes%2 == 1:
			cur[len(cur)-1] = ','
		case ch == ',':
			flush()
		default:
			cur = append(cur, ch)
		}
		if s[i] == '\\' {
			backslashes++
		} else {
			backslashes = 0
		}
	}
	flush()
	return out
}

// joinList is the inverse of splitList.
func joinList(items []string) string {
	esc := make([]string, len(items))
	for i, s := range items {
		esc[i] = strings.ReplaceAll(s, ",", `\,`)
	}
	return strings.Join(esc, ", ")
}

// Validate checks a defaulted Config and returns every problem, sorted by
// line. Messages never contain the password.
func (c *Config) Validate() []Problem {
	v := &validator{c: c}
	v.required("pipeline.name", c.Pipeline.Name, "name the pipeline, e.g. `name: shop`")
	if c.Pipeline.Name != "" && !nameRe.MatchString(c.Pipeline.Name) {
		v.add("pipeline.name", "use letters, digits, '_' and '-', starting with a letter or digit",
			"bad pipeline name %q", c.Pipeline.Name)
	}
	v.positive("pipeline.checkpoint-interval", c.Pipeline.CheckpointInterval)
	if m := c.Pipeline.MemoryLimitMB; m != 0 && m < minMemoryLimitMB {
		v.add("pipeline.memory-limit-mb", fmt.Sprintf("use at least %d (MiB), or 0 for no limit", minMemoryLimitMB),
			"%d MiB is too little for Floe", m)
	}
	v.required("state.dir", c.State.Dir, "set a directory for local state")

	s := c.Source
	if v.required("source.type", s.Type, "set `type: postgres`") {
		v.oneOf("source.type", s.Type, "postgres", "mysql")
	}
	v.required("source.hostname", s.Hostname, "set the database host")
	v.between("source.port", s.Port, 1, 65535)
	v.required("source.username", s.Username, "set the replication user, e.g. `username: floe`")
	if s.Type == "mysql" {
		v.between("source.server-id", s.ServerID, 1, 1<<32-1)
		if _, err := mysqlTimeZone(s.ServerTimeZone); err != nil {
			v.add("source.server-time-zone", "use an IANA zone name such as UTC or Europe/Berlin", "%v", err)
		}
		if s.ZeroDate != "" {
			v.oneOf("source.zero-date", s.ZeroDate, "error", "null", "epoch")
		}
	} else {
		v.required("source.database", s.Database, "set the database to capture")
	}
	if len(s.Tables) == 0 {
		v.add("source.tables", "list the tables, e.g. `tables: public.orders, public\\.line_.*`", "required")
	}
	for _, t := range s.Tables {
		if _, err := anchored(t); err != nil {
			v.add("source.tables", "write a valid regular expression (RE2 syntax)", "bad table pattern %q: %v", t, err)
		}
	}
	if !slotRe.MatchString(s.SlotName) {
		v.add("source.slot.name", "use 1 to 63 characters of a-z, 0-9 and _", "bad replication slot name %q", s.SlotName)
	}
	if s.PublicationName == "" || len(s.PublicationName) > 63 {
		v.add("source.publication.name", "use 1 to 63 bytes", "bad publication name %q", s.PublicationName)
	}
	v.oneOf("source.snapshot.mode", s.SnapshotMode, "initial", "never", "initial_only")
	v.between("source.snapshot.parallelism", s.SnapshotParallelism, 1, 64)
	v.between("source.snapshot.chunk-rows", s.SnapshotChunkRows, 1, 1<<30)

	k := c.Sink
	if v.required("sink.type", k.Type, "set `type: iceberg`") {
		v.oneOf("sink.type", k.Type, "iceberg")
	}
	v.oneOf("sink.catalog.type", k.Catalog.Type, "sql", "rest", "glue")
	v.required("sink.catalog.name", k.Catalog.Name, "set a catalog name, e.g. `name: floe`")
	v.sinkCatalog(k)
	if k.Namespace == "" && c.Pipeline.Name != "" { // an empty name is reported; the namespace defaults to it
		v.add("sink.namespace", "set `namespace:`", "required")
	} else if strings.Contains(k.Namespace, ".") {
		v.add("sink.namespace", "use a single-level namespace without '.'", "bad namespace %q", k.Namespace)
	}
	v.oneOf("sink.mode", k.Mode, "upsert", "changelog")

	for i, r := range c.Route {
		p := fmt.Sprintf("route[%d]", i)
		if v.required(p+".source-table", r.SourceTable, "set the source table pattern, e.g. `source-table: public.orders`") {
			if _, err := anchored(r.SourceTable); err != nil {
				v.add(p+".source-table", "write a valid regular expression (RE2 syntax)", "bad table pattern %q: %v", r.SourceTable, err)
			}
		}
		if r.SinkTable == "" && len(r.PrimaryKey) == 0 {
			v.add(p+".sink-table", "set `sink-table: namespace.table` (or `primary-key:` for a table without one)",
				"a route needs a sink-table or a primary-key")
		} else if r.SinkTable != "" {
			parts := strings.Split(r.SinkTable, ".")
			if len(parts) > 2 || slices.Contains(parts, "") {
				v.add(p+".sink-table", "write `namespace.table` or `table`", "bad sink table %q", r.SinkTable)
			}
		}
		if lit := strings.ReplaceAll(r.SourceTable, `\.`, "."); len(r.PrimaryKey) > 0 && r.SourceTable != "" &&
			(strings.Count(lit, ".") != 1 || regexp.QuoteMeta(lit) != strings.ReplaceAll(lit, ".", `\.`)) {
			v.add(p+".primary-key", "give the key in a route whose source-table names one table, e.g. public\\.events",
				"a key needs a source-table naming exactly one schema.table, got %q", r.SourceTable)
		}
		seen := map[string]bool{}
		for _, col := range r.PrimaryKey {
			if seen[col] {
				v.add(p+".primary-key", "name each key column once", "column %q repeated", col)
			}
			seen[col] = true
		}
	}

	cc := c.Compaction
	v.positive("compaction.interval", cc.Interval)
	v.between("compaction.target-file-size-mb", cc.TargetFileSizeMB, 1, 1<<20)
	v.between("compaction.min-input-files", cc.MinInputFiles, 2, 1<<20)
	v.between("compaction.max-rewrite-mb", cc.MaxRewriteMB, 0, 1<<30)
	v.between("compaction.delete-file-threshold", cc.DeleteFileThreshold, 1, 1<<20)
	v.between("compaction.retain-last", cc.RetainLast, 1, 1<<20)
	v.notNegative("compaction.expire-snapshots-older-than", cc.ExpireSnapshotsOlderThan)
	v.notNegative("compaction.remove-orphans-older-than", cc.RemoveOrphansOlderThan)
	// Snapshot data files wait up to a checkpoint interval for their
	// commit; orphan removal must never see them as orphans.
	if o, min := cc.RemoveOrphansOlderThan, max(time.Hour, 10*c.Pipeline.CheckpointInterval); o > 0 && o < min {
		v.add("compaction.remove-orphans-older-than", fmt.Sprintf("use %s or more (1h, and 10 checkpoint intervals: a writer's files are unreferenced until it commits), or 0 to keep orphans", min),
			"%s is too short to be safe", o)
	}

	if a := c.Server.MetricsAddress; a != "" {
		_, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 {
			v.add("server.metrics-address", "write host:port, e.g. 127.0.0.1:9464, or leave it empty to disable",
				"bad listen address %q", a)
		}
	}
	v.oneOf("log.format", c.Log.Format, "text", "json")
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")

	sortProblems(v.problems)
	return v.problems
}

var (
	nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
	slotRe = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)
)

type validator struct {
	c        *Config
	problems []Problem
}

func (v *validator) add(path, fix, format string, args ...any) {
	msg := fmt.Sprintf(format, hide(v.c.Source.Password, args)...)
	v.problems = append(v.problems, Problem{Path: path, Message: msg, Fix: fix, Line: v.c.lineOf(path)})
}

// required reports an empty value and says whether value is set.
func (v *validator) required(path, value, fix string) bool {
	if value == "" {
		v.add(path, fix, "required")
	}
	return value != ""
}

// oneOf reports a value outside allowed and says whether it is allowed.
func (v *validator) oneOf(path, value string, allowed ...string) bool {
	if slices.Contains(allowed, value) {
		return true
	}
	fix := "use " + strings.Join(allowed, " or ")
	if s := suggest(value, allowed); s != "" {
		fix += fmt.Sprintf(" (did you mean %s?)", s)
	}
	v.add(path, fix, "unknown value %q", value)
	return false
}

func (v *validator) between(path string, n, lo, hi int) {
	if n < lo || n > hi {
		v.add(path, fmt.Sprintf("use a value from %d to %d", lo, hi), "%d is out of range", n)
	}
}

func (v *validator) positive(path string, d time.Duration) {
	if d <= 0 {
		v.add(path, "use a positive duration such as 10s", "%s is not positive", d)
	}
}

func (v *validator) notNegative(path string, d time.Duration) {
	if d < 0 {
		v.add(path, "use a duration such as 24h, or 0 to turn the step off", "%s is negative", d)
	}
}

// lineOf is the line of path, or of its nearest enclosing field in the file.
func (c *Config) lineOf(path string) int {
	for path != "" {
		if l, ok := c.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// hide returns args with the password replaced by *** inside every string
// or error, so a value quoted back in a message never shows it. Only the
// arguments are rewritten, never the message text around them.
func hide(password string, args []any) []any {
	if password == "" {
		return args
	}
	out := make([]any, len(args))
	for i, a := range args {
		switch a := a.(type) {
		case string:
			out[i] = strings.ReplaceAll(a, password, "***")
		case error:
			out[i] = strings.ReplaceAll(a.Error(), password, "***")
		default:
			out[i] = a
		}
	}
	return out
}

// sortProblems orders by line; problems without a line go last.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i].Line, ps[j].Line
		return a != 0 && (b == 0 || a < b)
	})
}

func redactURI(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}

// Redacted renders the effective configuration as YAML that ParseConfig
// accepts, with the password (also inside URIs and any other value) as ***.
func (c *Config) Redacted() string {
	pw := c.Source.Password
	str := func(s string) *yaml.Node {
		if pw != "" {
			s = strings.ReplaceAll(s, pw, "***")
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: strings.ReplaceAll(s, "${", "$${")}
	}
	num := func(n int) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(n)}
	}
	m := func(kv ...any) *yaml.Node {
		n := &yaml.Node{Kind: yaml.MappingNode}
		for i := 0; i < len(kv); i += 2 {
			n.Content = append(n.Content, str(kv[i].(string)), kv[i+1].(*yaml.Node))
		}
		return n
	}
	password := str("")
	if pw != "" {
		password = str("***")
	}
	s, k := c.Source, c.Sink
	root := m(
		"pipeline", m("name", str(c.Pipeline.Name), "checkpoint-interval", str(c.Pipeline.CheckpointInterval.String()),
			"memory-limit-mb", num(c.Pipeline.MemoryLimitMB)),
		"state", m("dir", str(c.State.Dir)),
		"source", m("type", str(s.Type), "hostname", str(s.Hostname), "port", num(s.Port),
			"username", str(s.Username), "password", password, "database", str(s.Database),
			"tables", str(joinList(s.Tables)), "slot.name", str(s.SlotName), "publication.name", str(s.PublicationName),
			"snapshot.mode", str(s.SnapshotMode), "snapshot.parallelism", num(s.SnapshotParallelism),
			"snapshot.chunk-rows", num(s.SnapshotChunkRows)),
		"sink", m("type", str(k.Type),
			"catalog", m("type", str(k.Catalog.Type), "name", str(k.Catalog.Name), "uri", str(redactURI(k.Catalog.URI)),
				"credential", str(mask(k.Catalog.Credential)), "token", str(mask(k.Catalog.Token))),
			"warehouse", str(redactURI(k.Warehouse)),
			"s3", m("endpoint", str(k.S3.Endpoint), "region", str(k.S3.Region), "path-style", str(optBool(k.S3.PathStyle)),
				"access-key-id", str(k.S3.AccessKeyID), "secret-access-key", str(mask(k.S3.SecretAccessKey))),
			"namespace", str(k.Namespace), "mode", str(k.Mode)),
	)
	if s.Type == "mysql" {
		src := root.Content[5] // the source mapping: pipeline, state, source
		src.Content = append(src.Content, str("server-id"), num(s.ServerID))
		if s.ServerTimeZone != "" {
			src.Content = append(src.Content, str("server-time-zone"), str(s.ServerTimeZone))
		}
		if s.ZeroDate != "" {
			zd := str(s.ZeroDate)
			zd.Style = yaml.DoubleQuotedStyle // "null" is a word here, not YAML's null
			src.Content = append(src.Content, str("zero-date"), zd)
		}
	}
	if len(c.Route) > 0 {
		routes := &yaml.Node{Kind: yaml.SequenceNode}
		for _, r := range c.Route {
			item := m("source-table", str(r.SourceTable), "sink-table", str(r.SinkTable))
			if len(r.PrimaryKey) > 0 {
				item.Content = append(item.Content, str("primary-key"), str(joinList(r.PrimaryKey)))
			}
			routes.Content = append(routes.Content, item)
		}
		root.Content = append(root.Content, str("route"), routes)
	}
	cc := c.Compaction
	compaction := m("interval", str(cc.Interval.String()),
		"target-file-size-mb", num(cc.TargetFileSizeMB), "min-input-files", num(cc.MinInputFiles),
		"delete-file-threshold", num(cc.DeleteFileThreshold), "max-rewrite-mb", num(cc.MaxRewriteMB),
		"expire-snapshots-older-than", str(cc.ExpireSnapshotsOlderThan.String()), "retain-last", num(cc.RetainLast),
		"remove-orphans-older-than", str(cc.RemoveOrphansOlderThan.String()))
	if cc.Enabled != nil {
		compaction.Content = append([]*yaml.Node{str("enabled"), str(optBool(cc.Enabled))}, compaction.Content...)
	}
	root.Content = append(root.Content,
		str("compaction"), compaction,
		str("server"), m("metrics-address", str(c.Server.MetricsAddress)),
		str("log"), m("format", str(c.Log.Format), "level", str(c.Log.Level)))
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return fmt.Sprintf("# cannot render configuration: %v\n", err)
	}
	_ = enc.Close()
	return b.String()
}
