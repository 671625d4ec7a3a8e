package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/schema/pgtype"
)

// Following layout changes through Relation messages.
//
// pgoutput sends a table's Relation message before the first change it
// decodes in a layout the session has not announced yet: once per table
// per session, and again after anything invalidated the table's relcache
// entry (every ALTER TABLE does). The message names the columns in order
// with their type OIDs and modifiers; it does not say how a column got
// there. The catalog (pg_attribute, read when the message arrives) adds
// what it cannot carry: each column's attnum (a renamed column keeps
// it; a dropped and re-added one gets a new one), nullability, and
// whether an added column has a default (atthasdef, atthasmissing).
// Nullability comes from the stream's last DDL message of the table
// instead, when the event trigger sent one (ddlNotNull): the catalog read
// now may be later than the position a replay is at.
//
// A resent Relation whose layout differs from the one the stream had is
// followed when every difference is one the rows in the stream carry:
//   - a column added without a default (existing rows hold NULL);
//   - a column dropped (its values are kept in Iceberg, later rows NULL);
//   - a type widened: int2 -> int4 -> int8, float4 -> float8, varchar(n)
//     -> varchar(m >= n), varchar or text, numeric(p,s) -> numeric(p' >= p,s);
//   - NOT NULL dropped (or added).
//
// Anything else stops the stream with an error naming the table, the
// column and floe resnapshot: a narrowing or other type change, a
// column added with a default (the server filled existing rows without
// row events), a rename, a column dropped and re-added under the same
// name, a dropped key column. The catalog is read when the Relation
// arrives, which may be later than the ALTER: a column since dropped
// cannot be checked (a warning says so), and a default set after the
// ADD COLUMN is taken for one given with it (a refusal on the safe side).

// renameFix is the way to have renames followed, for the refusals.
const renameFix = "install Floe's DDL event trigger with floe check --fix to have renames followed"

// Type OIDs the widening rules name.
const (
	oidInt2    = 21
	oidInt4    = 23
	oidInt8    = 20
	oidFloat4  = 700
	oidFloat8  = 701
	oidText    = 25
	oidVarchar = 1043
	oidNumeric = 1700
)

// catalogAtt is one pg_attribute row of a table, dropped columns
// included.
type catalogAtt struct {
	num        int16
	name       string
	typ        uint32
	mod        int32
	notNull    bool
	hasDef     bool
	hasMissing bool
	generated  bool
	dropped    bool
}

// readAtts reads every user column of relation oid, dropped ones too.
func readAtts(ctx context.Context, conn *pgx.Conn, oid uint32) ([]catalogAtt, error) {
	rows, err := conn.Query(ctx, `
		SELECT attnum, attname, atttypid, atttypmod, attnotnull, atthasdef, atthasmissing,
		       attgenerated <> '', attisdropped
		FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 ORDER BY attnum`, oid)
	if err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalogAtt, error) {
		var a catalogAtt
		err := r.Scan(&a.num, &a.name, &a.typ, &a.mod, &a.notNull, &a.hasDef, &a.hasMissing, &a.generated, &a.dropped)
		return a, err
	})
}

// relationChange is what nextLayout found: the table in its new layout
// (nil: nothing changed, or a layout the stream cannot decode), the
// changes in words, and refusal, set when the change is one the stream
// cannot follow (see relation for what the stream then emits).
type relationChange struct {
	next    *table
	changes []string
	refusal error
}

