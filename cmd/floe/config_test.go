package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture/postgres"
)

const testSecret = "hunter2-Sup3r$ecret"

// testEnv is a fixed environment for ${VAR} expansion.
func testEnv(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "config", name))
	require.NoError(t, err)
	return data
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	require.NoError(t, err)
	return a
}

// configProblems parses data and returns its problems (nil when valid).
func configProblems(t *testing.T, data string, env map[string]string) []Problem {
	t.Helper()
	_, err := ParseConfig("floe.yaml", []byte(data), testEnv(env))
	if err == nil {
		return nil
	}
	var cerr *ConfigError
	require.ErrorAs(t, err, &cerr)
	return cerr.Problems
}

func TestConfigFullExample(t *testing.T) {
	cfg, err := ParseConfig("full.yaml", readTestdata(t, "full.yaml"), testEnv(map[string]string{"PGPASSWORD": testSecret}))
	require.NoError(t, err)
	require.Equal(t, "shop", cfg.Pipeline.Name)
	require.Equal(t, 10*time.Second, cfg.Pipeline.CheckpointInterval)
	require.Equal(t, "/var/lib/floe/shop", cfg.State.Dir)
	s := cfg.Source
	require.Equal(t, "postgres", s.Type)
	require.Equal(t, "127.0.0.1", s.Hostname)
	require.Equal(t, 5432, s.Port)
	require.Equal(t, "floe", s.Username)
	require.Equal(t, testSecret, s.Password)
	require.Equal(t, "shop", s.Database)
	require.Equal(t, []string{"public.orders", `public\.line_.*`}, s.Tables)
	require.Len(t, s.TableRegexps, 2)
	require.Equal(t, `^(?:public\.line_.*)$`, s.TableRegexps[1].String())
	require.True(t, s.TableRegexps[1].MatchString("public.line_items"))
	require.False(t, s.TableRegexps[1].MatchString("public_line_items"), "\\. must stay an escaped dot")
	require.False(t, s.TableRegexps[0].MatchString("public.orders_old"), "patterns are anchored")
	require.Equal(t, "floe_shop", s.SlotName)
	require.Equal(t, "floe_shop", s.PublicationName)
	require.Equal(t, "initial", s.SnapshotMode)
	require.Equal(t, 2, s.SnapshotParallelism)
	require.Equal(t, 50000, s.SnapshotChunkRows)
	k := cfg.Sink
	require.Equal(t, "iceberg", k.Type)
	require.Equal(t, CatalogConfig{Type: "sql", Name: "floe", URI: "sqlite:///var/lib/floe/catalog.db"}, k.Catalog)
	require.Equal(t, "/var/lib/floe/warehouse", k.Warehouse)
	require.Equal(t, "shop", k.Namespace)
	require.Equal(t, "upsert", k.Mode)
	require.Len(t, cfg.Route, 1)
	r := cfg.Route[0]
	require.Equal(t, "public.orders", r.SourceTable)
	require.Equal(t, "shop.orders_v1", r.SinkTable)
	require.Empty(t, r.PrimaryKey)
	require.True(t, r.SourceRegexp.MatchString("public.orders"))
	ns, name := r.SinkIdent()
	require.Equal(t, [2]string{"shop", "orders_v1"}, [2]string{ns, name})
	require.Equal(t, ServerConfig{ReadyMaxLag: 5 * time.Minute}, cfg.Server)
	require.Equal(t, LogConfig{Format: "text", Level: "info"}, cfg.Log)
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := ParseConfig("minimal.yaml", readTestdata(t, "minimal.yaml"), nil)
	require.NoError(t, err)
	dir := mustAbs(t, filepath.Join(".floe", "My-Shop"))
	require.Equal(t, dir, cfg.State.Dir)
	require.Equal(t, 10*time.Second, cfg.Pipeline.CheckpointInterval)
	require.Equal(t, 1024, cfg.Pipeline.MemoryLimitMB)
	require.Equal(t, "127.0.0.1", cfg.Source.Hostname)
	require.Equal(t, 5432, cfg.Source.Port)
	require.Equal(t, "", cfg.Source.Password)
	require.Equal(t, "floe_my_shop", cfg.Source.SlotName)
	require.Equal(t, "floe_my_shop", cfg.Source.PublicationName)
	require.Equal(t, "initial", cfg.Source.SnapshotMode)
	require.Equal(t, 2, cfg.Source.SnapshotParallelism)
	require.Equal(t, 50000, cfg.Source.SnapshotChunkRows)
	// The lake lives beside the state dir, which may be deleted.
	lake := mustAbs(t, ".floe")
	require.Equal(t, CatalogConfig{Type: "sql", Name: "floe", URI: "sqlite://" + filepath.Join(lake, "catalog.db")}, cfg.Sink.Catalog)
	require.Equal(t, filepath.Join(lake, "warehouse"), cfg.Sink.Warehouse)
	require.Equal(t, "My-Shop", cfg.Sink.Namespace)
	require.Equal(t, "upsert", cfg.Sink.Mode)
	require.Equal(t, time.Minute, cfg.Sink.Timeout)
	require.Empty(t, cfg.Route)
	require.Equal(t, "", cfg.Server.MetricsAddress)
	require.Equal(t, LogConfig{Format: "text", Level: "info"}, cfg.Log)
}

