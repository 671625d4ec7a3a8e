package postgres

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// readDDLTrigger records whether Floe's DDL event trigger is installed
// (see StatesRenames).
func (s *Source) readDDLTrigger(ctx context.Context, conn *pgx.Conn) error {
	ok, err := ddlTriggerInstalled(ctx, conn)
	if err != nil {
		return err
	}
	ok = ok && serverMajor(conn.PgConn()) >= messagesSince
	if ok != s.ddlTrigger.Swap(ok) || !ok {
		if ok {
			s.base.Log.Info("DDL event trigger installed: column renames are followed", "event_trigger", "floe_ddl")
		} else {
			s.base.Log.Info("no DDL event trigger (floe check --fix installs it): schema changes are followed by Relation messages, which cannot tell a rename from a drop and an add; a rename stops the pipeline")
		}
	}
	return nil
}

// StatesRenames tells the coordinator (checkpoint) whether the stream
// states column renames: when the DDL event trigger is installed, at the
// time of the last Discover.
func (s *Source) StatesRenames() bool { return s.ddlTrigger.Load() }

// ddl handles a DDLPrefix message of the open transaction: it renames the
// columns the message shows under a new name (same attnum, or by name:
// see renamedLayout) in the table's layout, in a new layout whose
// columns carry schema.Column.RenamedFrom, taken by the table's later
// changes and emitted as capture.Batch.Layouts on a Barrier before them
// (barrier) or with the commit. Other changes the message shows are left to the
// Relation message that precedes the table's first change in the new
// layout (relation.go).
//
// The table's layout may be the discovered one, the server's current
// layout, when the stream replays the ALTER after a restart: it has the
// new name already, and the rename is read from the command text
// (commandRenames) to mark the column. A rename in a transaction that
// collected changes before it has no position of its own: the table's
// changes there are OpUnreadable, naming the fix. So is a message that
// disagrees with the table's layout (renamedLayout's conflict): an
// OpUnreadable change of the table at the message's transaction.
func (st *streamer) ddl(ctx context.Context, m *pglogrepl.LogicalDecodingMessage) error {
	txn := st.txn
	if txn == nil || txn.skip || !m.Transactional {
		return nil
	}
	msg, cols, err := parseDDLMessage(m.Content)
	if err != nil {
		return fmt.Errorf("DDL message in the transaction committing at %s: %w", txn.finalLSN, err)
	}
	var cur *table
	for _, t := range st.byName {
		if t.oid == msg.OID {
			cur = t
		}
	}
	if cur == nil {
		return nil
	}
	if msg.notNull != nil {
		st.ddlNotNull[msg.OID] = msg.notNull
	}
	next, renames, conflict := renamedLayout(cur, cols, msg.Command)
	if next != cur {
		st.byName[cur.id] = next
		if st.rels[msg.OID] == cur {
			st.rels[msg.OID] = next
		}
	}
	if conflict != nil {
		err := fmt.Errorf("schema change of captured table %s in the transaction committing at %s: %w; re-snapshot the table with `floe resnapshot --config FILE --table %s`",
			cur.id, txn.finalLSN, conflict, cur.id)
		st.s.base.Log.Warn("a DDL message does not match the stream's layout: the table's change there is unreadable", "table", cur.id.String(),
			"commit_lsn", txn.finalLSN.String(), "error", err)
		txn.part.Changes = append(txn.part.Changes, capture.Change{Table: cur.id, Op: capture.OpUnreadable, Err: err})
		return nil
	}
	if len(renames) == 0 {
		return nil
	}
	st.s.base.Log.Info("column renamed on a captured table", "table", cur.id.String(), "commit_lsn", txn.finalLSN.String(),
		"renames", strings.Join(renames, "; "), "command", truncate(msg.Command, 200))
	if len(txn.part.Changes) > 0 || txn.split {
		err := fmt.Errorf("schema change of captured table %s: %s in the transaction committing at %s, after changes of captured tables in the same transaction; the rename has no position of its own there, so the Iceberg table cannot follow it; re-snapshot the table with `floe resnapshot --config FILE --table %s`",
			cur.id, strings.Join(renames, "; "), txn.finalLSN, cur.id)
		txn.part.Changes = append(txn.part.Changes, capture.Change{Table: cur.id, Op: capture.OpUnreadable, Err: err})
		return nil
	}
	if txn.layouts == nil {
		txn.layouts = map[capture.TableID]*schema.Table{}
	}
	txn.layouts[cur.id] = next.layout
	return nil
}

// unseenRename explains a DDL message that disagrees with the stream's
// layout.
const unseenRename = "a column was renamed where the event trigger does not see it, by ALTER VIEW or ALTER FOREIGN TABLE ... RENAME COLUMN, or the catalog read for the stream's layout came after such a change"