// nextLayout builds the layout Relation m announces for table cur; every
// difference must be one the stream carries (see above), or the error
// says which is not. With resent false (the session's first Relation of
// the table, compared with the discovered layout, which a replay may
// predate) a type change is checked only when the Relation's type is the
// catalog's now.
//
// notNull, the nullability of the table's columns by attnum in the
// stream's last DDL message of it (nil: none), overrides the catalog's,
// which a replay may postdate.
func (s *Source) nextLayout(ctx context.Context, cur *table, m *pglogrepl.RelationMessage, resent bool, notNull map[int16]bool) (relationChange, error) {
	conn, err := s.connect(ctx)
	if err != nil {
		return relationChange{}, err
	}
	defer conn.Close(context.Background())
	atts, err := readAtts(ctx, conn, m.RelationID)
	if err != nil {
		return relationChange{}, err
	}
	for i, a := range atts {
		if v, ok := notNull[a.num]; ok && !a.dropped {
			atts[i].notNull = v
		}
	}
	d := &relationDiff{s: s, cur: cur, resent: resent, live: map[string]catalogAtt{}, byNum: map[int16]catalogAtt{},
		res: &typeResolver{conn: conn, cache: map[uint32]pgtype.CatalogType{}}}
	for _, a := range atts {
		d.byNum[a.num] = a
		if !a.dropped {
			d.live[a.name] = a
		}
	}
	d.next = *cur
	d.next.streamNames, d.next.namesLive = true, true // the message names the live columns
	d.next.layout = &schema.Table{}
	d.next.decoders, d.next.attTypes, d.next.attMods, d.next.attNums = nil, nil, nil, nil
	for _, c := range m.Columns {
		if stop, err := d.column(ctx, c); err != nil {
			return relationChange{}, err
		} else if stop {
			return relationChange{refusal: d.stop}, nil
		}
	}
	if d.dropped(m) {
		return relationChange{refusal: d.stop}, nil
	}
	for _, k := range cur.layout.Key {
		name, replayed := d.keyAs[k]
		if !replayed {
			name = cur.layout.Columns[k].Name
		}
		j := d.next.layout.Index(name)
		if replayed {
			d.next.layout.Columns[j].Nullable = false // a key column is NOT NULL
		}
		d.next.layout.Key = append(d.next.layout.Key, j)
	}
	if d.refusal == nil && len(d.changes) == 0 && sameColumns(cur.layout, d.next.layout) {
		return relationChange{}, nil
	}
	return relationChange{next: &d.next, changes: d.changes, refusal: d.refusal}, nil
}

// relationDiff compares a table's Relation message, column by column,
// with the layout it had (cur) and the catalog's rows of its columns
// (live by name, byNum by attnum), building the next layout and the
// changes, or the first refusal.
type relationDiff struct {
	s       *Source
	cur     *table
	resent  bool
	live    map[string]catalogAtt
	byNum   map[int16]catalogAtt
	res     *typeResolver
	next    table
	changes []string
	added   []string
	// keyAs names, by the index of a key column of cur the message
	// lacks, the column the message has for it (see replayedKey).
	keyAs   map[int]string
	refusal error // the first change Floe cannot follow
	stop    error // the refusal that ended the diff early
}

// refuse records a change Floe cannot follow (the first one is the
// refusal) and returns it.
func (d *relationDiff) refuse(col, format string, args ...any) error {
	err := fmt.Errorf("schema change of captured table %s: column %s: %s; pgoutput carries no row events for what that did to the existing rows, so the Iceberg table cannot follow it; re-snapshot the table with `floe resnapshot --config FILE --table %s` after the change",
		d.cur.id, col, fmt.Sprintf(format, args...), d.cur.id)
	if d.refusal == nil {
		d.refusal = err
	}
	return err
}