func TestConfigDefaultIdent(t *testing.T) {
	for in, want := range map[string]string{
		"shop":                  "floe_shop",
		"My-Shop.eu 2":          "floe_my_shop_eu_2",
		"Çafé":                  "floe__af_", // every rune outside [a-z0-9_] becomes _
		strings.Repeat("a", 80): "floe_" + strings.Repeat("a", 58),
	} {
		require.Equal(t, want, postgres.IdentFor(in), in)
	}
}

func TestConfigRelativePathsAbsolute(t *testing.T) {
	cfg, err := ParseConfig("f.yaml", []byte(`
pipeline: {name: p}
state: {dir: st}
source: {type: postgres, username: u, database: d, tables: a.b}
sink:
  type: iceberg
  warehouse: file://wh
  catalog: {uri: "sqlite:cat/c.db"}
`), nil)
	require.NoError(t, err)
	require.Equal(t, mustAbs(t, "st"), cfg.State.Dir)
	require.Equal(t, mustAbs(t, "wh"), cfg.Sink.Warehouse)
	require.Equal(t, "sqlite://"+mustAbs(t, "cat/c.db"), cfg.Sink.Catalog.URI)
}

// TestConfigPathsResolveAgainstFileDir: relative paths and the path
// defaults resolve against the config file's directory, not the working
// directory, so one file names one state dir, catalog and lake from
// anywhere.
func TestConfigPathsResolveAgainstFileDir(t *testing.T) {
	dir := t.TempDir()
	doc := strings.Replace(minimalYAML, "sink:\n  type: iceberg\n", "state:\n  dir: st\nsink:\n  type: iceberg\n  warehouse: file://wh\n", 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "explicit.yaml"), []byte(doc), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "defaults.yaml"), []byte(minimalYAML), 0o644))
	for _, wd := range []string{t.TempDir(), dir} {
		t.Chdir(wd)
		for _, path := range []string{filepath.Join(dir, "explicit.yaml"), filepath.Join(dir, "defaults.yaml")} {
			if wd == dir {
				path = filepath.Base(path) // a relative config path
			}
			cfg, err := LoadConfig(path)
			require.NoError(t, err)
			if strings.HasSuffix(path, "explicit.yaml") {
				require.Equal(t, filepath.Join(dir, "st"), cfg.State.Dir, "from %s", wd)
				require.Equal(t, filepath.Join(dir, "wh"), cfg.Sink.Warehouse, "from %s", wd)
			} else {
				require.Equal(t, filepath.Join(dir, ".floe", "shop"), cfg.State.Dir, "from %s", wd)
				require.Equal(t, filepath.Join(dir, ".floe", "warehouse"), cfg.Sink.Warehouse, "from %s", wd)
			}
			require.Equal(t, "sqlite://"+filepath.Join(dir, ".floe", "catalog.db"), cfg.Sink.Catalog.URI, "from %s", wd)
			require.Contains(t, cfg.pathsLine(), "relative paths and defaults resolve against "+dir+",")
		}
	}
	// A configuration built in code has no file: the working directory.
	cfg := DefaultConfig()
	cfg.Pipeline.Name, cfg.Sink.Catalog.URI = "demo", "sqlite:c.db"
	require.NoError(t, cfg.ApplyDefaults())
	require.Equal(t, "sqlite://"+mustAbs(t, "c.db"), cfg.Sink.Catalog.URI)
}