// renamedLayout returns cur with the renames a DDL message shows (cols:
// the table's columns by attnum after the command; command: the query
// text). renames describes them; nil when there is none. next is cur
// when nothing changed; it may differ from cur without a rename, sharing
// its layout (attnums learned, namesLive cleared).
//
//   - By name (see namesLive): when the command is a lone rename that
//     cols shows and cur's column names are the live ones, the column
//     named from is renamed, and every column takes the attnum its name
//     had before the command.
//   - By attnum, otherwise: a column whose attnum cols names differently
//     is renamed.
//   - Replayed: a rename named in the command text (from -> to) whose new
//     name cur has already (the discovered layout, when the stream replays
//     the ALTER after a restart), and whose old one it lacks, marks that
//     column.
//
// A lone rename that cols shows is the whole change: when cur disagrees
// with it (a column of live names missing before the command, a known
// attnum renamed otherwise) a column was renamed where no message shows
// it (ALTER VIEW or ALTER FOREIGN TABLE ... RENAME COLUMN, which the
// trigger does not see) or the attnum, read from the catalog after the
// Relation message, which a replay may predate, belongs to another
// column now. Nothing is renamed then, and conflict says why. Any
// command but a lone rename clears namesLive.
func renamedLayout(cur *table, cols map[int16]string, command string) (next *table, renames []string, conflict error) {
	out := slices.Clone(cur.layout.Columns)
	for i := range out {
		out[i].RenamedFrom = ""
	}
	nums := slices.Clone(cur.attNums)
	lone, isLone := loneRename(command)
	if isLone && !showsRename(cols, lone) {
		isLone = false // a text this parser misread: by attnum, as for any text
	}
	renamed, live := -1, false
	switch {
	case !cur.streamNames:
		renames, conflict = renameDiscovered(out, nums, cols, command, lone, isLone)
		if conflict != nil {
			return cur, nil, conflict
		}
	case isLone && cur.namesLive:
		renamed, live = renameByName(out, nums, cols, lone)
		if !live {
			return cur, nil, fmt.Errorf("the DDL message of %q shows a column of the stream's layout %s gone before it (%s)", truncate(command, 200), describeLayout(cur.layout), unseenRename)
		}
	default:
		renames = renameByAttNum(cur, out, nums, cols)
		if isLone && len(renames) > 0 && (len(renames) > 1 || renamedPairs(out)[0] != lone) {
			return cur, nil, fmt.Errorf("the DDL message of %q shows %s (%s)", truncate(command, 200), strings.Join(renames, "; "), unseenRename)
		}
	}
	switch {
	case renamed >= 0 && cur.attNums[renamed] == 0:
		renames = append(renames, fmt.Sprintf("rename column %s to %s (the stream named the old column)", lone.from, lone.to))
	case renamed >= 0:
		renames = append(renames, fmt.Sprintf("rename column %s to %s", lone.from, lone.to))
	}
	for _, r := range commandRenames(command) {
		j := slices.IndexFunc(out, func(c schema.Column) bool { return c.Name == r.to })
		if j < 0 || out[j].RenamedFrom != "" || slices.ContainsFunc(out, func(c schema.Column) bool { return c.Name == r.from }) ||
			!slices.Contains(mapValues(cols), r.to) {
			continue
		}
		out[j].RenamedFrom = r.from
		renames = append(renames, fmt.Sprintf("rename column %s to %s (replayed)", r.from, r.to))
	}
	if len(renames) == 0 && slices.Equal(nums, cur.attNums) && live == cur.namesLive {
		return cur, nil, nil
	}
	n := *cur
	n.attNums, n.namesLive = nums, live
	if len(renames) > 0 {
		n.layout = &schema.Table{Columns: out, Key: cur.layout.Key}
	}
	return &n, renames, nil
}

