package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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
	sink := fmt.Sprintf("  catalog:\n    type: sql\n    name: floe\n    uri: %s\n  warehouse: %s\n  s3:\n    endpoint: %s\n    region: %s\n"+
		"    path-style: true\n    access-key-id: %s\n    secret-access-key: ${FLOE_BENCH_S3_SECRET}\n", uri, warehouse, s3.Endpoint, s3.Region, s3.AccessKey)
	pathStyle := true
	lake := &lakewriter.Options{CatalogType: "sql", CatalogName: "floe", URI: uri, Warehouse: warehouse,
		S3: lakewriter.S3Options{Endpoint: s3.Endpoint, Region: s3.Region, PathStyle: &pathStyle, AccessKeyID: s3.AccessKey, SecretAccessKey: s3.SecretKey}}
	d, err := b.floe.newPipelineWith(name, "initial", b.tables, b.o.interval,
		pipelineOpts{sink: sink, lake: lake, env: []string{"FLOE_BENCH_S3_SECRET=" + s3.SecretKey}})
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

// readQueries are the two queries of the scenario on table (qualified).
type readQueries struct {
	scan     string
	lookup   func() string
	scanLat  []float64
	lookLat  []float64
	trino    *interop.Trino
	lo, span int64
	rng      *rand.Rand
}

// newReadQueries reads the table's key range through Trino (the lookups
// pick keys in it; a key deleted since returns no row, which costs a
// reader the same work).
func newReadQueries(ctx context.Context, tr *interop.Trino, table string) (*readQueries, error) {
	res, err := tr.Query(ctx, "SELECT min(id), max(id) FROM "+table)
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
	q := &readQueries{scan: "SELECT count(*), sum(amount) FROM " + table, trino: tr, lo: lo, span: max(hi-lo+1, 1),
		rng: rand.New(rand.NewPCG(12, 16))}
	q.lookup = func() string { return fmt.Sprintf("SELECT * FROM %s WHERE id = %d", table, q.lo+q.rng.Int64N(q.span)) }
	return q, nil
}

// round runs the scan and a lookup once each, recording their latency.
func (q *readQueries) round(ctx context.Context) error {
	for _, kind := range []bool{true, false} {
		sql := q.scan
		if !kind {
			sql = q.lookup()
		}
		start := time.Now()
		if _, err := q.trino.Query(ctx, sql); err != nil {
			return err
		}
		sec := time.Since(start).Seconds()
		if kind {
			q.scanLat = append(q.scanLat, sec)
		} else {
			q.lookLat = append(q.lookLat, sec)
		}
	}
	return nil
}

// phase returns the latencies recorded so far as a phase and resets them.
func (q *readQueries) phase() ReadPhase {
	lat := func(xs []float64) Latency {
		return Latency{N: len(xs), P50: round3(percentile(xs, 50)), P99: round3(percentile(xs, 99)), Max: round3(percentile(xs, 100))}
	}
	p := ReadPhase{Scan: lat(q.scanLat), Lookup: lat(q.lookLat)}
	q.scanLat, q.lookLat = nil, nil
	return p
}

// readsRun runs one reads run: floe snapshots the tables and streams a
// paced load (-reads-rate for -reads-duration, at the -interval
// checkpoint interval) while Trino runs the scan and a lookup back to
// back; floe then catches up and stops, `floe compact` compacts, and the
// same number of rounds (at most 50) runs on the compacted table.
func (b *bench) readsRun(ctx context.Context, i int) (Run, error) {
	svc, err := b.readServices(ctx)
	if err != nil {
		return Run{}, err
	}
	d, table, err := b.readsPipeline(ctx, svc, i)
	if err != nil {
		return Run{}, err
	}
	profile := b.profileFile(scReads, i)
	p, err := b.floe.start(d, profile)
	if err != nil {
		return Run{}, err
	}
	defer p.killIfRunning()
	// The snapshot is committed, and the stream running, once a marker
	// written now is committed in every table (which floe creates first).
	if err := waitTables(ctx, d, b.tables, p, 5*time.Minute); err != nil {
		return Run{}, d.withLog(err)
	}
	prime, err := b.src.Apply(ctx, workload{})
	if err != nil {
		return Run{}, fmt.Errorf("prime: %w", err)
	}
	if _, err := waitCommitted(ctx, d, b.tables, b.src.DecodeFloePosition, p, prime.Marker, runTimeout); err != nil {
		return Run{}, d.withLog(fmt.Errorf("snapshot: %w", err))
	}
	q, err := newReadQueries(ctx, svc.trino, table)
	if err != nil {
		return Run{}, err
	}
	ap, err := b.streamWhileQuerying(ctx, q)
	if err != nil {
		return Run{}, err
	}
	if _, err := waitCommitted(ctx, d, b.tables, b.src.DecodeFloePosition, p, ap.Marker, runTimeout); err != nil {
		return Run{}, d.withLog(err)
	}
	if err := p.stop(stopTimeout); err != nil {
		return Run{}, err
	}
	streaming := q.phase()
	rr := &ReadRun{Table: table}
	if rr.Rows, err = b.lakeRowCount(ctx, d, []string{readsTable}); err != nil {
		return Run{}, err
	}
	if rr.Streaming, err = b.withFiles(ctx, d, streaming); err != nil {
		return Run{}, err
	}
	if err := b.floe.compact(ctx, d); err != nil {
		return Run{}, err
	}
	for k := 0; k < min(streaming.Scan.N, 50); k++ {
		if err := q.round(ctx); err != nil {
			return Run{}, fmt.Errorf("query the compacted table: %w", err)
		}
	}
	if rr.Compacted, err = b.withFiles(ctx, d, q.phase()); err != nil {
		return Run{}, err
	}
	if err := b.src.DropPipeline(ctx, d.name); err != nil {
		return Run{}, fmt.Errorf("drop pipeline %s: %w", d.name, err)
	}
	return Run{Floe: rr.Streaming.Scan.P99, Count: ap.Changes, Txns: ap.Txns, LoadRate: float64(ap.Changes) / ap.Elapsed.Seconds(),
		FloeSeconds: ap.Elapsed.Seconds(), PeakRSSBytes: p.peakRSS(), CPUSeconds: round3(p.cpuSeconds()), Reads: rr,
		Profile: b.profileName(profile)}, nil
}

// streamWhileQuerying writes the paced load and runs query rounds until
// it is done (at least one round).
func (b *bench) streamWhileQuerying(ctx context.Context, q *readQueries) (applyResult, error) {
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
	for res == nil || len(q.scanLat) == 0 {
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
	b.log.Info("reads: load done", "changes", res.ap.Changes, "rounds", len(q.scanLat))
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

// waitTables waits until floe run p has created every one of tables in
// d's lake.
func waitTables(ctx context.Context, d *pipelineDir, tables []string, p *floeProc, timeout time.Duration) error {
	cat, err := openLake(ctx, d)
	if err != nil {
		return err
	}
	defer cat.Close()
	deadline := time.Now().Add(timeout)
	for _, name := range tables {
		for {
			_, err := cat.LoadTable(ctx, lakewriter.Ident{Namespace: lakeNamespace, Name: name})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("floe did not create %s.%s within %s: %w", lakeNamespace, name, timeout, err)
			}
			select {
			case <-p.Exited:
				return fmt.Errorf("floe exited (%v) before creating %s.%s", p.Err, lakeNamespace, name)
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}
