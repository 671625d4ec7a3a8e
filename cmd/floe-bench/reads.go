package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/floe-cdc/floe/deploy/interop"
	"github.com/floe-cdc/floe/lakewriter"
)

// The reads scenario (issue 12): Trino queries one Floe table while floe
// streams a paced mixed workload at the freshness checkpoint interval,
// then the same queries run on the table after `floe compact`. Trino
// reads the lake through the JDBC catalog on PostgreSQL and S3, as a
// user's would: the catalog is a database on the bench's PostgreSQL
// server, the warehouse a bucket on deploy/interop's S3 server, and
// Trino is deploy/interop's (started once per source, stopped at the end).

// readsTable is the table queried: the largest (40 % of the rows).
const readsTable = "orders"

// readServices are the S3 server and Trino of the reads scenario.
type readServices struct {
	s3    *interop.S3Server
	trino *interop.Trino
}

const readsBucket = "bench"

// readServices starts S3 and Trino the first time they are needed.
func (b *bench) readServices(ctx context.Context) (*readServices, error) {
	if b.reads != nil {
		return b.reads, nil
	}
	b.log.Info("reads: starting S3 and Trino (deploy/interop; Trino takes a minute or more on a busy machine)")
	s3, err := interop.StartS3(ctx)
	if err != nil {
		return nil, fmt.Errorf("start S3: %w", err)
	}
	if err := s3.CreateBucket(readsBucket); err != nil {
		_ = s3.Stop()
		return nil, fmt.Errorf("create bucket: %w", err)
	}
	tr, err := interop.StartTrino(ctx)
	if err != nil {
		_ = s3.Stop()
		return nil, fmt.Errorf("start Trino: %w", err)
	}
	b.log.Info("reads: Trino started", "url", tr.URL, "version", tr.Version)
	b.reads = &readServices{s3: s3, trino: tr}
	return b.reads, nil
}

// stopReadServices stops Trino and S3 if they were started.
func (b *bench) stopReadServices() {
	if b.reads == nil {
		return
	}
	if err := b.reads.trino.Stop(); err != nil {
		b.log.Warn("stop Trino", "err", err)
	}
	if err := b.reads.s3.Stop(); err != nil {
		b.log.Warn("stop S3", "err", err)
	}
	b.reads = nil
}

// readsPipeline creates run i's catalog database and the pipeline whose
// lake is that catalog and s3://bench/reads<i>, and registers the same
// lake as Trino catalog reads<i>.
func (b *bench) readsPipeline(ctx context.Context, svc *readServices, i int) (*pipelineDir, string, error) {
	pg, ok := b.src.(*pgSource)
	if !ok {
		return nil, "", errors.New("the reads scenario needs the postgres source (its catalog database)")
	}
	name := fmt.Sprintf("reads%d", i)
	catDB, catUser := name+"_catalog", name+"_cat"
	if _, err := pg.db.CreateDatabase(ctx, catDB, catUser, pgPassword); err != nil {
		return nil, "", fmt.Errorf("create catalog database: %w", err)
	}
	s3 := svc.s3
	warehouse := fmt.Sprintf("s3://%s/%s", readsBucket, name)
	uri := fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", catUser, pgPassword, pg.db.Port, catDB)
	// The key index holds every table's keys, so that the stream's
	// updates delete by position, as with fewer rows than the default
	// bound (sink.position-deletes-max-keys, 1M).
	sink := fmt.Sprintf("  catalog:\n    type: sql\n    name: floe\n    uri: %s\n  warehouse: %s\n  s3:\n    endpoint: %s\n    region: %s\n"+
		"    path-style: true\n    access-key-id: %s\n    secret-access-key: ${FLOE_BENCH_S3_SECRET}\n  position-deletes-max-keys: %d\n",
		uri, warehouse, s3.Endpoint, s3.Region, s3.AccessKey, readsMaxKeys(b.o.rows))
	pathStyle := true
	lake := &lakewriter.Options{CatalogType: "sql", CatalogName: "floe", URI: uri, Warehouse: warehouse,
		S3: lakewriter.S3Options{Endpoint: s3.Endpoint, Region: s3.Region, PathStyle: &pathStyle, AccessKeyID: s3.AccessKey, SecretAccessKey: s3.SecretKey}}
	d, err := b.floe.newPipelineWith(name, "initial", b.tables, b.o.interval,
		pipelineOpts{sink: sink, lake: lake, env: []string{"FLOE_BENCH_S3_SECRET=" + s3.SecretKey}, compaction: b.backgroundCompaction()})
	if err != nil {
		return nil, "", err
	}
	err = svc.trino.CreateCatalog(ctx, name, map[string]string{
		"iceberg.catalog.type":                       "jdbc",
		"iceberg.jdbc-catalog.driver-class":          "org.postgresql.Driver",
		"iceberg.jdbc-catalog.connection-url":        fmt.Sprintf("jdbc:postgresql://127.0.0.1:%d/%s", pg.db.Port, catDB),
		"iceberg.jdbc-catalog.connection-user":       catUser,
		"iceberg.jdbc-catalog.connection-password":   pgPassword,
		"iceberg.jdbc-catalog.catalog-name":          "floe",
		"iceberg.jdbc-catalog.default-warehouse-dir": warehouse,
		"fs.native-s3.enabled":                       "true",
		"s3.endpoint":                                s3.Endpoint,
		"s3.region":                                  s3.Region,
		"s3.path-style-access":                       "true",
		"s3.aws-access-key":                          s3.AccessKey,
		"s3.aws-secret-key":                          s3.SecretKey,
	})
	if err != nil {
		return nil, "", fmt.Errorf("create Trino catalog %s: %w", name, err)
	}
	return d, fmt.Sprintf("%s.%s.%s", name, lakeNamespace, readsTable), nil
}