const minimalYAML = `pipeline:
  name: shop
source:
  type: postgres
  username: floe
  database: shop
  tables: public.orders
sink:
  type: iceberg
`

// TestConfigProblems checks one error class per case: the path, line,
// message and fix of the first problem, and how many problems there are.
func TestConfigProblems(t *testing.T) {
	tests := []struct {
		name, yaml   string
		env          map[string]string
		count        int
		path         string
		line         int
		message, fix string
	}{
		{name: "typo with suggestion", yaml: "pipeline:\n  name: shop\n  checkpoint-intervall: 5s\n" + minimalYAML[len("pipeline:\n  name: shop\n"):],
			count: 1, path: "pipeline.checkpoint-intervall", line: 3, message: "unknown key", fix: "did you mean checkpoint-interval?"},
		{name: "memory limit too small", yaml: strings.Replace(minimalYAML, "  name: shop\n", "  name: shop\n  memory-limit-mb: 64\n", 1),
			count: 1, path: "pipeline.memory-limit-mb", line: 3, message: "64 MiB is too little for Floe", fix: "use at least 128 (MiB), or 0 for no limit"},
		{name: "unknown key without suggestion", yaml: minimalYAML + "  flavour: vanilla\n",
			count: 1, path: "sink.flavour", line: 10, message: "unknown key", fix: "known keys under sink: type, catalog, warehouse"},
		{name: "alias suggestion", yaml: strings.Replace(minimalYAML, "username", "user", 1),
			count: 2, path: "source.user", line: 5, message: "unknown key", fix: "did you mean username?"},
		{name: "case suggestion", yaml: strings.Replace(minimalYAML, "database", "Database", 1),
			count: 2, path: "source.Database", line: 6, message: "unknown key", fix: "did you mean database?"},
		{name: "unknown top-level section", yaml: minimalYAML + "sinks:\n  type: x\n",
			count: 1, path: "sinks", line: 10, message: "unknown key", fix: "did you mean sink?"},
		{name: "later section", yaml: minimalYAML + "transform:\n  - projection: a\n",
			count: 1, path: "transform", line: 10, message: "not supported yet"},
		{name: "map in list", yaml: strings.Replace(minimalYAML, "tables: public.orders", "tables: [public.a, {b: c}]", 1),
			count: 1, path: "source.tables[1]", line: 7, message: "expected a string, got a mapping"},
		{name: "only bad list items", yaml: strings.Replace(minimalYAML, "tables: public.orders", "tables: [[a]]", 1),
			count: 1, path: "source.tables[0]", line: 7, message: "expected a string, got a list"},
		{name: "wrong type port", yaml: strings.Replace(minimalYAML, "  type: postgres\n", "  type: postgres\n  port: lots\n", 1),
			count: 1, path: "source.port", line: 5, message: `expected an integer, got "lots"`},
		{name: "map where scalar", yaml: strings.Replace(minimalYAML, "database: shop", "database: {name: shop}", 1),
			count: 1, path: "source.database", line: 6, message: "expected a string, got a mapping"},
		{name: "scalar where map", yaml: "pipeline: shop\n" + minimalYAML[len("pipeline:\n  name: shop\n"):],
			count: 1, path: "pipeline", line: 1, message: "expected a mapping, got a string"},
		{name: "string where list", yaml: minimalYAML + "route: public.orders\n",
			count: 1, path: "route", line: 10, message: "expected a list, got a string"},
		{name: "bad duration", yaml: strings.Replace(minimalYAML, "name: shop", "name: shop\n  checkpoint-interval: 10", 1),
			count: 1, path: "pipeline.checkpoint-interval", line: 3, message: `bad duration "10"`, fix: "10s"},
		{name: "checkpoint interval below the minimum", yaml: strings.Replace(minimalYAML, "name: shop", "name: shop\n  checkpoint-interval: 1ns", 1),
			count: 1, path: "pipeline.checkpoint-interval", line: 3, message: "1ns is shorter than the minimum of 1s", fix: "use 1s or more: every checkpoint commits an Iceberg snapshot"},
		{name: "duplicate route", yaml: minimalYAML + "route:\n  - source-table: public.orders\n    sink-table: o1\n  - source-table: public.orders\n    sink-table: o2\n",
			count: 1, path: "route[1].source-table", line: 13, message: "duplicate of route[0] (line 11): the first matching route applies, so this one never would", fix: "keep one route"},
		{name: "route for an uncaptured table", yaml: minimalYAML + "route:\n  - source-table: public\\.order\n    sink-table: o\n",
			count: 1, path: "route[0].source-table", line: 11, message: "table public.order is not captured: no pattern of source.tables (public.orders) matches it", fix: "add the table to source.tables"},
		{name: "negative duration", yaml: strings.Replace(minimalYAML, "name: shop", "name: shop\n  checkpoint-interval: -1s", 1),
			count: 1, path: "pipeline.checkpoint-interval", line: 3, message: "-1s is not positive"},
		{name: "sink timeout not positive", yaml: minimalYAML + "  timeout: 0s\n",
			count: 1, path: "sink.timeout", line: 10, message: "0s is not positive"},
		{name: "bad regex", yaml: strings.Replace(minimalYAML, "public.orders", `public.orders, public\.(x`, 1),
			count: 1, path: "source.tables", line: 7, message: `bad table pattern "public\\.(x": missing closing )`},
		{name: "missing required", yaml: "pipeline:\n  checkpoint-interval: 1s\nsource:\n  hostname: db\n",
			count: 6, path: "pipeline.name", line: 1, message: "required"},
		{name: "empty file", yaml: "", count: 6, path: "pipeline.name", line: 0, message: "required"},
		{name: "unset env var", yaml: strings.Replace(minimalYAML, "username: floe", "username: ${DB_USER}", 1),
			count: 1, path: "source.username", line: 5, message: "environment variable DB_USER is not set", fix: "export DB_USER"},
		{name: "unterminated env ref", yaml: strings.Replace(minimalYAML, "username: floe", "username: ${DB_USER", 1),
			count: 1, path: "source.username", line: 5, message: "unterminated ${"},
		{name: "bad env name", yaml: strings.Replace(minimalYAML, "username: floe", "username: ${DB-USER}", 1),
			count: 1, path: "source.username", line: 5, message: "bad environment variable reference ${DB-USER}"},
		{name: "enum with suggestion", yaml: minimalYAML + "  mode: changelgo\n",
			count: 1, path: "sink.mode", line: 10, message: `unknown value "changelgo"`, fix: "use upsert or changelog (did you mean changelog?)"},
		{name: "mysql server-id beyond the ids", yaml: strings.Replace(minimalYAML, "type: postgres", "type: mysql\n  server-id: 4294967296", 1),
			count: 1, path: "source.server-id", line: 5, message: "4294967296 is out of range", fix: "use a value from 1 to 4294967295"},
		{name: "mysql server-time-zone", yaml: strings.Replace(minimalYAML, "type: postgres", "type: mysql\n  server-time-zone: Mars/Olympus", 1),
			count: 1, path: "source.server-time-zone", line: 5, message: `unknown time zone "Mars/Olympus"`, fix: "IANA zone name"},
		{name: "mysql zero-date", yaml: strings.Replace(minimalYAML, "type: postgres", "type: mysql\n  zero-date: bogus", 1),
			count: 1, path: "source.zero-date", line: 5, message: "bogus"},
		{name: "snapshot mode", yaml: strings.Replace(minimalYAML, "tables: public.orders", "tables: public.orders\n  snapshot.mode: initial-only", 1),
			count: 1, path: "source.snapshot.mode", line: 8, message: `unknown value "initial-only"`, fix: "did you mean initial_only?"},
		{name: "parallelism range", yaml: strings.Replace(minimalYAML, "tables: public.orders", "tables: public.orders\n  snapshot.parallelism: 0", 1),
			count: 1, path: "source.snapshot.parallelism", line: 8, message: "0 is out of range", fix: "from 1 to 64"},
		{name: "bad slot name", yaml: strings.Replace(minimalYAML, "tables: public.orders", "tables: public.orders\n  slot.name: Floe-Shop", 1),
			count: 1, path: "source.slot.name", line: 8, message: `bad replication slot name "Floe-Shop"`},
		{name: "log level", yaml: minimalYAML + "log:\n  level: verbose\n",
			count: 1, path: "log.level", line: 11, message: `unknown value "verbose"`},
		{name: "metrics address", yaml: minimalYAML + "server:\n  metrics-address: localhost\n",
			count: 1, path: "server.metrics-address", line: 11, message: `bad listen address "localhost"`},
		{name: "gs warehouse", yaml: minimalYAML + "  warehouse: gs://bucket/wh\n",
			count: 1, path: "sink.warehouse", line: 10, message: "gs:// warehouses are not supported yet"},
		{name: "s3 half a key pair", yaml: minimalYAML + "  warehouse: s3://bucket/wh\n  s3:\n    access-key-id: AKIA\n",
			count: 1, path: "sink.s3.access-key-id", line: 12, message: "only one of the key pair is set"},
		{name: "rest needs a uri", yaml: minimalYAML + "  catalog:\n    type: rest\n",
			count: 1, path: "sink.catalog.uri", line: 10, message: "required for a rest catalog"},
		{name: "catalog uri password hidden", yaml: minimalYAML + "  catalog:\n    uri: mysql://u:pw-in-uri@h/db\n",
			count: 1, path: "sink.catalog.uri", line: 11, message: `unsupported catalog URI "mysql://u:xxxxx@h/db"`},
		{name: "sqlite host part", yaml: minimalYAML + "  catalog:\n    uri: sqlite://cat.db\n",
			count: 1, path: "sink.catalog.uri", line: 11, message: `"sqlite://cat.db" is not a SQLite file path`, fix: "sqlite:relative.db"},
		{name: "sqlite query", yaml: minimalYAML + "  catalog:\n    uri: sqlite:///c.db?mode=ro\n",
			count: 1, path: "sink.catalog.uri", line: 11, message: "is not a SQLite file path"},
		{name: "route with neither sink nor key", yaml: minimalYAML + "route:\n  - source-table: public.orders\n",
			count: 1, path: "route[0].sink-table", line: 11, message: "a route needs a sink-table, a primary-key, columns, a partition-by or a sort-by"},
		{name: "route bad sink table", yaml: minimalYAML + "route:\n  - source-table: public.orders\n    sink-table: a..b\n",
			count: 1, path: "route[0].sink-table", line: 12, message: `bad sink table "a..b"`},
		{name: "route bad regex", yaml: minimalYAML + "route:\n  - source-table: public.[orders\n    sink-table: o\n",
			count: 1, path: "route[0].source-table", line: 11, message: "missing closing ]"},
		{name: "route key needs one table", yaml: minimalYAML + "route:\n  - source-table: public\\..*\n    sink-table: o\n    primary-key: id\n",
			count: 1, path: "route[0].primary-key", line: 13, message: "exactly one schema.table"},
		{name: "route unknown key", yaml: minimalYAML + "route:\n  - source-table: public.orders\n    sink-table: o\n    primary-keys: id\n",
			count: 1, path: "route[0].primary-keys", line: 13, message: "unknown key", fix: "did you mean primary-key?"},
		{name: "duplicate key", yaml: minimalYAML + "  type: iceberg\n",
			count: 1, path: "sink.type", line: 10, message: "duplicate key (first at line 9)"},
		{name: "second document", yaml: minimalYAML + "---\na: 1\n",
			count: 1, path: "", line: 10, message: "a second YAML document"},
		{name: "yaml syntax", yaml: "pipeline:\n  name: shop\n source: x\n",
			count: 1, path: "", line: 2, message: "bad YAML: did not find expected key"},
		{name: "yaml tab", yaml: "pipeline:\n\tname: shop\n",
			count: 1, path: "", line: 2, message: "bad YAML: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := configProblems(t, tt.yaml, tt.env)
			require.Len(t, problems, tt.count, "problems: %+v", problems)
			i := slices.Index(problemPaths(problems), tt.path)
			require.GreaterOrEqual(t, i, 0, "no problem at %s: %+v", tt.path, problems)
			p := problems[i]
			require.Equal(t, tt.line, p.Line, "%+v", p)
			require.Contains(t, p.Message, tt.message)
			require.Contains(t, p.Fix, tt.fix)
			require.NotEmpty(t, p.Fix, "every problem names a fix")
		})
	}
}

