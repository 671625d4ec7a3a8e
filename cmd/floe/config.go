package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/postgres"
	"github.com/floe-cdc/floe/checkpoint"
	"github.com/floe-cdc/floe/compaction"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/schema/problem"
	"github.com/floe-cdc/floe/transform"
)

// Config is one floe configuration file (Flink CDC pipeline shape) after
// ${VAR} expansion and defaults. Build it with LoadConfig or ParseConfig; a
// Config built in code starts from DefaultConfig, then ApplyDefaults and
// Validate. Paths (state dir, local warehouse, sqlite catalog file) are
// absolute after ApplyDefaults: relative ones, and the defaults, resolve
// against the config file's directory (see config_paths.go).
//
// The file's sections map onto the configurations of the packages that
// own them: source: onto the source type's Config (postgres.Config,
// mysql.Config; see source_types.go), source.snapshot.* and
// pipeline.checkpoint-interval onto checkpoint.Config, sink: onto
// lakewriter.Options, compaction: is compaction.Config. Their defaults
// and checks live there; this package decodes the YAML (with lines),
// resolves paths, checks what spans packages, and builds them.
type Config struct {
	Pipeline   PipelineConfig
	State      StateConfig
	Source     SourceConfig
	Sink       SinkConfig
	Route      []RouteConfig
	Compaction CompactionConfig
	Server     ServerConfig
	Log        LogConfig
	Registry   RegistryConfig

	lines map[string]int // field path -> line in the file; nil for a Config built in code
	dir   string         // the config file's directory; "" for a Config built in code (working directory)
	file  string         // the config file's name as given, labelling problems; "" for a Config built in code
}

// PipelineConfig is the `pipeline:` section.
type PipelineConfig struct {
	Name               string        // name; required
	CheckpointInterval time.Duration // checkpoint-interval (checkpoint.Config.Interval); at least MinCheckpointInterval
	// MemoryLimitMB is memory-limit-mb: the memory in MiB the process is
	// meant to stay within. Go's soft memory limit is set to three quarters
	// of it (the collector works harder as the heap nears that; the rest
	// is for memory outside the Go heap), and each table's buffer gets
	// 1/16 of it (at most 64 MiB); default 1024, 0 sets no limit
	// (GOMEMLIMIT, when set, is used then). See memory.go.
	MemoryLimitMB int
	// OnUnfollowableChange is on-unfollowable-change
	// (checkpoint.Config.UnfollowableChange): resnapshot (default) or stop.
	OnUnfollowableChange string
	// DeadLetter is dead-letter (checkpoint.Config.DeadLetter): table
	// (default; a change with a value that cannot be written goes to
	// <namespace>._floe_dead_letters and the run goes on) or off (the run
	// stops with the value's error).
	DeadLetter string
	// CheckpointMaxChanges (checkpoint-max-changes) and CheckpointMaxMB
	// (checkpoint-max-mb) cut a checkpoint before checkpoint-interval once
	// the changes buffered since the last one reach that many, or that
	// many MiB as estimated (checkpoint.Config.MaxCheckpointChanges and
	// MaxCheckpointBytes); default 1,000,000 changes and no size trigger
	// (0). At least MinCheckpointMaxChanges and MinCheckpointMaxMB.
	CheckpointMaxChanges int
	CheckpointMaxMB      int
	// SchemaChangeBehavior is schema-change-behavior
	// (checkpoint.Config.SchemaChangeBehavior): lenient (default),
	// exception, evolve, try_evolve or ignore.
	SchemaChangeBehavior string
}

// StateConfig is the `state:` section.
type StateConfig struct {
	Dir string // dir; default .floe/<pipeline.name> beside the config file, made absolute
}