// column adds the message's column c to the next layout. stop reports a
// refusal that ends the diff at once; err a failure to read the catalog.
func (d *relationDiff) column(ctx context.Context, c *pglogrepl.RelationMessageColumn) (stop bool, err error) {
	cur := d.cur
	a, inCatalog := d.live[c.Name]
	j := cur.layout.Index(c.Name)
	if inCatalog {
		if j >= 0 && cur.attNums[j] != 0 && a.num != cur.attNums[j] {
			d.refuse(c.Name, "it was dropped and added again (attnum %d, was %d)", a.num, cur.attNums[j])
		}
		if j < 0 {
			if k := slices.Index(cur.attNums, a.num); k >= 0 {
				d.refuse(c.Name, "it is column %s renamed (a rename looks like a drop and an add to pgoutput; the existing rows' values would be lost under the new name; %s)", cur.layout.Columns[k].Name, renameFix)
			}
		}
	}
	var col schema.Column
	switch {
	case j >= 0 && cur.attTypes[j] == c.DataType && cur.attMods[j] == c.TypeModifier:
		col = cur.layout.Columns[j]
	default:
		st, err := d.res.resolve(ctx, c.DataType, c.TypeModifier)
		if err != nil {
			return true, fmt.Errorf("column %s of %s: %w", c.Name, cur.id, err)
		}
		col, err = pgtype.Column(c.Name, st, inCatalog && a.notNull)
		if err == nil {
			col, err = d.s.overrideColumn(cur, col, j)
		}
		if err != nil {
			d.stop = d.refuse(c.Name, "%v", err)
			return true, nil
		}
		// The session's first Relation may be older than the
		// discovered layout (a replay): its type is checked only
		// when it is the catalog's, i.e. the change came after.
		if j >= 0 && (d.resent || inCatalog && a.typ == c.DataType && a.mod == c.TypeModifier) {
			old := cur.layout.Columns[j]
			if !widens(cur.attTypes[j], cur.attMods[j], c.DataType, c.TypeModifier) || !schema.Promotable(old.Type, col.Type) {
				d.refuse(c.Name, "type changed from %s to %s, which is not a widening Iceberg can follow",
					typeText(cur.attTypes[j], cur.attMods[j], old.Source), typeText(c.DataType, c.TypeModifier, col.Source))
			}
			d.changes = append(d.changes, fmt.Sprintf("change column %s %s -> %s", c.Name,
				typeText(cur.attTypes[j], cur.attMods[j], old.Source), typeText(c.DataType, c.TypeModifier, col.Source)))
		} else if j >= 0 {
			d.changes = append(d.changes, fmt.Sprintf("column %s replayed as %s (now %s)", c.Name,
				typeText(c.DataType, c.TypeModifier, col.Source), typeText(cur.attTypes[j], cur.attMods[j], cur.layout.Columns[j].Source)))
		}
	}
	if inCatalog {
		col.Nullable = !a.notNull
	}
	if j < 0 {
		d.addColumn(c.Name, col, a, inCatalog)
	} else if old := cur.layout.Columns[j]; old.Nullable != col.Nullable {
		d.changes = append(d.changes, fmt.Sprintf("make column %s %s", c.Name, map[bool]string{true: "nullable", false: "NOT NULL"}[col.Nullable]))
	}
	dec, err := pgtype.TextDecoder(col)
	if err != nil {
		return true, fmt.Errorf("decoder for column %s of %s: %w", c.Name, cur.id, err)
	}
	d.next.layout.Columns = append(d.next.layout.Columns, col)
	d.next.decoders = append(d.next.decoders, dec)
	d.next.attTypes = append(d.next.attTypes, c.DataType)
	d.next.attMods = append(d.next.attMods, c.TypeModifier)
	num := a.num // 0 when no longer in the catalog
	if !inCatalog && j >= 0 {
		num = cur.attNums[j]
	}
	d.next.attNums = append(d.next.attNums, num)
	return false, nil
}

// addColumn records column name, new in the message, refusing it when the
// server filled the existing rows (a default, a generated column).
func (d *relationDiff) addColumn(name string, col schema.Column, a catalogAtt, inCatalog bool) {
	switch {
	case !inCatalog:
		d.s.base.Log.Warn("a column in the stream no longer exists; whether it was added with a default that filled existing rows cannot be checked",
			"table", d.cur.id.String(), "column", name)
	case a.generated:
		d.refuse(name, "it was added as a generated column, whose values for the existing rows the server computed")
	case a.hasMissing || a.hasDef:
		d.refuse(name, "it was added with a DEFAULT (or given one since), which the server filled into the existing rows")
	}
	d.changes = append(d.changes, fmt.Sprintf("add column %s %s", name, col.Source))
	d.added = append(d.added, name)
}

// dropped records the layout's columns that the message no longer has;
// it reports true when that ends the diff (a dropped key column).
func (d *relationDiff) dropped(m *pglogrepl.RelationMessage) bool {
	for i, old := range d.cur.layout.Columns {
		if slices.ContainsFunc(m.Columns, func(c *pglogrepl.RelationMessageColumn) bool { return c.Name == old.Name }) {
			continue
		}
		if slices.Contains(d.cur.layout.Key, i) {
			if name := d.replayedKey(m, i); name != "" {
				d.keyAs = map[int]string{i: name}
				d.changes = append(d.changes, fmt.Sprintf("key column %s is %s in the stream, which replays from before the name changed", old.Name, name))
				continue
			}
			d.stop = d.refuse(old.Name, "the key column was dropped")
			return true
		}
		if a, ok := d.byNum[d.cur.attNums[i]]; ok && !a.dropped && a.name != old.Name {
			d.refuse(a.name, "it is column %s renamed (a rename looks like a drop and an add to pgoutput; %s)", old.Name, renameFix)
		}
		if d.cur.attNums[i] == 0 && len(d.added) > 0 {
			d.refuse(d.added[0], "column %s is gone in the same change, and was already gone from the catalog when the stream first carried it, so a rename cannot be told from a drop and an add", old.Name)
		}
		d.changes = append(d.changes, "drop column "+old.Name)
	}
	return false
}