// TestConfigAllProblemsAtOnce checks that one file with many mistakes yields
// every one of them, in line order, with their paths, and no password.
func TestConfigAllProblemsAtOnce(t *testing.T) {
	_, err := ParseConfig("many-problems.yaml", readTestdata(t, "many-problems.yaml"), testEnv(map[string]string{"FLOE_PW": testSecret}))
	var cerr *ConfigError
	require.ErrorAs(t, err, &cerr)
	type at struct {
		Line  int
		Field string
	}
	var got []at
	for _, p := range cerr.Problems {
		got = append(got, at{p.Line, p.Field})
	}
	require.Equal(t, []at{
		{3, "pipeline.checkpoint-intervall"},
		{5, "state.dir"},
		{6, "source.database"}, // missing: reported at its section
		{7, "source.type"},
		{9, "source.port"},
		{12, "source.tables"},
		{13, "source.snapshot.mode"},
		{14, "source.snapshot.parallelism"},
		{15, "source.snapshot.chunk-rows"},
		{19, "sink.catalog.type"},
		{20, "sink.mode"},
		{23, "route[0].sink-table"},
		{24, "route[1].source-table"},
		{25, "route[1].primary-key"},
		{27, "server.metrics-adress"},
		{29, "log.level"},
	}, got)
	msg := err.Error()
	lines := strings.Split(msg, "\n")
	require.Len(t, lines, len(got))
	require.Equal(t, `many-problems.yaml:3: pipeline.checkpoint-intervall: unknown key (fix: did you mean checkpoint-interval?)`, lines[0])
	require.Equal(t, `many-problems.yaml:15: source.snapshot.chunk-rows: environment variable CHUNK_ROWS is not set (fix: export CHUNK_ROWS or remove the reference)`, lines[8])
	require.NotContains(t, msg, testSecret)
}