// SourceConfig is the `source:` section: every key of every source type.
// Defaults and checks are the type's Config's (source_types.go); the
// snapshot.* keys are checkpoint.Config's.
type SourceConfig struct {
	Type     string // type: postgres | mysql (MySQL and MariaDB; the flavour is detected)
	Hostname string // hostname
	Port     int    // port; the type's default (5432, 3306)
	Username string // username; required
	Password string // password; never printed, see Redacted
	Database string // database; required for postgres, unused by mysql (tables name their database)
	// ServerID is server-id (mysql): the replica server id of the binlog
	// connection; default derived from pipeline.name
	// (mysql.DefaultServerID).
	ServerID int
	// ServerTimeZone is server-time-zone (mysql): unset or UTC keeps DATETIME
	// as Iceberg timestamp (wall clock); any other IANA zone lands DATETIME
	// as timestamptz, read in that zone. TIMESTAMP is UTC instants always.
	ServerTimeZone string
	// ZeroDate is zero-date (mysql): error | null | epoch; unset is error.
	ZeroDate string
	// Tables holds the patterns of `tables`, a comma-separated list split on
	// commas not escaped by a backslash (`\,` is a literal comma, `\.` stays
	// a regexp escape). Each is a regexp on "schema.table".
	Tables []string
	// TableRegexps are Tables compiled and anchored as ^(?:pattern)$.
	TableRegexps        []*regexp.Regexp
	SlotName            string // slot.name; default postgres.IdentFor(pipeline.name)
	PublicationName     string // publication.name; same default
	SnapshotMode        string // snapshot.mode: initial | never | initial_only
	SnapshotParallelism int    // snapshot.parallelism: 1..64
	SnapshotChunkRows   int    // snapshot.chunk-rows: >= 1
	// HeartbeatInterval is heartbeat-interval: how long the stream may
	// stay idle before Floe writes a heartbeat (PostgreSQL) or the server
	// sends one (MySQL).
	HeartbeatInterval time.Duration
	// StallTimeout is stall-timeout: how long the stream may bring nothing
	// while Floe waits for it before it counts as a lost connection;
	// default capture.DefaultStallTimeout(heartbeat-interval).
	StallTimeout time.Duration
}

// SinkConfig is the `sink:` section.
type SinkConfig struct {
	Type    string // type: iceberg
	Catalog CatalogConfig
	// Warehouse is an absolute local path (a relative path or file:// URI
	// is resolved against the config file's directory) or
	// s3://bucket/prefix; default .floe/warehouse beside the config file
	// (outside the state dir, which may be deleted) for the sql catalog.
	// For rest it is optional (no default) and passed to the server as is.
	Warehouse string
	S3        S3Config // s3: access to an s3:// warehouse and S3 table locations
	Namespace string   // namespace; default pipeline.name
	Mode      string   // mode: upsert | changelog; default upsert
	// Timeout bounds connecting to the catalog database, S3 or a REST
	// catalog and every wait for data from them on an open connection
	// (lakewriter.Options.Timeout); timeout.
	Timeout time.Duration
	// NumericUnconstrained is numeric-unconstrained: the Iceberg type of
	// PostgreSQL numeric columns declared without precision (string,
	// double or decimal(P,S); config_columns.go); default "", which keeps
	// decimal(38,18).
	NumericUnconstrained string
	// DeleteMode is delete-mode: auto (default; position deletes where
	// Floe knows the row's place) or equality (lakewriter.Options).
	DeleteMode string
	// PositionDeletesMaxKeys is position-deletes-max-keys: the most keys
	// the key indexes of all tables hold together
	// (lakewriter.Options.PositionDeletesMaxKeys).
	PositionDeletesMaxKeys int
	// Arrange is partition-by and sort-by, the default of every route
	// (config_partition.go).
	Arrange ArrangeConfig
}

// CatalogConfig is `sink.catalog:`.
type CatalogConfig struct {
	Type string // type: sql | rest | glue (glue is untested)
	Name string // name
	// URI is, for sql, sqlite:///abs/path (sqlite:relative/path is
	// resolved against the config file's directory) or a postgres:// /
	// postgresql:// URL, default sqlite://<config dir>/.floe/catalog.db;
	// for rest the server's http(s) base URL (required); unused by glue.
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
	// Columns is columns: the Iceberg type chosen for source columns by
	// name (config_columns.go); optional.
	Columns map[string]ColumnConfig
	Arrange ArrangeConfig // partition-by, sort-by (config_partition.go)
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
type CompactionConfig = compaction.Config

// ServerConfig is the `server:` section.
type ServerConfig struct {
	MetricsAddress string // metrics-address, host:port for /metrics, /healthz and /readyz; empty = off
	// ReadyMaxLag is ready-max-lag: the largest source lag at which
	// /readyz still answers ready; default 5m.
	ReadyMaxLag time.Duration
	// AdminAddress is admin-address: host:port of the admin API (/status
	// and actions, besides /metrics, /healthz and /readyz); a bare :port
	// listens on 127.0.0.1 only; empty = off.
	AdminAddress string
	// AdminToken is admin-token: the bearer token the admin API's actions
	// require (${VAR} expanded); empty = actions refused.
	AdminToken string
}

// LogConfig is the `log:` section.
type LogConfig struct {
	Format string // format: text | json; default text
	Level  string // level: debug | info | warn | error; default info
}

// Problem is one configuration problem: Field is the dotted field path
// ("source.slot.name", "route[1].sink-table"); Line is 1-based, 0 if
// unknown.
type Problem = problem.Problem

// ConfigError carries every problem found in one file. Error renders one
// line per problem: "FILE:LINE: PATH: MESSAGE (fix: FIX)".
type ConfigError struct {
	File     string
	Problems []Problem
}

func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Format(e.File)
	}
	return strings.Join(lines, "\n")
}

