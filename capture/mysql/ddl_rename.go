package mysql

import (
	"fmt"
	"slices"
	"strings"

	"github.com/floe-cdc/floe/schema"
)

// colRename is one column rename of an ALTER TABLE statement.
type colRename struct{ from, to string }

// alterRenames returns the column renames of an ALTER TABLE statement in
// statement order: RENAME COLUMN a TO b, and CHANGE [COLUMN] [IF EXISTS]
// a b <definition> when b is not a (exactly: a change of letter case is
// a rename too, as the binlog's column names show it). tableRenamed
// reports a RENAME [TO | AS] of the table itself.
func alterRenames(stmt string) (renames []colRename, tableRenamed bool) {
	s := normalizeStmt(stmt)
	loc := alterRE.FindStringIndex(s)
	if loc == nil {
		return nil, false
	}
	_, rest, ok := parseTableName("", s[loc[1]:])
	if !ok {
		return nil, false
	}
	for _, spec := range splitTopLevel(rest) {
		spec = strings.TrimSpace(spec)
		verb, after, ok := parseIdent(spec)
		if !ok || strings.HasPrefix(spec, "`") {
			continue
		}
		after = strings.TrimSpace(after)
		switch strings.ToUpper(verb) {
		case "RENAME":
			kw, rest, _ := parseIdent(after)
			switch strings.ToUpper(kw) {
			case "COLUMN":
				from, to, ok := renamePair(rest, true)
				if ok {
					renames = append(renames, colRename{from: from, to: to})
				}
			case "INDEX", "KEY":
			default: // RENAME [TO | AS] new_name
				tableRenamed = true
			}
		case "CHANGE":
			after = skipWords(after, "COLUMN")
			after = skipWords(after, "IF", "EXISTS")
			from, to, ok := renamePair(after, false)
			if ok && from != to {
				renames = append(renames, colRename{from: from, to: to})
			}
		}
	}
	return renames, tableRenamed
}

// renamePair reads "a TO b" (withTo) or "a b" at the start of s.
func renamePair(s string, withTo bool) (from, to string, ok bool) {
	from, rest, ok := parseIdent(strings.TrimSpace(s))
	if !ok {
		return "", "", false
	}
	rest = strings.TrimSpace(rest)
	if withTo {
		kw, r, ok := parseIdent(rest)
		if !ok || !strings.EqualFold(kw, "TO") {
			return "", "", false
		}
		rest = strings.TrimSpace(r)
	}
	to, _, ok = parseIdent(rest)
	return from, to, ok
}

// skipWords removes the keywords words from the start of s when s starts
// with all of them, in order, case-insensitively.
func skipWords(s string, words ...string) string {
	rest := s
	for _, w := range words {
		got, r, ok := parseIdent(strings.TrimSpace(rest))
		if !ok || !strings.EqualFold(got, w) {
			return s
		}
		rest = r
	}
	return strings.TrimSpace(rest)
}

// renameColumns returns the layout version of captured table t after
// renames, in a new *table whose renamed columns carry
// schema.Column.RenamedFrom (the coordinator renames the Iceberg column,
// keeping its field id and values). Decoders are kept: a rename changes no
// value. The next TABLE_MAP (the server's layout after the whole
// statement) is then compared with this version as usual.
//
// Before the session's first TABLE_MAP of t its layout is the discovered
// one, the server's current layout, which may already have the new name
// (a restart replaying the statement): such a column is marked, not
// renamed. A rename whose old name the layout lacks otherwise, or whose
// new name it has already, cannot be placed: the error names the fix.
func (st *streamer) renameColumns(t *table, renames []colRename, stmt string) (*table, error) {
	cols := slices.Clone(t.layout.Columns)
	for i := range cols {
		cols[i].RenamedFrom = ""
	}
	index := func(name string) int {
		return slices.IndexFunc(cols, func(c schema.Column) bool { return strings.EqualFold(c.Name, name) })
	}
	for _, r := range renames {
		i, j := index(r.from), index(r.to)
		switch {
		case i >= 0 && (j < 0 || j == i):
			cols[i].Name = r.to
		case i < 0 && j >= 0 && !st.mapped[t.id]:
			// The discovered layout is already past this statement.
		default:
			return nil, fmt.Errorf("schema change of captured table %s at %s: column rename %s -> %s does not fit the layout the stream has there %s: %q; re-snapshot the table with floe resnapshot",
				t.id, st.cur, r.from, r.to, t.layout, truncate(stmt, 200))
		}
		// A column renamed twice in one statement keeps its first name.
		if cols[index(r.to)].RenamedFrom == "" {
			cols[index(r.to)].RenamedFrom = r.from
			if i >= 0 {
				cols[index(r.to)].RenamedFrom = t.layout.Columns[i].Name
			}
		}
	}
	v := *t
	v.layout = &schema.Table{Columns: cols, Key: t.layout.Key}
	return &v, nil
}

// StatesRenames tells the coordinator (checkpoint) that the stream states
// column renames from the binlog DDL (renameColumns), so a rename since a
// table's position is left to the stream at start.
func (s *Source) StatesRenames() bool { return true }
