package main

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/riferrei/srclient"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
)

// registeredVersion is one version in the embedded registry's document.
type registeredVersion struct {
	Version int `json:"version"`
	ID      int `json:"id"`
}

// embeddedVersions reads the versions the embedded registry holds for
// subject from the pipeline's SQLite catalog database.
func embeddedVersions(t *testing.T, e *pipelineEnv, subject string) []registeredVersion {
	t.Helper()
	cfg := e.loadConfig()
	db, err := sql.Open("sqlite", "file:"+sqlitePath(cfg.Sink.Catalog.URI)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var doc string
	if err := db.QueryRow(`SELECT document FROM floe_schema_registry_subjects WHERE subject = ?`, subject).Scan(&doc); err != nil {
		t.Fatalf("subject %s in the embedded registry: %v", subject, err)
	}
	var d struct {
		Format        int                 `json:"format"`
		Compatibility string              `json:"compatibility"`
		Versions      []registeredVersion `json:"versions"`
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatal(err)
	}
	return d.Versions
}

// expectTableRegistry fails t unless the floe.registry.* properties of
// Iceberg table name, read through the catalog, record want (the latest
// version of the subject, as the registry reports it).
func expectTableRegistry(t *testing.T, e *pipelineEnv, name string, want ledger.RegistryEntry) {
	t.Helper()
	props := e.sinkTable(name).Properties()
	got, err := ledger.RegistryOf(props)
	if err != nil || got == nil || *got != want {
		t.Fatalf("the table properties of %s record %+v (%v), want %+v: %v", name, got, err, want, props)
	}
}

// TestRegistryEmbeddedMySQL runs floe with the embedded registry (no
// registry.url) under compatibility FORWARD: each table's sink layout is
// registered when its Iceberg table is created; an added nullable column
// (forward compatible) registers version 2 before the table evolves and
// the floe.schema-change record names it; a widened column, which FORWARD
// refuses (a reader of the old schema cannot read a long as an int),
// stops floe with one line naming the table, the subject and the rule,
// and the Iceberg table keeps its schema.
func TestRegistryEmbeddedMySQL(t *testing.T) {
	e := newMySQLEnv(t, "my_registry", "upsert", "")
	e.appendConfig("registry:\n  compatibility: FORWARD\n")
	e.seed(50)
	r := e.start()
	e.waitCaughtUp(r, 2*time.Minute)
	cfg := e.loadConfig()
	// The default naming: pipeline, source database, source table.
	subject := cfg.Pipeline.Name + ".my_registry.accounts-value"
	v := embeddedVersions(t, e.pipelineEnv, subject)
	if len(v) != 1 {
		t.Fatalf("subject %s holds %d versions after the snapshot, want 1", subject, len(v))
	}
	expectTableRegistry(t, e.pipelineEnv, "accounts", ledger.RegistryEntry{Subject: subject, ID: v[0].ID, Version: 1})

	e.sql("ALTER TABLE accounts ADD COLUMN nick VARCHAR(12) NULL", "UPDATE accounts SET nick = 'n' WHERE id = 1")
	e.waitCaughtUp(r, 2*time.Minute)
	versions := embeddedVersions(t, e.pipelineEnv, subject)
	if len(versions) != 2 {
		t.Fatalf("subject %s holds %d versions after ADD COLUMN, want 2", subject, len(versions))
	}
	var recorded string
	for _, s := range sinkHistory(t, e.pipelineEnv, "accounts") {
		if v := s.Props[ledger.PropSchemaChange]; v != "" {
			recorded = v
		}
	}
	changes, err := ledger.ParseSchemaChanges(recorded)
	if err != nil || len(changes) != 1 || changes[0].Registry == nil {
		t.Fatalf("floe.schema-change %q records no registry entry (%v)", recorded, err)
	}
	if got := *changes[0].Registry; got.Subject != subject || got.Version != 2 || got.ID != versions[1].ID {
		t.Fatalf("floe.schema-change records %+v, want subject %s version 2 id %d", got, subject, versions[1].ID)
	}
	expectTableRegistry(t, e.pipelineEnv, "accounts", *changes[0].Registry)

	e.sql("ALTER TABLE accounts MODIFY small BIGINT", "UPDATE accounts SET small = 5000000000 WHERE id = 2")
	select {
	case <-r.Exited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("floe did not stop at the refused schema change; log:\n%s", e.tail(40))
	}
	log := e.tail(200)
	want := "table my_registry.accounts: schema registry subject " + subject + " refuses the new schema under compatibility FORWARD"
	if !strings.Contains(log, want) || !strings.Contains(log, "the Iceberg table was left unchanged") {
		t.Fatalf("the log does not say %q; log:\n%s", want, e.tail(40))
	}
	if v := embeddedVersions(t, e.pipelineEnv, subject); len(v) != 2 {
		t.Fatalf("subject %s holds %d versions after the refusal, want 2", subject, len(v))
	}
	small := e.sinkTable("accounts").Layout()
	if c := small.Columns[small.Index("small")]; c.Type.String() != "int" {
		t.Fatalf("the Iceberg column small is %s after the refusal, want int (unchanged)", c.Type)
	}

	// The fix the line names: re-snapshot the table. resnapshot retires
	// the subject's versions, so the new layout registers (version 3)
	// and the table is rebuilt equal to the source.
	out, code := runFloe(t, e.pipelineEnv, "resnapshot", "--config", e.config, "--table", "my_registry.accounts")
	if code != 0 {
		t.Fatalf("floe resnapshot exit %d:\n%s", code, out)
	}
	appendLog(t, e.pipelineEnv, "=== test: start 1 ===")
	r = e.start()
	e.waitCaughtUp(r, 2*time.Minute)
	e.stop(r)
	e.mustVerify(3)
	versions = embeddedVersions(t, e.pipelineEnv, subject)
	if len(versions) != 3 || versions[2].Version != 3 {
		t.Fatalf("subject %s holds %+v after the re-snapshot, want a third version", subject, versions)
	}
	small = e.sinkTable("accounts").Layout()
	if c := small.Columns[small.Index("small")]; c.Type.String() != "long" {
		t.Fatalf("the Iceberg column small is %s after the re-snapshot, want long", c.Type)
	}
	expectTableRegistry(t, e.pipelineEnv, "accounts", ledger.RegistryEntry{Subject: subject, ID: versions[2].ID, Version: 3})
}

// TestRegistryConfluent runs floe against a Confluent-API registry over
// HTTP (franz-go's in-memory registry, served by this test process) with
// basic authentication: each table's schema is registered at creation
// under the subject registry.subject-name names (here the Iceberg
// naming), with the configured compatibility set on its new subject, and
// the table properties record the registry's latest version; a changed
// naming registers the table fresh under its new subject and leaves the
// old one alone.
func TestRegistryConfluent(t *testing.T) {
	fake := srfake.New(srfake.WithAuth(basicAuthHeader("floe", "reg-s3cret")))
	defer fake.Close()
	e := newPipelineEnv(t, "registry_http", `public\.orders`, "upsert", "")
	e.exec("CREATE TABLE orders (id bigint PRIMARY KEY, amount numeric(12,2), at timestamptz, u uuid)",
		"INSERT INTO orders SELECT g, g * 1.5, now(), gen_random_uuid() FROM generate_series(1, 20) g",
		"ALTER TABLE orders OWNER TO u_registry_http")
	e.appendConfig("registry:\n  url: " + fake.URL() + "\n  username: floe\n  password: reg-s3cret\n  compatibility: FULL\n" +
		"  subject-name: \"{namespace}.{iceberg_table}-value\"\n")
	r := e.start()
	e.waitCaughtUp(r, 2*time.Minute)
	e.stop(r)
	// A restart registers the unchanged table again: idempotent.
	r = e.start()
	e.waitCaughtUp(r, 2*time.Minute)
	e.stop(r)
	subject := e.loadConfig().Sink.Namespace + ".orders-value"
	got, ok := fake.GetSchema(subject, 1)
	if !ok {
		t.Fatalf("the registry holds no version 1 of %s; log:\n%s", subject, e.tail(40))
	}
	for _, want := range []string{`"logicalType":"decimal","precision":12,"scale":2`, `"logicalType":"uuid"`, `"logicalType":"timestamp-micros"`, `"name":"_floe_op"`} {
		if !strings.Contains(got.Schema.Schema, want) {
			t.Fatalf("the registered schema lacks %s: %s", want, got.Schema.Schema)
		}
	}
	admin := srclient.NewSchemaRegistryClient(fake.URL())
	admin.SetCredentials("floe", "reg-s3cret")
	if lvl, err := admin.GetCompatibilityLevel(subject, false); err != nil || *lvl != srclient.Full {
		t.Fatalf("subject %s compatibility: %v, %v; want FULL", subject, lvl, err)
	}
	if _, ok := fake.GetSchema(subject, 2); ok {
		t.Fatalf("a restart registered %s again", subject)
	}
	latest, err := admin.GetLatestSchema(subject)
	if err != nil {
		t.Fatal(err)
	}
	expectTableRegistry(t, e, "orders", ledger.RegistryEntry{Subject: subject, ID: latest.ID(), Version: latest.Version()})

	// Switching to the default naming (an upgrade from the old one):
	// the next start registers the table's layout fresh under the new
	// subject, the table properties follow it, and the old subject is
	// left as it was.
	rewriteConfig(t, e, "  subject-name: \"{namespace}.{iceberg_table}-value\"\n", "")
	r = e.start()
	e.waitCaughtUp(r, 2*time.Minute)
	e.stop(r)
	renamed := e.loadConfig().Pipeline.Name + ".public.orders-value"
	fresh, err := admin.GetLatestSchema(renamed)
	if err != nil || fresh.Version() != 1 || fresh.Schema() != latest.Schema() {
		t.Fatalf("subject %s after the naming changed: %v, %v; want version 1 of the same schema", renamed, fresh, err)
	}
	expectTableRegistry(t, e, "orders", ledger.RegistryEntry{Subject: renamed, ID: fresh.ID(), Version: 1})
	if old, err := admin.GetLatestSchema(subject); err != nil || old.Version() != latest.Version() {
		t.Fatalf("the old subject %s: %v, %v; want it left at version %d", subject, old, err, latest.Version())
	}
	if strings.Contains(e.tail(100000), "reg-s3cret") {
		t.Fatal("the registry password is in the log")
	}
}

func basicAuthHeader(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// TestRegistryAvroNames: a table whose column names adjust to one Avro
// name ("a b" and "a_b") cannot be registered: floe check reports it and
// floe run refuses it, each in one line naming the table, the columns and
// the fix, before any Iceberg table is created.
func TestRegistryAvroNames(t *testing.T) {
	needServers(t)
	e := newPipelineEnv(t, "registry_names", `public\.cols`, "upsert", "")
	e.exec(`CREATE TABLE cols (id int PRIMARY KEY, "a b" text, a_b text)`, `INSERT INTO cols VALUES (1, 'x', 'y')`,
		`ALTER TABLE cols OWNER TO u_registry_names`)
	out := refusedByBoth(t, e, configLine(t, e, "tables:"), `table public.cols: avro schema for lake.cols: columns "a b" and "a_b" both map to Avro field a_b`)
	expectOneLineError(t, out, 1, "fix: rename one of the columns, or exclude the table from source.tables")
	cfg := e.loadConfig()
	cat, err := openCatalog(context.Background(), cfg, newLogger(cfg.Log, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	if _, err := cat.LoadTable(context.Background(), lakewriter.Ident{Namespace: cfg.Sink.Namespace, Name: "cols"}); !errors.Is(err, lakewriter.ErrNoSuchTable) {
		t.Fatalf("the Iceberg table lake.cols: %v, want none created", err)
	}
}

// TestRegistrySubjectClash: a registry.subject-name that maps two
// captured tables to one subject is refused by floe check and floe run,
// naming both tables and the subject, before any Iceberg table is
// created.
func TestRegistrySubjectClash(t *testing.T) {
	needServers(t)
	e := newPipelineEnv(t, "registry_clash", `public\.(a|b)`, "upsert", "")
	e.exec(`CREATE TABLE a (id int PRIMARY KEY)`, `CREATE TABLE b (id int PRIMARY KEY)`,
		`ALTER TABLE a OWNER TO u_registry_clash`, `ALTER TABLE b OWNER TO u_registry_clash`)
	e.appendConfig("registry:\n  subject-name: \"{pipeline}.{schema}-value\"\n")
	cfg := e.loadConfig()
	refusedByBoth(t, e, configLine(t, e, "subject-name:"), "registry.subject-name",
		"tables public.a and public.b both map to subject "+cfg.Pipeline.Name+".public-value")
	cat, err := openCatalog(context.Background(), cfg, newLogger(cfg.Log, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	if _, err := cat.LoadTable(context.Background(), lakewriter.Ident{Namespace: cfg.Sink.Namespace, Name: "a"}); !errors.Is(err, lakewriter.ErrNoSuchTable) {
		t.Fatalf("the Iceberg table a: %v, want none created", err)
	}
}
