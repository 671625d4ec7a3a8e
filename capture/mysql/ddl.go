package mysql

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/schema/mysqltype"
)

// ddlRef is one table a DDL statement names, and what it does to it.
type ddlRef struct {
	verb string // ALTER, CREATE, DROP, RENAME, TRUNCATE, INDEX, DROPDB
	id   capture.TableID
}

var (
	commentRE = regexp.MustCompile(`(?s)/\*.*?\*/|(?m)(--|#)[^\n]*$`)
	spaceRE   = regexp.MustCompile(`\s+`)
	// Leading clauses that may stand between the verb and the table name.
	alterRE    = regexp.MustCompile(`(?i)^ALTER\s+(?:ONLINE\s+)?(?:IGNORE\s+)?TABLE\s+(?:IF\s+EXISTS\s+)?`)
	createRE   = regexp.MustCompile(`(?i)^CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?`)
	dropRE     = regexp.MustCompile(`(?i)^DROP\s+(?:TEMPORARY\s+)?TABLES?\s+(?:IF\s+EXISTS\s+)?`)
	renameRE   = regexp.MustCompile(`(?i)^RENAME\s+TABLES?\s+`)
	truncateRE = regexp.MustCompile(`(?i)^TRUNCATE\s+(?:TABLE\s+)?`)
	indexRE    = regexp.MustCompile(`(?i)^(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:ONLINE\s+)?(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX|DROP\s+INDEX)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?\S+\s+ON\s+`)
	dropDBRE   = regexp.MustCompile(`(?i)^DROP\s+(?:DATABASE|SCHEMA)\s+(?:IF\s+EXISTS\s+)?`)
)

// parseDDL returns the tables a statement changes; nil for statements
// that change no table layout (DML, GRANT, SAVEPOINT, ...). db is the
// statement's default database.
func parseDDL(db, stmt string) []ddlRef {
	s := normalizeStmt(stmt)
	one := func(verb string, re *regexp.Regexp) []ddlRef {
		loc := re.FindStringIndex(s)
		if loc == nil {
			return nil
		}
		id, _, ok := parseTableName(db, s[loc[1]:])
		if !ok {
			return nil
		}
		return []ddlRef{{verb: verb, id: id}}
	}
	for _, c := range []struct {
		verb string
		re   *regexp.Regexp
	}{{"ALTER", alterRE}, {"CREATE", createRE}, {"TRUNCATE", truncateRE}, {"INDEX", indexRE}} {
		if r := one(c.verb, c.re); r != nil {
			return r
		}
	}
	if loc := dropRE.FindStringIndex(s); loc != nil {
		var out []ddlRef
		eachListed(s[loc[1]:], func(item string) (string, bool) {
			id, after, ok := parseTableName(db, item)
			if ok {
				out = append(out, ddlRef{verb: "DROP", id: id})
			}
			return after, ok
		})
		return out
	}
	if loc := renameRE.FindStringIndex(s); loc != nil {
		var out []ddlRef
		eachListed(s[loc[1]:], func(item string) (string, bool) {
			from, after, ok := parseTableName(db, item)
			if !ok {
				return "", false
			}
			after = strings.TrimSpace(after)
			if len(after) < 3 || !strings.EqualFold(after[:3], "TO ") {
				return "", false
			}
			to, after, ok := parseTableName(db, after[3:])
			if ok {
				out = append(out, ddlRef{verb: "RENAME", id: from}, ddlRef{verb: "CREATE", id: to})
			}
			return after, ok
		})
		return out
	}
	if loc := dropDBRE.FindStringIndex(s); loc != nil {
		name, _, ok := parseIdent(strings.TrimSpace(s[loc[1]:]))
		if ok {
			return []ddlRef{{verb: "DROPDB", id: capture.TableID{Schema: name}}}
		}
	}
	return nil
}

// eachListed calls item for each entry of the comma-separated list s
// starts with: item parses one entry at the start of its argument and
// returns what follows it, or false to end the list there.
func eachListed(s string, item func(string) (after string, ok bool)) {
	for {
		after, ok := item(s)
		if !ok {
			return
		}
		after = strings.TrimSpace(after)
		if !strings.HasPrefix(after, ",") {
			return
		}
		s = after[1:]
	}
}