func problemPaths(ps []Problem) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Field
	}
	return out
}

func TestConfigEnvExpansion(t *testing.T) {
	env := map[string]string{"PGHOST": "db.internal", "PGPORT": "6543", "SCHEMA": "sales", "EMPTY": "", "NS": "lake", "EVERY": "30s"}
	cfg, err := ParseConfig("f.yaml", []byte(`
pipeline: {name: shop, checkpoint-interval: "${EVERY}"}
source:
  type: postgres
  hostname: ${PGHOST}
  port: ${PGPORT}
  username: floe
  password: "$${NOT_A_VAR}${EMPTY}$x"
  database: shop
  tables: ${SCHEMA}\.orders, ${SCHEMA}\.items
sink:
  type: iceberg
  namespace: ${NS}
route:
  - source-table: ${SCHEMA}\.orders
    sink-table: orders_${SCHEMA}
`), testEnv(env))
	require.NoError(t, err)
	require.Equal(t, 30*time.Second, cfg.Pipeline.CheckpointInterval)
	require.Equal(t, "db.internal", cfg.Source.Hostname)
	require.Equal(t, 6543, cfg.Source.Port)
	require.Equal(t, "${NOT_A_VAR}$x", cfg.Source.Password, "$${ escapes, a lone $ stays, an empty variable expands to nothing")
	require.Equal(t, []string{`sales\.orders`, `sales\.items`}, cfg.Source.Tables)
	require.Equal(t, "lake", cfg.Sink.Namespace)
	require.Equal(t, "lake.orders_sales", cfg.Route[0].SinkTable, "a route without namespace gets sink.namespace")
	require.True(t, cfg.Route[0].SourceRegexp.MatchString("sales.orders"))

	// Every unset variable is reported, each with its path.
	problems := configProblems(t, "pipeline:\n  name: ${A}-${B}\nsource:\n  hostname: ${C}\n", nil)
	var unset []string
	for _, p := range problems {
		if strings.Contains(p.Message, "is not set") {
			unset = append(unset, p.Field+" "+p.Message)
		}
	}
	require.Equal(t, []string{
		"pipeline.name environment variable A is not set",
		"pipeline.name environment variable B is not set",
		"source.hostname environment variable C is not set",
	}, unset)
	for _, p := range problems {
		if p.Field == "pipeline.name" || p.Field == "source.hostname" {
			require.Contains(t, p.Message, "is not set", "a field whose variable is unset is not reported again")
		}
	}
}

