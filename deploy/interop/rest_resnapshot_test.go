package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floe-cdc/floe/deploy/e2e"
	"github.com/floe-cdc/floe/deploy/testdb"
)

// resnapCols are the compared columns of TestRESTCatalogResnapshot's table.
var resnapCols = []col{{"id", kInt}, {"name", kString}, {"n", kInt}}

// TestRESTCatalogResnapshot runs an online re-snapshot through Apache
// Iceberg's REST catalog server: floe commits the re-read table to the
// branch floe-resnapshot while the stream goes on, then points main at
// the branch's head and removes the branch. Trino reads main all along
// (never fewer rows than before: main is not emptied), the catalog's
// snapshot log shows main moving from its old head straight to the
// branch's head, and right after the switch Trino and PyIceberg read main
// equal to the source row by row, and Trino lists main as the table's
// only ref.
func TestRESTCatalogResnapshot(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	tr := trino(t)
	l := newLake(t, "restresnap")
	rc := startRESTFor(t, l)
	const rows = 60000
	l.exec(`CREATE TABLE items (id bigint PRIMARY KEY, name text, n integer NOT NULL)`,
		fmt.Sprintf(`INSERT INTO items SELECT g, 'item ' || g, 0 FROM generate_series(1, %d) g`, rows),
		`CREATE TABLE markers (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())`,
		"ALTER TABLE items OWNER TO u_restresnap", "ALTER TABLE markers OWNER TO u_restresnap")
	port, err := testdb.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	token := "interop-admin-token"
	l.floe().WriteConfig(e2e.Config{Name: l.name,
		Source: e2e.Source{Type: "postgres", Port: sharedPG.Port, User: "u_" + l.name, Database: l.name,
			Tables: `public\..*`, Extra: "  snapshot.chunk-rows: 200\n  snapshot.parallelism: 1\n"},
		Sink: l.sink("    type: rest\n    uri: "+rc.URL+"\n", l.warehouse)})
	addAdmin(t, l.configPath, port)
	floe := func() *e2e.Pipeline {
		p := l.floe()
		p.Env = append(p.Env, "FLOE_ADMIN_TOKEN="+token)
		return p
	}
	r := floe().Start()
	l.sync(r)

	props := trinoS3Props()
	props["iceberg.catalog.type"] = "rest"
	props["iceberg.rest-catalog.uri"] = rc.URL
	if err := tr.CreateCatalog(ctx, "restresnap", props); err != nil {
		t.Fatal(err)
	}
	before := restMetadata(t, rc.URL, "lake", "items")
	samples := sampleTrinoCount(t, tr, "restresnap.lake.items")
	if out, code := floe().Run(time.Minute, "resnapshot", "--config", l.configPath, "--online", "--table", "public.items"); code != 0 {
		t.Fatalf("floe resnapshot: exit %d:\n%s\nlog:\n%s", code, out, tailFile(l.logPath, 40))
	}
	// Changes while the table is read again: each a new row (the count
	// only grows) and an update of an old one.
	for i := 0; !strings.Contains(tailFile(l.logPath, 100000), "re-snapshot published"); i++ {
		if i > 3000 {
			t.Fatalf("main was not switched to the re-snapshot after %d changes; log:\n%s", i, tailFile(l.logPath, 40))
		}
		l.exec(fmt.Sprintf("INSERT INTO items VALUES (%d, 'new %d', %d)", rows+1+i, i, i),
			fmt.Sprintf("UPDATE items SET n = n + 1, name = 'changed %d' WHERE id = %d", i, (i*7919)%rows+1))
		time.Sleep(20 * time.Millisecond)
	}
	minSeen, n, err := samples.stop()
	if err != nil {
		t.Fatalf("reading main through trino during the re-snapshot: %v", err)
	}
	l.catchUpAndStop(r, "markers")

	if minSeen < rows {
		t.Errorf("Trino read %d rows of main during the re-snapshot (lowest of %d reads), fewer than the %d it held before", minSeen, n, rows)
	}
	want := l.readPG("items", resnapCols)
	if d := diff(want, readTrino(t, tr, "restresnap.lake.items", resnapCols), resnapCols, 20); len(d) > 0 {
		t.Errorf("items through trino (rest catalog) differs from the source after the re-snapshot:\n%s", strings.Join(d, "\n"))
	}
	py := pyS3Props()
	py["type"] = "rest"
	py["uri"] = rc.URL
	p := readPython(t, py, "lake.items")["lake.items"]
	if d := diff(want, pyTable(t, p, resnapCols), resnapCols, 20); len(d) > 0 {
		t.Errorf("items through pyiceberg (rest catalog) differs from the source after the re-snapshot:\n%s", strings.Join(d, "\n"))
	}
	// main went from its head before the re-snapshot straight to the
	// branch's head, several snapshots on: no reader of main could see a
	// state in between (the reset, a part of the chunks). The snapshot log
	// is where the catalog records each snapshot main pointed at.
	after := restMetadata(t, rc.URL, "lake", "items")
	head0 := before.Log[len(before.Log)-1].ID
	if len(after.Log) <= len(before.Log) || after.Log[len(before.Log)-1].ID != head0 {
		t.Fatalf("main's snapshot log after the re-snapshot %v does not continue the one before %v", after.Log, before.Log)
	}
	switched := after.Log[len(before.Log)].ID
	if parent := after.parent(switched); parent == head0 {
		t.Errorf("main's first snapshot after the re-snapshot (%d) is a child of the head before it (%d): the re-snapshot was committed to main, not published at once; snapshot log %v",
			switched, head0, after.Log)
	}
	refs, err := tr.Query(ctx, `SELECT name, type FROM restresnap.lake."items$refs" ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(refs.Rows); got != "[[main BRANCH]]" {
		t.Errorf("items refs through trino: %s, want main only", got)
	}
	t.Logf("items: %d rows equal in source, trino and pyiceberg after the re-snapshot; trino read main %d times during it, never below %d rows (lowest %d)",
		len(want), n, rows, minSeen)
}

// restTable is what the REST catalog says of a table's snapshots: the
// snapshot log (every snapshot main pointed at, oldest first) and each
// snapshot's parent.
type restTable struct {
	Log []struct {
		ID int64 `json:"snapshot-id"`
	} `json:"snapshot-log"`
	Snapshots []struct {
		ID     int64 `json:"snapshot-id"`
		Parent int64 `json:"parent-snapshot-id"`
	} `json:"snapshots"`
}

// parent returns snapshot id's parent (0: none or unknown).
func (r restTable) parent(id int64) int64 {
	for _, s := range r.Snapshots {
		if s.ID == id {
			return s.Parent
		}
	}
	return 0
}

// restMetadata loads namespace.table's metadata from the REST catalog at
// base (GET /v1/namespaces/{ns}/tables/{table}, as every reader does).
func restMetadata(t *testing.T, base, namespace, table string) restTable {
	t.Helper()
	resp, err := http.Get(base + "/v1/namespaces/" + namespace + "/tables/" + table)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("load %s.%s from the rest catalog: %s", namespace, table, resp.Status)
	}
	var body struct {
		Metadata restTable `json:"metadata"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode %s.%s from the rest catalog: %v", namespace, table, err)
	}
	if len(body.Metadata.Log) == 0 {
		t.Fatalf("%s.%s has an empty snapshot log", namespace, table)
	}
	return body.Metadata
}