// replayedKey returns the column of the session's first Relation
// message m that is key column k of the discovered layout under another
// name, or "". The discovered layout is the catalog's at start, which a
// replay may predate: a key column renamed since is under its old name
// in m, which the catalog no longer has, and the rename's DDL message
// follows in the stream (see renamedLayout). It is that column when m's
// key columns (flagged) are the discovered key's with k alone missing
// and exactly one column neither the discovered layout nor the catalog
// has. Anything else (a resent message, another key column missing, a
// replica identity other than the key) is "": the missing key column is
// refused as dropped.
func (d *relationDiff) replayedKey(m *pglogrepl.RelationMessage, k int) string {
	if d.resent {
		return ""
	}
	var flagged []string
	for _, c := range m.Columns {
		if c.Flags&1 != 0 {
			flagged = append(flagged, c.Name)
		}
	}
	if len(flagged) != len(d.cur.layout.Key) {
		return ""
	}
	name := ""
	for _, key := range d.cur.layout.Key {
		if key == k {
			continue
		}
		if !slices.Contains(flagged, d.cur.layout.Columns[key].Name) {
			return ""
		}
	}
	for _, f := range flagged {
		_, inCatalog := d.live[f]
		if d.cur.layout.Index(f) >= 0 {
			continue
		}
		if inCatalog || name != "" {
			return ""
		}
		name = f
	}
	return name
}

// widens reports whether PostgreSQL type (from, fromMod) changed into
// (to, toMod) keeps every value as it was and can hold every value it
// could: the widenings Floe follows.
func widens(from uint32, fromMod int32, to uint32, toMod int32) bool {
	switch from {
	case oidInt2:
		return to == oidInt4 || to == oidInt8
	case oidInt4:
		return to == oidInt8
	case oidFloat4:
		return to == oidFloat8
	case oidVarchar:
		return to == oidText || to == oidVarchar && (toMod < 0 || fromMod >= 0 && toMod >= fromMod)
	case oidNumeric:
		if to != oidNumeric || fromMod < 4 || toMod < 4 {
			return false
		}
		fp, fs := (fromMod-4)>>16, (fromMod-4)&0xffff
		tp, ts := (toMod-4)>>16, (toMod-4)&0xffff
		return ts == fs && tp >= fp
	}
	return false
}

// sameColumns reports whether a and b have the same columns (names,
// Iceberg types, nullability) and key.
func sameColumns(a, b *schema.Table) bool {
	if len(a.Columns) != len(b.Columns) || !slices.Equal(a.Key, b.Key) {
		return false
	}
	for i := range a.Columns {
		x, y := a.Columns[i], b.Columns[i]
		if x.Name != y.Name || x.Nullable != y.Nullable || !schema.SameType(x.Type, y.Type) {
			return false
		}
	}
	return true
}

// typeText renders a column's type with its modifier (numeric(10,2)),
// or as the catalog named it when it is not built in.
func typeText(oid uint32, mod int32, src schema.SourceType) string {
	if t := pgtype.FromOID(oid, mod); t.Name != "" {
		return t.Format()
	}
	return fmt.Sprint(src)
}

// describeLayout renders a layout's columns for log lines.
func describeLayout(t *schema.Table) string {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = fmt.Sprintf("%s %s", c.Name, c.Source)
	}
	return "(" + strings.Join(cols, ", ") + ")"
}

// relation records a Relation message. A table that is not captured is
// remembered and its changes ignored. A captured table's layout is
// followed (nextLayout): when it changed, later changes carry the new
// layout (a new Schema pointer), and the change is a Barrier batch at the
// position of the transaction it arrives in when nothing of that
// transaction was collected yet (see barrier).
//
// A change the stream cannot follow does not end the stream, because
// only the consumer knows whether it needs the table's changes there (a
// table re-snapshotted after the change already holds its effect, and
// skips them): every change of the table in the rest of that transaction
// is an OpUnreadable change carrying the refusal, which a consumer that
// needs it stops at. Later transactions are decoded in the new layout;
// when it cannot be decoded at all, the table's changes stay OpUnreadable
// until its next Relation message.
func (st *streamer) relation(ctx context.Context, m *pglogrepl.RelationMessage) error {
	id := capture.TableID{Schema: m.Namespace, Name: m.RelationName}
	cur, ok := st.byName[id]
	if !ok {
		st.ignored[m.RelationID] = id.String()
		delete(st.rels, m.RelationID)
		st.s.base.Log.Warn("ignoring changes of a table that is not captured", "table", id.String())
		return nil
	}
	delete(st.unreadable, m.RelationID)
	// Also the session's first Relation of the table is checked against
	// the catalog, though it may announce the discovered names and types:
	// an ALTER after discovery and before the table's first change of the
	// session can change what the message does not carry (NOT NULL
	// dropped; a column dropped and added again under its name and type,
	// its existing rows' values gone without row events).
	_, resent := st.rels[m.RelationID]
	rc, err := st.s.nextLayout(ctx, cur, m, resent, st.ddlNotNull[m.RelationID])
	if err != nil {
		return fmt.Errorf("follow the layout of %s: %w", id, err)
	}
	at := ""
	if st.txn != nil {
		at = st.txn.finalLSN.String()
	}
	if rc.refusal != nil {
		refusal := rc.refusal
		if at != "" {
			refusal = fmt.Errorf("%w (in the transaction committing at %s)", refusal, at)
		}
		st.s.base.Log.Warn("a schema change the stream cannot follow: the table's changes in the new layout are unreadable", "table", id.String(), "commit_lsn", at, "error", refusal)
		st.unreadable[m.RelationID] = unreadable{err: refusal, untilCommit: rc.next != nil}
		if rc.next == nil {
			st.rels[m.RelationID] = cur
			return nil
		}
	}
	if rc.next == nil {
		n := namesLiveNow(cur)
		st.rels[m.RelationID], st.byName[id] = n, n
		return nil
	}
	st.rels[m.RelationID], st.byName[id] = rc.next, rc.next
	if rc.refusal != nil {
		return nil
	}
	st.s.base.Log.Info("schema change on a captured table", "table", id.String(), "commit_lsn", at,
		"changes", strings.Join(rc.changes, "; "), "layout", describeLayout(rc.next.layout))
	return st.barrier(ctx)
}