// normalizeStmt removes comments from a statement and collapses its
// whitespace to single spaces.
func normalizeStmt(stmt string) string {
	return strings.TrimSpace(spaceRE.ReplaceAllString(commentRE.ReplaceAllString(stmt, " "), " "))
}

// parseTableName reads "name", "`name`", "db.name" or "`db`.`name`" at the
// start of s and returns it (db defaulting to db) and the rest of s.
func parseTableName(db, s string) (capture.TableID, string, bool) {
	s = strings.TrimSpace(s)
	first, rest, ok := parseIdent(s)
	if !ok {
		return capture.TableID{}, s, false
	}
	if strings.HasPrefix(rest, ".") {
		second, rest2, ok := parseIdent(rest[1:])
		if !ok {
			return capture.TableID{}, s, false
		}
		return capture.TableID{Schema: first, Name: second}, rest2, true
	}
	return capture.TableID{Schema: db, Name: first}, rest, true
}

// parseIdent reads one identifier, backquoted or bare.
func parseIdent(s string) (string, string, bool) {
	if strings.HasPrefix(s, "`") {
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			if s[i] == '`' {
				if i+1 < len(s) && s[i+1] == '`' {
					b.WriteByte('`')
					i++
					continue
				}
				return b.String(), s[i+1:], true
			}
			b.WriteByte(s[i])
		}
		return "", s, false
	}
	end := strings.IndexFunc(s, func(r rune) bool {
		return !(r == '_' || r == '$' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127)
	})
	if end < 0 {
		end = len(s)
	}
	if end == 0 {
		return "", s, false
	}
	return s[:end], s[end:], true
}

// ddl decides what a statement in the binlog means for capture: TRUNCATE
// of a captured table is an OpTruncate change; an ALTER (or index change)
// of one makes its transaction's batch a Barrier, and the layout it
// leaves is read from the next TABLE_MAP (see tablemap.go), except that
// columns it renames are renamed at once, in a layout the Barrier carries
// (capture.Batch.Layouts; see renameColumns); an ALTER that changes rows
// without row events is also an OpUnreadable change (unfollowableAlter);
// DROP of one (DROP TABLE, DROP DATABASE, CREATE OR REPLACE) is a Barrier
// naming it in capture.Batch.Dropped, and a new table matching
// source.tables (CREATE, or RENAME to its name) one naming it in
// capture.Batch.Added (see tablesChanged); RENAME of a captured table, or
// an ALTER that renames it, is an error naming the fix. Statements on
// temporary tables and on other tables are ignored.
func (st *streamer) ddl(ctx context.Context, h *replication.EventHeader, db, stmt string) ([]capture.Change, error) {
	var out []capture.Change
	if temporaryRE.MatchString(normalizeStmt(stmt)) {
		return nil, nil // not in the row-based binlog, and never a captured table
	}
	for _, r := range parseDDL(db, stmt) {
		if r.verb == "DROPDB" {
			for _, id := range st.capturedIn(r.id.Schema) {
				st.tablesChanged(id, "DROP", stmt)
			}
			continue
		}
		t, captured := st.byName[r.id]
		switch {
		case !captured:
			if (r.verb == "CREATE") && st.s.base.Patterns.Match(r.id) {
				st.tablesChanged(r.id, "CREATE", stmt)
			}
		case r.verb == "TRUNCATE":
			out = append(out, capture.Change{Table: t.id, Op: capture.OpTruncate, Schema: t.layout})
		case r.verb == "ALTER" || r.verb == "INDEX":
			if why := alterFillsRows(stmt); why != "" {
				out = append(out, st.unfollowableAlter(h, t, why, stmt)...)
			}
			renames, tableRenamed := alterRenames(stmt)
			if tableRenamed {
				return nil, st.unsupported(t.id, stmt)
			}
			if len(renames) > 0 {
				v, err := st.renameColumns(t, renames, stmt)
				if err != nil {
					return nil, err
				}
				st.byName[t.id] = v
				if st.txn.layouts == nil {
					st.txn.layouts = map[capture.TableID]*schema.Table{}
				}
				st.txn.layouts[t.id] = v.layout
			}
			st.txn.barrier = true
			st.s.base.Log.Info("schema change on a captured table", "table", t.id.String(), "position", st.cur.String(), "statement", truncate(stmt, 200))
		case r.verb == "DROP":
			st.tablesChanged(t.id, "DROP", stmt)
		case r.verb == "CREATE":
			// A captured name: CREATE OR REPLACE drops the table it
			// replaces; otherwise the CREATE is one a replay passes
			// again (the table this session discovered, or one the
			// consumer already holds), or IF NOT EXISTS that did nothing.
			if orReplaceRE.MatchString(normalizeStmt(stmt)) {
				st.tablesChanged(t.id, "DROP", stmt)
			}
			st.tablesChanged(t.id, "CREATE", stmt)
		default:
			return nil, st.unsupported(t.id, stmt)
		}
	}
	return out, nil
}

