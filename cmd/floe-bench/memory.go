package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// The memory scenarios measure floe's peak RSS where a naive CDC pipeline
// runs out of memory: hugetxn is one transaction of -hugetxn rows
// (catchUpRun, as bigtxn), largevalues moves rows of large values through
// the snapshot and the stream (largeValuesRun). They run -memory-runs
// times (their figure is the peak, not a median of speeds).

// blobsTable is the large-value table: id key, body text, data binary,
// note short text. It is created by the largevalues scenario and captured
// only by its pipelines.
const blobsTable = "blobs"

// blobKind is what a blobOp does to one row of blobsTable.
type blobKind int

const (
	blobInsert  blobKind = iota // a new row with fresh large values
	blobNote                    // set note only: the large values are unchanged (PostgreSQL: unchanged TOAST)
	blobReplace                 // replace body and data with fresh large values
	blobDelete
)

// blobOp is one statement of a largevalues transaction.
type blobOp struct {
	Kind blobKind
	ID   int64
}

// carriesValues reports whether the op writes fresh large values.
func (o blobOp) carriesValues() bool { return o.Kind == blobInsert || o.Kind == blobReplace }

// blobStmt returns op's statement and its arguments, with fresh values
// from g for an insert or a replace. param writes the statement's n-th
// placeholder (from 1) as the source's SQL has it: myParam or pgParam.
func blobStmt(op blobOp, g *blobGen, param func(n int) string) (string, []any) {
	switch op.Kind {
	case blobInsert:
		text, bin := g.values(op.ID)
		return fmt.Sprintf("INSERT INTO %s VALUES (%s, %s, %s, %s)", blobsTable, param(1), param(2), param(3), param(4)),
			[]any{op.ID, text, bin, fmt.Sprintf("n%d", op.ID)}
	case blobNote:
		return fmt.Sprintf("UPDATE %s SET note = CONCAT(note, '+') WHERE id = %s", blobsTable, param(1)), []any{op.ID}
	case blobReplace:
		text, bin := g.values(op.ID)
		return fmt.Sprintf("UPDATE %s SET body = %s, data = %s WHERE id = %s", blobsTable, param(1), param(2), param(3)),
			[]any{text, bin, op.ID}
	default:
		return fmt.Sprintf("DELETE FROM %s WHERE id = %s", blobsTable, param(1)), []any{op.ID}
	}
}

// myParam is MySQL's placeholder, ?.
func myParam(int) string { return "?" }

// pgParam is PostgreSQL's n-th placeholder, $n.
func pgParam(n int) string { return "$" + strconv.Itoa(n) }

// resetBlobs is the statement that re-creates blobsTable, empty, with
// the column definitions (and table options) cols.
func resetBlobs(cols string) string {
	return "DROP TABLE IF EXISTS " + blobsTable + "; CREATE TABLE " + blobsTable + " " + cols
}

// blobGen makes the values of blobs rows: random bytes, and text of
// random hex digits (incompressible beyond the hex's 2:1). With both, a
// row carries a large text and a large binary value; otherwise one of
// them, text in rows of even id and binary in the others, the other
// value a few bytes.
type blobGen struct {
	rng  *rand.ChaCha8
	size int64
	both bool
}

func newBlobGen(size int64, both bool) *blobGen {
	return &blobGen{rng: rand.NewChaCha8([32]byte{4, 2}), size: size, both: both}
}

// random returns n random bytes and n random hex digits.
func (g *blobGen) random(n int64) (string, []byte) {
	raw := make([]byte, (n+1)/2)
	_, _ = g.rng.Read(raw)
	bin := make([]byte, n)
	_, _ = g.rng.Read(bin)
	return hex.EncodeToString(raw)[:n], bin
}

// values returns fresh text and binary values for row id.
func (g *blobGen) values(id int64) (string, []byte) {
	switch {
	case g.both:
		return g.random(g.size)
	case id%2 == 0:
		text, _ := g.random(g.size)
		_, bin := g.random(8)
		return text, bin
	default:
		text, _ := g.random(8)
		_, bin := g.random(g.size)
		return text, bin
	}
}

// bytes is the size of the large values of one row.
func (g *blobGen) bytes() int64 {
	if g.both {
		return 2 * g.size
	}
	return g.size
}