// addAdmin turns on floe's admin API on port (token from
// FLOE_ADMIN_TOKEN) in the config at path.
func addAdmin(t *testing.T, path string, port int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, "\nlog:\n") {
		t.Fatalf("config %s has no log: section", path)
	}
	s = strings.Replace(s, "\nlog:\n", "\nserver:\n  admin-address: 127.0.0.1:"+strconv.Itoa(port)+"\n  admin-token: ${FLOE_ADMIN_TOKEN}\nlog:\n", 1)
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// trinoCounts samples count(*) of a table through Trino until stopped.
type trinoCounts struct {
	stopOnce sync.Once
	done     chan struct{}
	finished chan struct{}
	min, n   int
	err      error
}

func sampleTrinoCount(t *testing.T, tr *Trino, table string) *trinoCounts {
	s := &trinoCounts{done: make(chan struct{}), finished: make(chan struct{}), min: -1}
	go func() {
		defer close(s.finished)
		for {
			select {
			case <-s.done:
				return
			default:
			}
			res, err := tr.Query(context.Background(), "SELECT count(*) FROM "+table)
			if err != nil {
				s.err = err
				return
			}
			c, err := strconv.Atoi(fmt.Sprint(res.Rows[0][0]))
			if err != nil {
				s.err = fmt.Errorf("count %v: %w", res.Rows, err)
				return
			}
			if s.min < 0 || c < s.min {
				s.min = c
			}
			s.n++
		}
	}()
	t.Cleanup(func() { s.stop() })
	return s
}

// stop ends the sampling and returns the lowest count, the number of
// reads and the error that ended the sampling early, if one did.
func (s *trinoCounts) stop() (int, int, error) {
	s.stopOnce.Do(func() { close(s.done) })
	<-s.finished
	return s.min, s.n, s.err
}