// readQueries are the two queries of the scenario, each run on the
// table as it is now (current) and as `floe compact` left it before the
// stream (its snapshot compacted, read with FOR VERSION AS OF), back to
// back in each round, so that both see the same load on the machine.
type readQueries struct {
	table     string
	compacted int64 // the snapshot after floe compact
	trino     *interop.Trino
	lo, span  int64
	rng       *rand.Rand
	rounds    int
	// lat holds the latencies by query (scan, lookup) and by table state
	// (current, compacted).
	lat [2][2][]float64
}

// newReadQueries reads the key range of table's snapshot compacted
// through Trino (the lookups pick keys in it; a key deleted since returns
// no row, which costs a reader the same work).
func newReadQueries(ctx context.Context, tr *interop.Trino, table string, compacted int64) (*readQueries, error) {
	q := &readQueries{table: table, compacted: compacted, trino: tr, rng: rand.New(rand.NewPCG(12, 16))}
	res, err := tr.Query(ctx, "SELECT min(id), max(id) FROM "+q.from(true))
	if err != nil {
		return nil, err
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 2 {
		return nil, fmt.Errorf("key range of %s: unexpected result %v", table, res.Rows)
	}
	var lo, hi int64
	if _, err := fmt.Sscan(fmt.Sprint(res.Rows[0][0], " ", res.Rows[0][1]), &lo, &hi); err != nil {
		return nil, fmt.Errorf("key range of %s: %w", table, err)
	}
	q.lo, q.span = lo, max(hi-lo+1, 1)
	return q, nil
}

// from names the table now, or at its compacted snapshot.
func (q *readQueries) from(compacted bool) string {
	if compacted {
		return fmt.Sprintf("%s FOR VERSION AS OF %d", q.table, q.compacted)
	}
	return q.table
}

// round runs the scan and a lookup of one key on the table now and on
// its compacted snapshot, recording their latency; which state goes
// first alternates between rounds.
func (q *readQueries) round(ctx context.Context) error {
	key := q.lo + q.rng.Int64N(q.span)
	first := q.rounds%2 == 1
	q.rounds++
	for kind := range 2 {
		for _, compacted := range []bool{first, !first} {
			sql := "SELECT count(*), sum(amount) FROM " + q.from(compacted)
			if kind == 1 {
				sql = fmt.Sprintf("SELECT * FROM %s WHERE id = %d", q.from(compacted), key)
			}
			start := time.Now()
			if _, err := q.trino.Query(ctx, sql); err != nil {
				return err
			}
			state := 0
			if compacted {
				state = 1
			}
			q.lat[kind][state] = append(q.lat[kind][state], time.Since(start).Seconds())
		}
	}
	return nil
}

// explain runs the scan under EXPLAIN ANALYZE VERBOSE on the table now
// and on its compacted snapshot and returns both plans, with their
// operators' input rows, bytes and CPU: where a scan of the live table
// spends what the compacted one does not.
func (q *readQueries) explain(ctx context.Context) (string, error) {
	var out strings.Builder
	for _, compacted := range []bool{false, true} {
		sql := "EXPLAIN ANALYZE VERBOSE SELECT count(*), sum(amount) FROM " + q.from(compacted)
		res, err := q.trino.Query(ctx, sql)
		if err != nil {
			return "", fmt.Errorf("%s: %w", sql, err)
		}
		fmt.Fprintf(&out, "-- %s (at %s)\n", sql, time.Now().UTC().Format(time.RFC3339))
		for _, row := range res.Rows {
			for _, v := range row {
				fmt.Fprintln(&out, v)
			}
		}
		out.WriteString("\n")
	}
	return out.String(), nil
}

// phases returns the latencies recorded on the table now (streaming) and
// on its compacted snapshot.
func (q *readQueries) phases() (streaming, compacted ReadPhase) {
	lat := func(xs []float64) Latency {
		return Latency{N: len(xs), P50: round3(percentile(xs, 50)), P99: round3(percentile(xs, 99)), Max: round3(percentile(xs, 100))}
	}
	return ReadPhase{Scan: lat(q.lat[0][0]), Lookup: lat(q.lat[1][0])}, ReadPhase{Scan: lat(q.lat[0][1]), Lookup: lat(q.lat[1][1])}
}

// readsRun runs one reads run: floe snapshots the tables and stops,
// `floe compact` compacts them (snapshot S of the queried table); floe
// then streams a paced load (-reads-rate for -reads-duration, at the
// -interval checkpoint interval, with background compaction every
// -compaction-interval) while Trino queries the table now and at S, back
// to back. The ratio now / at S is the read cost of the files the stream
// adds, with the machine's load the same on both sides.
func (b *bench) readsRun(ctx context.Context, i int) (Run, error) {
	svc, err := b.readServices(ctx)
	if err != nil {
		return Run{}, err
	}
	d, table, err := b.readsPipeline(ctx, svc, i)
	if err != nil {
		return Run{}, err
	}
	if err := b.readsSnapshot(ctx, d); err != nil {
		return Run{}, err
	}
	rr := &ReadRun{Table: table}
	if rr.Compacted, err = b.withFiles(ctx, d, ReadPhase{}); err != nil {
		return Run{}, err
	}
	if rr.CompactedSnapshot, err = currentSnapshot(ctx, svc.trino, table); err != nil {
		return Run{}, err
	}
	profile := b.profileFile(scReads, i)
	p, err := b.floe.start(d, profile)
	if err != nil {
		return Run{}, err
	}
	defer p.killIfRunning()
	q, err := newReadQueries(ctx, svc.trino, table, rr.CompactedSnapshot)
	if err != nil {
		return Run{}, err
	}
	explainTo := ""
	if b.floe.profiles != "" {
		explainTo = filepath.Join(b.floe.profiles, strings.TrimSuffix(profile, ".pprof")+".explain.txt")
	}
	ap, err := b.streamWhileQuerying(ctx, q, explainTo)
	if err != nil {
		return Run{}, err
	}
	if _, err := waitCommitted(ctx, d, b.tables, b.src.DecodeFloePosition, p, ap.Marker, runTimeout); err != nil {
		return Run{}, d.withLog(err)
	}
	if err := p.stop(stopTimeout); err != nil {
		return Run{}, err
	}
	streaming, compacted := q.phases()
	if rr.Rows, err = b.lakeRowCount(ctx, d, []string{readsTable}); err != nil {
		return Run{}, err
	}
	if rr.Streaming, err = b.withFiles(ctx, d, streaming); err != nil {
		return Run{}, err
	}
	rr.Compacted.Scan, rr.Compacted.Lookup = compacted.Scan, compacted.Lookup
	if err := b.src.DropPipeline(ctx, d.name); err != nil {
		return Run{}, fmt.Errorf("drop pipeline %s: %w", d.name, err)
	}
	return Run{Floe: rr.Streaming.Scan.P99, Count: ap.Changes, Txns: ap.Txns, LoadRate: float64(ap.Changes) / ap.Elapsed.Seconds(),
		FloeSeconds: ap.Elapsed.Seconds(), PeakRSSBytes: p.peakRSS(), CPUSeconds: round3(p.cpuSeconds()), Reads: rr,
		Profile: b.profileName(profile)}, nil
}

// readsSnapshot snapshots the tables with floe run under
// snapshot.mode initial_only (a copy of d's config; floe exits once every
// table is read) and runs `floe compact`; d's own config then streams
// from there.
func (b *bench) readsSnapshot(ctx context.Context, d *pipelineDir) error {
	cfg, err := os.ReadFile(d.config)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	const streaming, snapshotOnly = "  snapshot.mode: initial\n", "  snapshot.mode: initial_only\n"
	if !bytes.Contains(cfg, []byte(streaming)) {
		return fmt.Errorf("config %s has no %q", d.config, strings.TrimSpace(streaming))
	}
	snap := *d
	snap.config = filepath.Join(d.dir, "floe-snapshot.yaml")
	if err := os.WriteFile(snap.config, bytes.Replace(cfg, []byte(streaming), []byte(snapshotOnly), 1), 0o644); err != nil {
		return fmt.Errorf("write snapshot config: %w", err)
	}
	p, err := b.floe.start(&snap, "")
	if err != nil {
		return err
	}
	if err := p.wait(ctx, runTimeout); err != nil {
		return d.withLog(fmt.Errorf("snapshot: %w", err))
	}
	return b.floe.compact(ctx, d)
}

// readsMaxKeys is the key-index bound of the reads pipeline: every row
// of the tables and the inserts of the run, with room to spare.
func readsMaxKeys(rows int64) int64 { return max(rows+rows/4, 1_000_000) }

// currentSnapshot is the id of table's current snapshot, read through
// Trino.
func currentSnapshot(ctx context.Context, tr *interop.Trino, table string) (int64, error) {
	dot := strings.LastIndex(table, ".")
	res, err := tr.Query(ctx, fmt.Sprintf(`SELECT snapshot_id FROM %s."%s$snapshots" ORDER BY committed_at DESC LIMIT 1`, table[:dot], table[dot+1:]))
	if err != nil {
		return 0, fmt.Errorf("current snapshot of %s: %w", table, err)
	}
	var id int64
	if len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
		return 0, fmt.Errorf("current snapshot of %s: unexpected result %v", table, res.Rows)
	}
	if _, err := fmt.Sscan(fmt.Sprint(res.Rows[0][0]), &id); err != nil {
		return 0, fmt.Errorf("current snapshot of %s: %w", table, err)
	}
	return id, nil
}

