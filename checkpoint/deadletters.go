package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// What a pipeline does with a change it cannot write to its table (a
// value its decoder rejects: out of range for the mapped type, a NUMERIC
// that does not fit, invalid text), as configured by pipeline.dead-letter.
const (
	// DeadLetterTable writes the change to the dead-letter table of its
	// sink namespace (DeadLetterTableName) and goes on without it.
	DeadLetterTable = "table"
	// DeadLetterOff stops the run with the change's error.
	DeadLetterOff = "off"
)

// DeadLetterTableName is the name of the dead-letter table in each sink
// namespace that has dead letters.
const DeadLetterTableName = "_floe_dead_letters"

// DeadLetterLayout is the layout of a dead-letter table: the pipeline,
// the source table, the source position of the change (its transaction's
// final position; for a snapshot row the position the snapshot is read
// at), the op (capture.Op), the row as the source sent it (JSON object of
// column texts, NULL as null; capture.RawRow), the error, the source
// commit time (the snapshot's time for a snapshot row), the checkpoint the
// dead letter belongs to, and its identity (stream: "<position>#<order in
// its transaction>"; snapshot: "r <key>"), unique per pipeline and table.
func DeadLetterLayout() *schema.Table {
	str := func(name string, nullable bool) schema.Column {
		return schema.Column{Name: name, Type: iceberg.PrimitiveTypes.String, Nullable: nullable}
	}
	return &schema.Table{Columns: []schema.Column{
		str("pipeline", false), str("source_table", false), str("position", false), str("op", false),
		str("row_json", true), str("error", false),
		{Name: "captured_at", Type: iceberg.PrimitiveTypes.TimestampTz},
		{Name: "checkpoint", Type: iceberg.PrimitiveTypes.Int64},
		str("id", false),
	}}
}

// deadLetter is one change of a table held for the dead-letter table.
type deadLetter struct {
	id       string // "" while its transaction is open (see endDeadTxn)
	seq      int64  // order in its transaction (stream)
	pos      string
	op       capture.Op
	row      string // JSON; "" when the source gave no raw row
	err      string
	commitUS int64
}

// dlqState is one sink namespace's dead-letter table as the run knows it.
type dlqState struct {
	ident lakewriter.Ident
	table *lakewriter.Table // nil until it exists
	// marks are the pipeline's marks recorded in the table's newest
	// dead-letter commit of the pipeline, carried into every next one.
	marks map[string]ledger.DeadLetterMark
}

// deadLetters reports whether changes that cannot be written go to a
// dead-letter table (pipeline.dead-letter table).
func (c *Coordinator) deadLetters() bool { return c.opts.DeadLetter == DeadLetterTable }

// deadLetterable reports whether ch, a change with Err, may become a dead
// letter: its value could not be decoded (a *schema.ValueError).
func deadLetterable(ch capture.Change) bool {
	var verr *schema.ValueError
	return ch.Err != nil && ch.Op != capture.OpUnreadable && errors.As(ch.Err, &verr)
}

// newDeadLetter builds the dead letter of ch.
func newDeadLetter(ch capture.Change, pos string, commitUS int64) deadLetter {
	d := deadLetter{pos: pos, op: ch.Op, err: ch.Err.Error(), commitUS: commitUS}
	if ch.Raw != nil {
		if b, err := json.Marshal(ch.Raw); err == nil {
			d.row = string(b)
		}
	}
	return d
}

// addStreamDead holds ch, a change of t at seq in its transaction that
// cannot be written, as a dead letter. Its identity is set when its
// transaction ends (endDeadTxn), with the transaction's final position.
func (c *Coordinator) addStreamDead(t *tableRun, ch capture.Change, seq int64, commitUS int64) {
	d := newDeadLetter(ch, "", commitUS)
	d.seq = seq
	t.dead = append(t.dead, d)
	c.openDead = true
}

// endDeadTxn gives the dead letters of the transaction that ended at pos
// their position and identity, and drops those the dead-letter table
// already holds (t.deadSkip: written before a crash that kept the table's
// own commit from landing).
func (c *Coordinator) endDeadTxn(pos capture.Position) {
	if !c.openDead {
		return
	}
	c.openDead = false
	p := pos.String()
	for _, t := range c.order {
		kept := t.dead[:0]
		for _, d := range t.dead {
			if d.id == "" {
				d.pos, d.id = p, p+"#"+strconv.FormatInt(d.seq, 10)
			}
			if t.deadSkip[d.id] {
				continue
			}
			kept = append(kept, d)
		}
		t.dead = kept
	}
}