func TestConfigSplitList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"public.orders", []string{"public.orders"}},
		{`public.orders, public\.line_.*`, []string{"public.orders", `public\.line_.*`}},
		{` a , b ,, c, `, []string{"a", "b", "c"}},
		{`public\.t_\d{1\,3}, x`, []string{`public\.t_\d{1,3}`, "x"}},
		{`a\\,b`, []string{`a\\`, "b"}}, // an escaped backslash does not escape the comma
		{`a\\\,b`, []string{`a\\,b`}},   // but an odd run does
		{`(a|b)\.c,d`, []string{`(a|b)\.c`, "d"}},
		{"", nil},
	}
	for _, tt := range tests {
		got := splitList(tt.in)
		require.Equal(t, tt.want, got, "split %q", tt.in)
		if len(got) > 0 {
			require.Equal(t, tt.want, splitList(joinList(got)), "join inverts split for %q", tt.in)
		}
	}
	cfg, err := ParseConfig("f.yaml", []byte(strings.Replace(minimalYAML, "tables: public.orders", `tables: public\.t_\d{1\,3}, public\.orders`, 1)), nil)
	require.NoError(t, err)
	require.True(t, cfg.Source.TableRegexps[0].MatchString("public.t_12"))
	require.False(t, cfg.Source.TableRegexps[0].MatchString("public.t_1234"))
	require.False(t, cfg.Source.TableRegexps[1].MatchString("publicXorders"))
}