// largeValuePlan is the largevalues workload. Snapshot rows are written
// before floe first starts; Stream transactions while it is stopped,
// after the snapshot has been committed.
var largeValuePlan = struct {
	Snapshot []blobOp
	Stream   [][]blobOp
}{
	Snapshot: []blobOp{{blobInsert, 1}, {blobInsert, 2}, {blobInsert, 3}, {blobInsert, 4}},
	Stream: [][]blobOp{
		{{blobInsert, 5}},
		{{blobInsert, 6}},
		{{blobInsert, 7}, {blobInsert, 8}, {blobInsert, 9}, {blobInsert, 10}}, // one transaction of 4 large rows
		{{blobNote, 2}, {blobNote, 5}},
		{{blobReplace, 3}},
		{{blobReplace, 6}},
		{{blobDelete, 4}, {blobDelete, 7}},
	},
}

// largeValuesRun: rows of -large-value-mib values (blobGen) are read by
// the snapshot (phase 1, until a marker after it is committed),
// then floe is stopped, the stream transactions are written, and floe
// catches up (phase 2). The figure is MiB of values per second of the
// two phases; CPU and peak RSS cover both processes. The result must
// verify equal (floe verify).
func (b *bench) largeValuesRun(ctx context.Context, i int) (Run, error) {
	g := newBlobGen(int64(b.o.largeValueMiB)<<20, b.o.largeBoth)
	plan := largeValuePlan
	if err := b.src.ResetBlobs(ctx); err != nil {
		return Run{}, err
	}
	valueBytes := func(ops []blobOp) (n int64) {
		for _, op := range ops {
			if op.carriesValues() {
				n += g.bytes()
			}
		}
		return n
	}
	start := time.Now()
	if _, err := applyBlobs(ctx, b.src, [][]blobOp{plan.Snapshot}, g, 0); err != nil {
		return Run{}, fmt.Errorf("snapshot rows: %w", err)
	}
	b.log.Info("large values written", "rows", len(plan.Snapshot), "seconds", round3(time.Since(start).Seconds()))
	tables := []string{blobsTable}
	d, err := b.floe.newPipeline(fmt.Sprintf("large%d", i), "initial", tables, b.o.streamInterval)
	if err != nil {
		return Run{}, err
	}

	// Phase 1: the snapshot, and a marker update after it.
	p1, err := b.floe.startStreaming(ctx, d, b.profileFile(scLargeValues+"-snapshot", i), runTimeout)
	if err != nil {
		return Run{}, err
	}
	ap1, err := applyBlobs(ctx, b.src, nil, g, 1)
	if err != nil {
		p1.Kill()
		return Run{}, err
	}
	sec1, err := b.commitAndStop(ctx, d, tables, p1, ap1.Marker)
	if err != nil {
		return Run{}, fmt.Errorf("snapshot: %w", err)
	}

	// Phase 2: catch up with the stream written while floe was stopped.
	start = time.Now()
	ap2, err := applyBlobs(ctx, b.src, plan.Stream, g, 1)
	if err != nil {
		return Run{}, fmt.Errorf("stream transactions: %w", err)
	}
	b.log.Info("large-value workload written", "txns", ap2.Txns, "changes", ap2.Changes, "seconds", round3(time.Since(start).Seconds()))
	profile := b.profileFile(scLargeValues, i)
	p2, err := b.floe.start(d, profile)
	if err != nil {
		return Run{}, err
	}
	sec2, err := b.commitAndStop(ctx, d, tables, p2, ap2.Marker)
	if err != nil {
		return Run{}, fmt.Errorf("catch-up: %w", err)
	}
	if err := b.floe.verify(ctx, d); err != nil {
		return Run{}, err
	}
	if err := b.cleanup(ctx, d); err != nil {
		return Run{}, err
	}

	bytes := valueBytes(plan.Snapshot)
	for _, txn := range plan.Stream {
		bytes += valueBytes(txn)
	}
	changes := int64(len(plan.Snapshot)) + ap1.Changes + ap2.Changes
	floeSec := sec1 + sec2
	b.log.Info("large values done", "snapshot_seconds", round3(sec1), "catch_up_seconds", round3(sec2),
		"peak_rss_mib_snapshot", p1.peakRSS()>>20, "peak_rss_mib_catch_up", p2.peakRSS()>>20)
	return Run{Floe: float64(bytes) / (1 << 20) / floeSec, Count: changes, FloeSeconds: floeSec, Txns: ap1.Txns + ap2.Txns,
		PeakRSSBytes: max(p1.peakRSS(), p2.peakRSS()), CPUSeconds: round3(p1.cpuSeconds() + p2.cpuSeconds()), Bytes: bytes,
		Profile: b.profileName(profile)}, nil
}