// problemError is problems as floe check prints them: each with the line
// of its field in c's file.
func (c *Config) problemError(problems []Problem) *ConfigError {
	out := make([]Problem, len(problems))
	for i, p := range problems {
		p.Line = c.lineOf(p.Field)
		out[i] = p
	}
	return &ConfigError{File: c.file, Problems: out}
}

// DefaultConfig returns the defaults that do not depend on other fields,
// taken from the packages that own them; the source's are PostgreSQL's
// until ApplyDefaults knows source.type.
func DefaultConfig() *Config {
	pg, cp, sink := postgres.Defaults(), checkpoint.Defaults(), lakewriter.Defaults()
	return &Config{
		Pipeline: PipelineConfig{CheckpointInterval: cp.Interval, MemoryLimitMB: defaultMemoryLimitMB,
			CheckpointMaxChanges: cp.MaxCheckpointChanges, CheckpointMaxMB: int(cp.MaxCheckpointBytes >> 20),
			SchemaChangeBehavior: string(cp.SchemaChangeBehavior), OnUnfollowableChange: cp.UnfollowableChange,
			DeadLetter: cp.DeadLetter},
		Source: SourceConfig{Hostname: pg.Host, Port: pg.Port, SnapshotMode: cp.SnapshotMode,
			SnapshotParallelism: cp.SnapshotParallelism, SnapshotChunkRows: cp.SnapshotChunkRows, HeartbeatInterval: pg.HeartbeatInterval},
		Sink: SinkConfig{Catalog: CatalogConfig{Type: sink.CatalogType, Name: sink.CatalogName}, Mode: transform.Upsert.String(), Timeout: sink.Timeout,
			DeleteMode: sink.DeleteMode, PositionDeletesMaxKeys: sink.PositionDeletesMaxKeys},
		Compaction: compaction.Defaults(),
		Server:     ServerConfig{ReadyMaxLag: 5 * time.Minute},
		Log:        LogConfig{Format: "text", Level: "info"},
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

// ParseConfig is LoadConfig on data; name is the file's path: it labels
// problems, and relative paths resolve against its directory. lookupEnv
// resolves ${VAR} (nil: no variable is set). Problems come back as one
// *ConfigError, sorted by line, and never contain the password.
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
	c.lines, c.dir, c.file = d.lines, fileDir(name), name
	if err := c.ApplyDefaults(); err != nil {
		return nil, err
	}
	problems := d.problems
	for _, p := range c.Validate() {
		if !d.reported(p.Field) { // a field that failed to decode is not reported twice
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		problem.Sort(problems)
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

// ApplyDefaults fills the defaults that depend on other fields (those
// of source.type, see source_types.go), makes local paths absolute (see
// resolvePaths), qualifies route sink tables with sink.namespace and
// compiles the table patterns that compile (Validate reports the others).
func (c *Config) ApplyDefaults() error {
	name := c.Pipeline.Name
	if c.Source.SlotName == "" {
		c.Source.SlotName = postgres.IdentFor(name)
	}
	if c.Source.PublicationName == "" {
		c.Source.PublicationName = postgres.IdentFor(name)
	}
	if t, ok := lookupSourceType(c.Source.Type); ok {
		t.defaults(c)
	}
	if c.Source.StallTimeout == 0 {
		c.Source.StallTimeout = capture.DefaultStallTimeout(c.Source.HeartbeatInterval)
	}
	if c.Sink.Namespace == "" {
		c.Sink.Namespace = name
	}
	if err := c.resolvePaths(); err != nil {
		return err
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

// set says whether the file sets path.
func (c *Config) set(path string) bool {
	_, ok := c.lines[path]
	return ok
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