// addChunkDead holds the rows of chunk index of t that cannot be written
// (dead, changes with Err) as dead letters, unless the dead-letter table
// already holds them.
func (c *Coordinator) addChunkDead(t *tableRun, b capture.Batch, dead []capture.Change) {
	pos := b.Position.String()
	for i, ch := range dead {
		d := newDeadLetter(ch, pos, b.CommitTime.UnixMicro())
		var verr *schema.ValueError
		switch {
		case errors.As(ch.Err, &verr) && verr.Key != "":
			d.id = "r " + verr.Key
		case ch.After != nil && ch.Schema != nil && len(ch.Schema.Key) > 0:
			d.id = "r " + rowKeyText(ch.Schema, ch.After)
		default:
			d.id = fmt.Sprintf("r chunk %d row %d", b.Chunk.Index, i)
		}
		if t.deadSkip[d.id] {
			continue
		}
		t.dead = append(t.dead, d)
	}
}

// unplaceable reports whether err, Buffer.Apply's error for *ch, makes
// the change a dead letter: the sink table cannot hold it as the
// schema-change behavior left it (*transform.PlaceError; the buffer is
// unchanged) and dead letters are on. It then gives *ch the error and
// its decoded row as text (Raw), in place of the row as the source sent
// it, which capture no longer has.
func (c *Coordinator) unplaceable(t *tableRun, ch *capture.Change, err error) bool {
	var pe *transform.PlaceError
	if !c.deadLetters() || !errors.As(err, &pe) {
		return false
	}
	ch.Err = fmt.Errorf("change of %s cannot be placed in its Iceberg table: %w", t.id, err)
	img := ch.After
	if ch.Op == capture.OpDelete {
		img = ch.Before
	}
	ch.Raw = nil
	if ch.Schema != nil && len(img) == len(ch.Schema.Columns) {
		for i, col := range ch.Schema.Columns {
			if schema.IsUnchanged(img[i]) {
				continue
			}
			v := capture.RawValue{Column: col.Name}
			if img[i] != nil {
				s := schema.FormatValue(img[i], col.Type)
				v.Text = &s
			}
			ch.Raw = append(ch.Raw, v)
		}
	}
	return true
}

// rowKeyText names row's key as a value error does ("id=5", "a=x, b=7").
func rowKeyText(l *schema.Table, row schema.Row) string {
	parts := make([]string, len(l.Key))
	for i, k := range l.Key {
		parts[i] = l.Columns[k].Name + "=" + schema.FormatValue(row[k], l.Columns[k].Type)
	}
	return strings.Join(parts, ", ")
}

// splitDead separates the changes of a snapshot chunk that cannot be
// written from the others; with dead letters off, the first one is the
// error.
func (c *Coordinator) splitDead(b *capture.Batch) ([]capture.Change, error) {
	n := 0
	for i := range b.Changes {
		if b.Changes[i].Err != nil {
			n++
		}
	}
	if n == 0 {
		return nil, nil
	}
	dead := make([]capture.Change, 0, n)
	kept := make([]capture.Change, 0, len(b.Changes)-n)
	for _, ch := range b.Changes {
		if ch.Err == nil {
			kept = append(kept, ch)
			continue
		}
		if !c.deadLetters() || !deadLetterable(ch) {
			return nil, fmt.Errorf("read chunk %d of %s: %w; fix: correct or delete the row at the source, or set pipeline.dead-letter: table",
				b.Chunk.Index, b.Chunk.Table, ch.Err)
		}
		dead = append(dead, ch)
	}
	b.Changes = kept
	return dead, nil
}

// runDLQs opens the dead-letter table of each sink namespace of tables
// infos (none when dead letters are off), creating the missing ones, for
// claim. Creating them at start, before the run's first dead letter,
// means an older run of the pipeline still running cannot be the one to
// create a namespace's table and append to it unfenced after this run
// started: every dead-letter table the run may write to carries its
// claim from the start.
func (c *Coordinator) runDLQs(ctx context.Context, infos []capture.TableInfo) ([]*lakewriter.Table, error) {
	if !c.deadLetters() {
		return nil, nil
	}
	seen := map[string]bool{}
	var out []*lakewriter.Table
	for _, ti := range infos {
		ns := c.opts.Router.Target(ti.ID).Namespace
		if seen[ns] {
			continue
		}
		seen[ns] = true
		tbl, err := c.opts.Catalog.EnsureTable(ctx, lakewriter.Ident{Namespace: ns, Name: DeadLetterTableName}, DeadLetterLayout(), nil)
		if err != nil {
			return nil, fmt.Errorf("dead-letter table of namespace %s: %w", ns, err)
		}
		out = append(out, tbl)
	}
	return out, nil
}