// renameDiscovered follows a DDL message on the discovered layout
// (out, nums), whose names are the catalog's at discovery: a replay
// reaches the message with the names the columns had then (cols, by
// attnum, which identifies a column for its life). A lone rename that
// cols shows renames the column of to's attnum, whatever its name at
// discovery (a later rename gave it); other columns are left to later
// messages. For another command a column cols names otherwise (P, its
// discovered name F) is renamed F -> P as by attnum, unless the query
// text renames another column to P: the command may have renamed a
// column named otherwise than F to P (a chain in several statements of
// one query text), which conflict reports.
func renameDiscovered(out []schema.Column, nums []int16, cols map[int16]string, command string, lone colRename, isLone bool) (renames []string, conflict error) {
	if isLone {
		toNum, _ := attNumOf(cols, lone.to)
		i := slices.Index(nums, toNum)
		if i < 0 {
			return nil, nil
		}
		suffix := ""
		if out[i].Name != lone.from {
			suffix = " (replayed)"
		}
		out[i].Name, out[i].RenamedFrom = lone.to, lone.from
		return []string{fmt.Sprintf("rename column %s to %s%s", lone.from, lone.to, suffix)}, nil
	}
	text := commandRenames(command)
	for i, c := range out {
		name, ok := cols[nums[i]]
		if nums[i] == 0 || !ok || name == c.Name {
			continue
		}
		if !slices.Contains(text, colRename{from: c.Name, to: name}) && slices.ContainsFunc(text, func(r colRename) bool { return r.to == name }) {
			return nil, fmt.Errorf("the DDL message of %q shows column %s named %s, and one of the several statements of the query text renames another column to %s: which column this one renamed is not known", truncate(command, 200), c.Name, name, name)
		}
		out[i].Name, out[i].RenamedFrom = name, c.Name
		renames = append(renames, fmt.Sprintf("rename column %s to %s", c.Name, name))
	}
	return renames, nil
}

// renamedPairs returns the renames out's columns carry.
func renamedPairs(out []schema.Column) []colRename {
	var rs []colRename
	for _, c := range out {
		if c.RenamedFrom != "" {
			rs = append(rs, colRename{from: c.RenamedFrom, to: c.Name})
		}
	}
	return rs
}

// showsRename reports whether cols, a table's columns after a command,
// show rename r: r.to there, r.from not.
func showsRename(cols map[int16]string, r colRename) bool {
	_, to := attNumOf(cols, r.to)
	_, from := attNumOf(cols, r.from)
	return to && !from
}

// renameByAttNum renames each column of out whose attnum cols names
// differently.
func renameByAttNum(cur *table, out []schema.Column, nums []int16, cols map[int16]string) (renames []string) {
	for i, c := range cur.layout.Columns {
		name, ok := cols[nums[i]]
		if nums[i] == 0 || !ok || name == c.Name {
			continue
		}
		out[i].Name, out[i].RenamedFrom = name, c.Name
		renames = append(renames, fmt.Sprintf("rename column %s to %s", c.Name, name))
	}
	return renames
}

// Columns the stream knows by name.
//
// A Relation message names the table's columns without their attnums;
// the catalog, read when it arrives, gives the attnum of each name it
// has then. In a replay from before a rename the catalog has the new
// name only, so the column the message calls by its old name has no
// attnum (0), and the rename's DDL message, which lists the columns by
// attnum after it, cannot show it renamed; and a name the catalog has
// may since have gone to another column (a swap of two names), whose
// attnum the column then carries. The names are right: right after a
// Relation message the layout's columns are, by name, the live columns
// of the table (namesLive, which generated columns aside the message
// lists all of), and every ALTER TABLE of the table after it emits a
// DDL message, so they stay so until one that may have dropped, added
// or renamed a column. A lone rename (the query text holds only ALTER
// TABLE ... RENAME [COLUMN] from TO to, so that statement emitted the
// message) changes one name and nothing else, so the columns before it
// are cols with to named from: the layout's column named from is the
// one renamed, and every column's attnum is the one its name had. Any
// other command ends namesLive until the next Relation message; a
// later rename of a column of unknown attnum is then refused by that
// message as without the trigger (the table is re-snapshotted).

// renameByName follows lone rename r on out by name when the layout's
// names are live (see namesLive): the columns before the command are
// cols with r.to named r.from, which must hold every column of out; each
// takes the attnum of its name there, and the one named r.from (its
// index: renamed; -1 when out has none) is renamed r.to. live is false,
// and nothing changed, when cols does not show r (to there, from not) or
// lacks a column of out: the names are then not known to be live.
func renameByName(out []schema.Column, nums []int16, cols map[int16]string, r colRename) (renamed int, live bool) {
	toNum, ok := attNumOf(cols, r.to)
	if _, stale := attNumOf(cols, r.from); !ok || stale {
		return -1, false
	}
	before := maps.Clone(cols)
	before[toNum] = r.from
	learned := make([]int16, len(out))
	for i, c := range out {
		num, ok := attNumOf(before, c.Name)
		if !ok {
			return -1, false
		}
		learned[i] = num
	}
	copy(nums, learned)
	renamed = slices.IndexFunc(out, func(c schema.Column) bool { return c.Name == r.from })
	if renamed >= 0 {
		out[renamed].Name, out[renamed].RenamedFrom = r.to, r.from
	}
	return renamed, true
}

// attNumOf returns the attnum cols gives column name.
func attNumOf(cols map[int16]string, name string) (int16, bool) {
	for num, n := range cols {
		if n == name {
			return num, true
		}
	}
	return 0, false
}

func mapValues(m map[int16]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