// namesLiveNow returns t, or a copy of it with streamNames and namesLive
// set (sharing its layout), for a Relation message that named t's
// columns as they are.
func namesLiveNow(t *table) *table {
	if t.streamNames && t.namesLive {
		return t
	}
	n := *t
	n.streamNames, n.namesLive = true, true
	return &n
}

// unreadable is a refusal the changes of one relation carry as
// OpUnreadable: until the transaction's commit, or (a layout the stream
// cannot decode) until the relation's next Relation message.
type unreadable struct {
	err         error
	untilCommit bool
}

// barrier emits an empty Barrier batch for a layout change that arrives
// in the open transaction before any of its changes was collected, at
// the transaction's commit LSN: after every earlier batch, and not after
// the transaction (a restart from it decodes the transaction again). When
// changes of the transaction came first, or an earlier batch is already
// at that LSN, there is no position between them, and the new layout's
// Schema pointer alone tells the consumer (which commits what it holds
// in the old layout before it applies a change in the new one).
//
// The batch carries the layouts the transaction's DDL messages left so far
// (capture.Batch.Layouts; see ddl), which are then no longer pending.
func (st *streamer) barrier(ctx context.Context) error {
	txn := st.txn
	if txn == nil || txn.skip || len(txn.part.Changes) > 0 || txn.split || txn.finalLSN <= st.last {
		return nil
	}
	st.last = txn.finalLSN
	layouts := txn.layouts
	txn.layouts = nil
	return st.emit(ctx, capture.Batch{Position: Position{LSN: txn.finalLSN}, CommitTime: txn.commitTime, Barrier: true, Layouts: layouts})
}

var _ capture.SchemaFollower = (*Source)(nil)

// FollowsSchemaChanges implements capture.SchemaFollower: the stream
// follows the layout changes its Relation messages announce (see
// relation) and stops at those it cannot follow.
func (s *Source) FollowsSchemaChanges() bool { return true }

var _ capture.AddedColumnChecker = (*Source)(nil)

// CheckAddedColumns implements capture.AddedColumnChecker: a column of
// the discovered layout that the Iceberg table lacks at start was added
// while Floe was stopped, and its Relation message may never come (no
// change of the table between the last commit and the ALTER). One added
// with a default (or given one since) or as a generated column had the
// existing rows filled without row events, so the start is refused.
func (s *Source) CheckAddedColumns(ctx context.Context, id capture.TableID, columns []string) error {
	t, err := s.tables.Get(id)
	if err != nil {
		return err
	}
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	atts, err := readAtts(ctx, conn, t.oid)
	if err != nil {
		return fmt.Errorf("check the columns added to %s: %w", id, err)
	}
	for _, a := range atts {
		if a.dropped || !slices.Contains(columns, a.name) || !(a.hasDef || a.hasMissing || a.generated) {
			continue
		}
		return fmt.Errorf("schema change of captured table %s found at start: column %s: it was added with a DEFAULT (or given one since), which the server filled into the existing rows; pgoutput carries no row events for that, so the Iceberg table cannot follow it; re-snapshot the table with `floe resnapshot --config FILE --table %s`",
			id, a.name, id)
	}
	return nil
}