// dlq returns the state of the dead-letter table of namespace ns.
func (c *Coordinator) dlq(ns string) *dlqState {
	if c.dlqs == nil {
		c.dlqs = map[string]*dlqState{}
	}
	q := c.dlqs[ns]
	if q == nil {
		q = &dlqState{ident: lakewriter.Ident{Namespace: ns, Name: DeadLetterTableName}, marks: map[string]ledger.DeadLetterMark{}}
		c.dlqs[ns] = q
	}
	return q
}

// recoverDeadLetters reads, for each sink namespace whose dead-letter
// table exists, the pipeline's marks, so that a table's dead letters are
// counted on from there, and finds the dead letters a crash left in the
// dead-letter table without its table's commit (a mark whose checkpoint
// is above the table's): their identities go to the table's deadSkip, so
// that the replay does not write them again. Later checkpoints are
// numbered above every mark.
func (c *Coordinator) recoverDeadLetters(ctx context.Context) error {
	if !c.deadLetters() {
		return nil
	}
	for _, ns := range c.sinkNamespaces() {
		q := c.dlq(ns)
		tbl, err := c.opts.Catalog.LoadTable(ctx, q.ident)
		if errors.Is(err, lakewriter.ErrNoSuchTable) {
			continue
		}
		if err != nil {
			return fmt.Errorf("dead-letter table: %w", err)
		}
		if err := c.claimDLQ(ctx, tbl); err != nil {
			return err
		}
		q.table = tbl
		props, err := tbl.LatestProps(ctx, ledger.DeadLettersOf(c.opts.Pipeline))
		if err != nil {
			return fmt.Errorf("dead-letter table %s: %w", q.ident, err)
		}
		if props == nil {
			continue // only other pipelines' dead letters
		}
		d, err := ledger.ParseDeadLetters(props[ledger.PropDeadLetters])
		if err != nil {
			return fmt.Errorf("dead-letter table %s: %w", q.ident, err)
		}
		q.marks = d.Tables
		if err := c.findUnaccounted(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// findUnaccounted fills deadSkip of the tables whose mark in q is above
// their own checkpoint from the rows of q's table.
func (c *Coordinator) findUnaccounted(ctx context.Context, q *dlqState) error {
	behind := map[string]*tableRun{}
	for _, t := range c.order {
		m, ok := q.marks[t.id.String()]
		if !ok {
			continue
		}
		t.deadCount = m.Count
		if m.Checkpoint >= c.nextCheckpoint {
			c.nextCheckpoint = m.Checkpoint + 1
		}
		if m.Checkpoint > t.checkpoint {
			behind[t.id.String()] = t
		}
	}
	if len(behind) == 0 {
		return nil
	}
	layout := q.table.Layout()
	col := func(name string) int { return layout.Index(name) }
	pc, sc, cc, ic := col("pipeline"), col("source_table"), col("checkpoint"), col("id")
	if min(pc, sc, cc, ic) < 0 {
		return fmt.Errorf("dead-letter table %s lacks the columns pipeline, source_table, checkpoint or id", q.ident)
	}
	n := 0
	err := q.table.Scan(ctx, func(r schema.Row) error {
		if r[pc] != c.opts.Pipeline {
			return nil
		}
		src, _ := r[sc].(string)
		t := behind[src]
		cp, _ := r[cc].(int64)
		if t == nil || cp <= t.checkpoint {
			return nil
		}
		if t.deadSkip == nil {
			t.deadSkip = map[string]bool{}
		}
		id, _ := r[ic].(string)
		t.deadSkip[id] = true
		n++
		return nil
	})
	if err != nil {
		return fmt.Errorf("read dead-letter table %s: %w", q.ident, err)
	}
	c.log.Info("dead letters written before the last stop whose tables did not commit; the replay leaves them out",
		"dead_letter_table", q.ident.String(), "dead_letters", n, "tables", len(behind))
	return nil
}

// claimDLQ claims a dead-letter table for the run's epoch, as claim does
// the run's tables (unless an earlier attempt of the run claimed it), so
// that the dead-letter commits of an older run of the pipeline, which are
// fenced like its table commits, are refused from here on: a run whose
// table commits would be refused cannot add dead letters the new run
// writes again.
func (c *Coordinator) claimDLQ(ctx context.Context, tbl *lakewriter.Table) error {
	f := c.opts.Fencing
	own, err := tbl.Epoch(ctx, c.opts.Pipeline)
	if err != nil {
		return fmt.Errorf("dead-letter table %s: %w", tbl.Ident(), err)
	}
	if own.Epoch == c.epoch && own.Claim != nil && own.Claim.Run == f.Run {
		return nil
	}
	_, err = tbl.Commit(ctx, lakewriter.Commit{
		Props: ledger.Claim{Pipeline: c.opts.Pipeline, Epoch: c.epoch, Run: f.Run}.Props(),
		Token: ledger.PropClaim,
		Fence: &lakewriter.Fence{Pipeline: c.opts.Pipeline, Epoch: c.epoch, Claim: true, Shared: true},
	})
	if err != nil {
		return fmt.Errorf("claim %s for epoch %d: %w", tbl.Ident(), c.epoch, err)
	}
	return nil
}

// sinkNamespaces lists the sink namespaces of the captured tables.
func (c *Coordinator) sinkNamespaces() []string {
	seen := map[string]bool{}
	for _, t := range c.order {
		seen[t.target.Namespace] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// commitDeadLetters appends the dead letters held by the tables of this
// checkpoint to the dead-letter table of each one's sink namespace, one
// commit per namespace, before any of the tables commits. Each commit
// records every table's mark (ledger.DeadLetters): the checkpoint and
// position the table commits next, and its count. The tables keep their
// dead letters until their own commit (commitTable).
func (c *Coordinator) commitDeadLetters(ctx context.Context, checkpoint int64, pos capture.Position) error {
	byNS := map[string][]*tableRun{}
	for _, t := range c.order {
		if len(t.dead) > 0 {
			byNS[t.target.Namespace] = append(byNS[t.target.Namespace], t)
		}
	}
	for _, ns := range slices.Sorted(maps.Keys(byNS)) {
		if err := c.commitDLQ(ctx, c.dlq(ns), byNS[ns], checkpoint, pos); err != nil {
			return err
		}
	}
	return nil
}

// commitDLQ is commitDeadLetters for the tables of one namespace.
func (c *Coordinator) commitDLQ(ctx context.Context, q *dlqState, tables []*tableRun, checkpoint int64, pos capture.Position) error {
	if q.table == nil {
		tbl, err := c.opts.Catalog.EnsureTable(ctx, q.ident, DeadLetterLayout(), nil)
		if err != nil {
			return fmt.Errorf("dead-letter table: %w", err)
		}
		if err := c.claimDLQ(ctx, tbl); err != nil {
			return err
		}
		q.table = tbl
	}
	marks := maps.Clone(q.marks)
	var rows []schema.Row
	for _, t := range tables {
		m := marks[t.id.String()]
		at := laterOf(laterOf(pos, t.floor), t.committed)
		m.Position, m.Checkpoint, m.Count = at.String(), checkpoint, m.Count+int64(len(t.dead))
		marks[t.id.String()] = m
		for _, d := range t.dead {
			rows = append(rows, c.deadRow(q.table.Layout(), t, d, checkpoint))
		}
	}
	d := ledger.DeadLetters{Pipeline: c.opts.Pipeline, Tables: marks}
	_, err := q.table.Commit(ctx, lakewriter.Commit{
		Rows: func(yield func(schema.Row, error) bool) {
			for _, r := range rows {
				if !yield(r, nil) {
					return
				}
			}
		},
		Props: d.Props(c.epoch, checkpoint),
		Token: ledger.PropDeadLettersCommit,
		Fence: &lakewriter.Fence{Pipeline: c.opts.Pipeline, Epoch: c.epoch, Shared: true},
	})
	if err != nil {
		return fmt.Errorf("commit %d dead letters to %s (checkpoint %d): %w", len(rows), q.ident, checkpoint, err)
	}
	q.marks = marks
	for _, t := range tables {
		t.deadCount += int64(len(t.dead))
		c.opts.Metrics.DeadLetters.WithLabelValues(t.id.String()).Add(float64(len(t.dead)))
		c.log.Warn("changes that cannot be written to their table went to the dead-letter table", "table", t.id.String(),
			"dead_letter_table", q.ident.String(), "dead_letters", len(t.dead), "checkpoint", checkpoint, "first_error", t.dead[0].err)
	}
	return nil
}

// deadRow is the dead-letter table row of d, in layout (the table's own,
// columns by name).
func (c *Coordinator) deadRow(layout *schema.Table, t *tableRun, d deadLetter, checkpoint int64) schema.Row {
	vals := map[string]any{
		"pipeline": c.opts.Pipeline, "source_table": t.id.String(), "position": d.pos, "op": d.op.String(),
		"error": d.err, "captured_at": d.commitUS, "checkpoint": checkpoint, "id": d.id,
	}
	if d.row != "" {
		vals["row_json"] = d.row
	}
	r := make(schema.Row, len(layout.Columns))
	for i, col := range layout.Columns {
		r[i] = vals[col.Name]
	}
	return r
}