var (
	temporaryRE = regexp.MustCompile(`(?i)^(?:CREATE\s+(?:OR\s+REPLACE\s+)?|DROP\s+)TEMPORARY\s`)
	orReplaceRE = regexp.MustCompile(`(?i)^CREATE\s+OR\s+REPLACE\s`)
)

// capturedIn returns the captured tables of database db.
func (st *streamer) capturedIn(db string) []capture.TableID {
	var out []capture.TableID
	for id := range st.byName {
		if strings.EqualFold(id.Schema, db) {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b capture.TableID) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// tablesChanged records in the open transaction that DDL stmt dropped
// (verb DROP) or created (CREATE) table id, and makes its batch a
// Barrier (capture.Batch.Dropped, Added). A dropped table stays in
// byName: the consumer decides whether the drop is new (a replay may
// pass the drop of a table since created again, which this session
// discovered), and a table created again under its name is Added, which
// starts the source again.
func (st *streamer) tablesChanged(id capture.TableID, verb, stmt string) {
	st.txn.barrier = true
	if verb == "DROP" {
		st.txn.dropped = append(st.txn.dropped, id)
		st.s.base.Log.Info("a captured table was dropped", "table", id.String(), "position", st.cur.String(), "statement", truncate(stmt, 200))
		return
	}
	st.txn.added = append(st.txn.added, id)
	st.s.base.Log.Info("a table matching source.tables was created", "table", id.String(), "position", st.cur.String(), "statement", truncate(stmt, 200))
}

func (st *streamer) unsupported(id capture.TableID, stmt string) error {
	return fmt.Errorf("captured table %s was renamed: %q at %s; Floe does not follow a table to a new name: remove the old name from source.tables (the new name, when source.tables matches it, is captured as a new table), or rename it back",
		id, truncate(stmt, 200), st.cur)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// layoutDiff describes how a TABLE_MAP event differs from the discovered
// layout: column count, names (with binlog_row_metadata=FULL) and how
// the binlog stores each column (mysqltype.Type.HoldsBinlog). "" when
// they agree.
func layoutDiff(t *table, e *replication.TableMapEvent) string {
	if int(e.ColumnCount) != len(t.layout.Columns) {
		return fmt.Sprintf("%d columns where the discovered layout %s has %d", e.ColumnCount, t.layout, len(t.layout.Columns))
	}
	names := e.ColumnNameString()
	logged := mysqltype.TableMapColumns(e)
	for i, c := range t.layout.Columns {
		if len(names) == len(t.layout.Columns) && names[i] != c.Name {
			return fmt.Sprintf("column %d named %q where the discovered layout has %q", i+1, names[i], c.Name)
		}
		if !c.Source.(mysqltype.Type).HoldsBinlog(logged[i]) {
			return fmt.Sprintf("column %s of binlog type %d where the discovered type is %s", c.Name, e.ColumnType[i], t.colType[i])
		}
	}
	return ""
}

// alterFillsRows says why an ALTER TABLE statement changes existing rows
// in a way no row event shows ("" when it does not): a column added with
// a default other than NULL, NOT NULL, generated or AUTO_INCREMENT (the
// server fills it in for every row), or rows removed or brought in by a
// partition operation (partitionRows). Renames are read by alterRenames;
// other specifications (MODIFY, DROP, indexes, options) are judged by the
// layout they leave (see checkpoint's schema evolution).
func alterFillsRows(stmt string) string {
	s := normalizeStmt(stmt)
	loc := alterRE.FindStringIndex(s)
	if loc == nil {
		return ""
	}
	_, rest, ok := parseTableName("", s[loc[1]:])
	if !ok {
		return ""
	}
	for _, spec := range splitTopLevel(rest) {
		words := strings.Fields(strings.ToUpper(unquoted(spec)))
		if len(words) == 0 {
			continue
		}
		switch words[0] {
		case "ADD":
			if len(words) > 1 && slices.Contains([]string{"INDEX", "KEY", "UNIQUE", "FULLTEXT", "SPATIAL", "PRIMARY", "CONSTRAINT",
				"FOREIGN", "CHECK", "PARTITION", "PERIOD", "SYSTEM", "VECTOR"}, words[1]) {
				continue
			}
			if why := fillsRows(words); why != "" {
				return "a column added " + why
			}
		case "TRUNCATE", "DROP", "EXCHANGE", "CONVERT", "DISCARD", "IMPORT":
			if why := partitionRows(words); why != "" {
				return why
			}
		}
	}
	return ""
}

// partitionRows reports how a partition operation (upper-cased words of
// one ALTER TABLE specification) removes or brings in rows without row
// events: TRUNCATE and DROP PARTITION delete a partition's rows, EXCHANGE
// PARTITION swaps them with another table's, CONVERT moves a partition
// out to a table or a table in as a partition (MariaDB 10.7+), and
// DISCARD/IMPORT PARTITION … TABLESPACE replace its files. "" for the
// others (ADD, REORGANIZE, COALESCE, REBUILD, REMOVE PARTITIONING and
// PARTITION BY keep every row where it was, as far as a reader sees).
func partitionRows(words []string) string {
	if len(words) < 2 {
		return ""
	}
	op, what := words[0], words[1]
	switch {
	case (op == "TRUNCATE" || op == "DROP") && what == "PARTITION":
		return "rows removed by " + op + " PARTITION"
	case op == "EXCHANGE" && what == "PARTITION":
		return "rows swapped by EXCHANGE PARTITION"
	case op == "CONVERT" && (what == "PARTITION" || what == "TABLE"):
		return "rows moved by CONVERT " + what
	case (op == "DISCARD" || op == "IMPORT") && what == "PARTITION":
		return "a partition's tablespace " + strings.ToLower(op) + "ed"
	}
	return ""
}

// fillsRows reports how a column definition (upper-cased words, quoted
// text removed) gives existing rows a value: "" when it leaves them NULL.
func fillsRows(words []string) string {
	for i, w := range words {
		switch {
		case w == "DEFAULT" && (i+1 == len(words) || words[i+1] != "NULL"):
			return "with a default"
		case w == "NOT" && i+1 < len(words) && words[i+1] == "NULL":
			return "NOT NULL"
		case w == "AS" || w == "GENERATED":
			return "as a generated column"
		case w == "AUTO_INCREMENT" || w == "SERIAL":
			return "with AUTO_INCREMENT"
		}
	}
	return ""
}

// splitTopLevel splits s at commas outside parentheses and quotes.
func splitTopLevel(s string) []string {
	var (
		out   []string
		depth int
		quote byte
		start int
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote != '`' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unquoted blanks out quoted text (string literals, identifiers) so that
// keywords inside them are not read as keywords.
func unquoted(s string) string {
	b := []byte(s)
	var quote byte
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case quote != 0:
			if c == '\\' && quote != '`' && i+1 < len(b) {
				b[i], b[i+1] = ' ', ' '
				i++
				continue
			}
			if c == quote {
				quote = 0
			}
			b[i] = ' '
		case c == '\'' || c == '"' || c == '`':
			quote = c
			b[i] = ' '
		}
	}
	return string(b)
}