// streamWhileQuerying writes the paced load and runs query rounds until
// it is done (at least one round). When explainTo is not "", the scan's
// plans (readQueries.explain) at half the load's duration and at its end
// are written there.
func (b *bench) streamWhileQuerying(ctx context.Context, q *readQueries, explainTo string) (applyResult, error) {
	type applied struct {
		ap  applyResult
		err error
	}
	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	done := make(chan applied, 1)
	go func() {
		ap, err := b.src.Apply(lctx, workload{TxnChanges: b.o.freshTxnChanges, UpdateHeavy: true, Rate: b.o.readsRate, Duration: b.o.readsDuration})
		done <- applied{ap, err}
	}()
	var res *applied
	var plans []string
	explain := func() error {
		if explainTo == "" {
			return nil
		}
		p, err := q.explain(ctx)
		if err != nil {
			return err
		}
		plans = append(plans, p)
		return os.WriteFile(explainTo, []byte(strings.Join(plans, "")), 0o644)
	}
	half := time.Now().Add(b.o.readsDuration / 2)
	for res == nil || q.rounds == 0 {
		if len(plans) == 0 && time.Now().After(half) {
			if err := explain(); err != nil {
				b.log.Warn("reads: explain failed", "err", err)
				explainTo = ""
			}
		}
		if err := q.round(ctx); err != nil {
			if res == nil {
				stopLoad()
				<-done
			}
			return applyResult{}, fmt.Errorf("query while streaming: %w", err)
		}
		select {
		case a := <-done:
			res = &a
		default:
		}
	}
	if res.err != nil {
		return applyResult{}, fmt.Errorf("reads load: %w", res.err)
	}
	if err := explain(); err != nil {
		b.log.Warn("reads: explain failed", "err", err)
	}
	b.log.Info("reads: load done", "changes", res.ap.Changes, "rounds", q.rounds)
	return res.ap, nil
}

// withFiles adds the queried table's live files to a phase.
func (b *bench) withFiles(ctx context.Context, d *pipelineDir, ph ReadPhase) (ReadPhase, error) {
	cat, err := openLake(ctx, d)
	if err != nil {
		return ph, err
	}
	defer cat.Close()
	t, err := cat.LoadTable(ctx, lakewriter.Ident{Namespace: lakeNamespace, Name: readsTable})
	if err != nil {
		return ph, fmt.Errorf("load %s: %w", readsTable, err)
	}
	if ph.DataFiles, ph.DeleteFiles, err = t.FileCounts(ctx); err != nil {
		return ph, fmt.Errorf("count files of %s: %w", readsTable, err)
	}
	return ph, nil
}