func TestConfigPasswordNeverInErrors(t *testing.T) {
	env := map[string]string{"PW": testSecret}
	for name, doc := range map[string]string{
		"password in a number field": strings.Replace(minimalYAML, "username: floe", "username: floe\n  password: ${PW}\n  port: ${PW}", 1),
		"password in an enum":        strings.Replace(minimalYAML, "username: floe", "username: floe\n  password: ${PW}\n  snapshot.mode: ${PW}", 1),
		"password in catalog uri":    strings.Replace(minimalYAML, "username: floe", "username: floe\n  password: ${PW}", 1) + "  catalog:\n    uri: mysql://floe:${PW}@db/cat\n",
		"password as a mapping":      strings.Replace(minimalYAML, "username: floe", "username: floe\n  password: {value: "+testSecret+"}", 1),
		"password in pipeline name":  strings.Replace(strings.Replace(minimalYAML, "name: shop", "name: ${PW}", 1), "username: floe", "username: floe\n  password: ${PW}", 1),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseConfig("f.yaml", []byte(doc), testEnv(env))
			require.Error(t, err)
			require.NotContains(t, err.Error(), testSecret)
			require.NotContains(t, err.Error(), "Sup3r")
		})
	}

	// The password is hidden even when quoted before the line defining it,
	// and only quoted values are rewritten: a one-letter password does not
	// garble the message text.
	doc := strings.Replace(minimalYAML, "type: postgres", "type: postgres\n  port: ${PW}x", 1)
	doc = strings.Replace(doc, "username: floe", "username: floe\n  password: ${PW}", 1)
	_, err := ParseConfig("f.yaml", []byte(doc), testEnv(map[string]string{"PW": "e"}))
	require.EqualError(t, err, `f.yaml:5: source.port: expected an integer, got "***x" (fix: write a whole number such as 2)`)
}

func TestConfigRedacted(t *testing.T) {
	env := map[string]string{"PGPASSWORD": testSecret}
	doc := string(readTestdata(t, "full.yaml")) + "    primary-key: id, tenant\n" +
		"  - source-table: public\\.events_\\d{1,2}\n    sink-table: events\nserver:\n  metrics-address: 127.0.0.1:9464\nlog:\n  format: json\n"
	doc = strings.Replace(doc, "uri: sqlite:///var/lib/floe/catalog.db", "uri: postgres://cat:${PGPASSWORD}@db/catalog", 1)
	doc = strings.Replace(doc, "username: floe", "username: floe$${x}", 1)
	cfg, err := ParseConfig("full.yaml", []byte(doc), testEnv(env))
	require.NoError(t, err)
	out := cfg.Redacted()
	require.NotContains(t, out, testSecret)
	require.Contains(t, out, "password: '***'")
	require.Contains(t, out, "uri: postgres://cat:xxxxx@db/catalog")
	require.Contains(t, out, "  slot.name: floe_shop\n")
	require.Contains(t, out, "    primary-key: id, tenant\n")

	// The dump parses back to the same configuration, password aside.
	back, err := ParseConfig("redacted", []byte(out), nil)
	require.NoError(t, err, out)
	require.Equal(t, "***", back.Source.Password)
	require.Equal(t, "postgres://cat:xxxxx@db/catalog", back.Sink.Catalog.URI)
	back.Source.Password, back.Sink.Catalog.URI = cfg.Source.Password, cfg.Sink.Catalog.URI
	back.lines, cfg.lines, back.file = nil, nil, cfg.file
	require.Equal(t, cfg, back)
	require.Equal(t, "floe${x}", back.Source.Username)
	require.Equal(t, []string{`public\.events_\d{1,2}`}, []string{back.Route[1].SourceTable})

	none := DefaultConfig()
	require.Contains(t, none.Redacted(), `password: ""`)

	// A MySQL source keeps its own settings through the dump.
	my := strings.Replace(minimalYAML, "type: postgres", "type: mysql\n  server-id: 5401\n  server-time-zone: Europe/Berlin\n  zero-date: null", 1)
	mcfg, err := ParseConfig("my.yaml", []byte(my), nil)
	require.NoError(t, err)
	mout := mcfg.Redacted()
	mback, err := ParseConfig("redacted", []byte(mout), nil)
	require.NoError(t, err, mout)
	require.Equal(t, 5401, mback.Source.ServerID)
	require.Equal(t, "Europe/Berlin", mback.Source.ServerTimeZone)
	require.Equal(t, "null", mback.Source.ZeroDate)
}

func TestConfigInCode(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Pipeline.Name = "demo"
	cfg.Source.Type, cfg.Source.Username, cfg.Source.Database = "postgres", "floe", "shop"
	cfg.Source.Tables = []string{`public\..*`, `bad(`}
	cfg.Sink.Type = "iceberg"
	require.NoError(t, cfg.ApplyDefaults())
	require.Len(t, cfg.Source.TableRegexps, 1, "only the patterns that compile")
	problems := cfg.Validate()
	require.Len(t, problems, 1)
	require.Equal(t, Problem{Field: "source.tables", Message: `bad table pattern "bad(": missing closing )`,
		Fix: "write a valid regular expression (RE2 syntax)"}, problems[0])
	require.Equal(t, "f.yaml: source.tables: bad table pattern \"bad(\": missing closing ) (fix: write a valid regular expression (RE2 syntax))",
		(&ConfigError{File: "f.yaml", Problems: problems}).Error())
}

func TestLoadConfig(t *testing.T) {
	t.Setenv("PGPASSWORD", testSecret)
	cfg, err := LoadConfig(filepath.Join("testdata", "config", "full.yaml"))
	require.NoError(t, err)
	require.Equal(t, testSecret, cfg.Source.Password)

	_, err = LoadConfig(filepath.Join("testdata", "config", "missing.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)
	var cerr *ConfigError
	require.False(t, errors.As(err, &cerr))
}

func TestConfigCompaction(t *testing.T) {
	cfg, err := ParseConfig("c.yaml", []byte(minimalYAML), nil)
	require.NoError(t, err)
	require.True(t, cfg.Compaction.On(), "compaction runs by default")
	require.Equal(t, 30*time.Minute, cfg.Compaction.Interval)

	y := minimalYAML + `compaction:
  enabled: false
  interval: 5m
  target-file-size-mb: 64
  min-input-files: 3
  delete-file-threshold: 4
  max-rewrite-mb: 0
  expire-snapshots-older-than: 0s
  retain-last: 5
  max-snapshots: 300
  remove-orphans-older-than: 48h
`
	cfg, err = ParseConfig("c.yaml", []byte(y), nil)
	require.NoError(t, err)
	want := CompactionConfig{Enabled: cfg.Compaction.Enabled, Interval: 5 * time.Minute, TargetFileSizeMB: 64,
		MinInputFiles: 3, DeleteFileThreshold: 4, RetainLast: 5, MaxSnapshots: 300, RemoveOrphansOlderThan: 48 * time.Hour}
	require.Equal(t, want, cfg.Compaction)
	require.False(t, cfg.Compaction.On())
	back, err := ParseConfig("redacted", []byte(cfg.Redacted()), nil)
	require.NoError(t, err, cfg.Redacted())
	require.Equal(t, cfg.Compaction, back.Compaction)

	bad := minimalYAML + `compaction:
  interval: 0s
  retain-last: 0
  max-snapshots: -1
  remove-orphans-older-than: 10m
  expire-snapshots-older-than: -1h
  min-input-file: 3
  min-input-files: 1
`
	_, err = ParseConfig("c.yaml", []byte(bad), nil)
	require.Error(t, err)
	for _, path := range []string{"compaction.interval", "compaction.retain-last", "compaction.max-snapshots", "compaction.remove-orphans-older-than",
		"compaction.expire-snapshots-older-than", "compaction.min-input-file", "compaction.min-input-files"} {
		require.Contains(t, err.Error(), path)
	}
	require.Contains(t, err.Error(), "too short to be safe")
}
