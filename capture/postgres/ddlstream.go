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
// columns the message shows under a new name (same attnum) in the
// table's layout, in a new layout whose columns carry
// schema.Column.RenamedFrom, taken by the table's later changes and
// emitted as capture.Batch.Layouts on a Barrier before them (barrier) or
// with the commit. Other changes the message shows are left to the
// Relation message that precedes the table's first change in the new
// layout (relation.go).
//
// The table's layout may be the discovered one, the server's current
// layout, when the stream replays the ALTER after a restart: it has the
// new name already, and the rename is read from the command text
// (commandRenames) to mark the column. A rename in a transaction that
// collected changes before it has no position of its own: the table's
// changes there are OpUnreadable, naming the fix.
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
	next, renames := renamedLayout(cur, cols, commandRenames(msg.Command))
	if len(renames) == 0 {
		return nil
	}
	st.s.base.Log.Info("column renamed on a captured table", "table", cur.id.String(), "commit_lsn", txn.finalLSN.String(),
		"renames", strings.Join(renames, "; "), "command", truncate(msg.Command, 200))
	st.byName[cur.id] = next
	if st.rels[msg.OID] == cur {
		st.rels[msg.OID] = next
	}
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

// renamedLayout returns cur with the renames a DDL message shows: a column
// whose attnum cols names differently is renamed; a rename named in the
// command text (from -> to) whose new name cur has already, and whose old
// one it lacks, marks that column. renames describes them; nil when there
// is none (next is then cur).
func renamedLayout(cur *table, cols map[int16]string, text []colRename) (next *table, renames []string) {
	out := slices.Clone(cur.layout.Columns)
	for i := range out {
		out[i].RenamedFrom = ""
	}
	for i, c := range cur.layout.Columns {
		if num := cur.attNums[i]; num != 0 {
			if name, ok := cols[num]; ok && name != c.Name {
				out[i].Name, out[i].RenamedFrom = name, c.Name
				renames = append(renames, fmt.Sprintf("rename column %s to %s", c.Name, name))
			}
		}
	}
	for _, r := range text {
		j := slices.IndexFunc(out, func(c schema.Column) bool { return c.Name == r.to })
		if j < 0 || out[j].RenamedFrom != "" || slices.ContainsFunc(out, func(c schema.Column) bool { return c.Name == r.from }) ||
			!slices.Contains(mapValues(cols), r.to) {
			continue
		}
		out[j].RenamedFrom = r.from
		renames = append(renames, fmt.Sprintf("rename column %s to %s (replayed)", r.from, r.to))
	}
	if len(renames) == 0 {
		return cur, nil
	}
	n := *cur
	n.layout = &schema.Table{Columns: out, Key: cur.layout.Key}
	return &n, renames
}

func mapValues(m map[int16]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// colRename is one column rename of an ALTER TABLE command.
type colRename struct{ from, to string }

// commandRenames reads the column renames of SQL text (one or more
// statements): RENAME [COLUMN] a TO b, with identifiers bare (folded to
// lower case, as PostgreSQL does) or double-quoted. RENAME TO (the
// table) and RENAME CONSTRAINT are not column renames. The text is only a
// hint: a rename is used when the layout and the message agree with it.
func commandRenames(sql string) []colRename {
	toks := sqlTokens(sql)
	var out []colRename
	for i := 0; i < len(toks); i++ {
		if toks[i].quoted || toks[i].text != "rename" {
			continue
		}
		j := i + 1
		if j < len(toks) && !toks[j].quoted && toks[j].text == "column" {
			j++
		}
		if j+2 >= len(toks) {
			break
		}
		from, to, kw := toks[j], toks[j+2], toks[j+1]
		if !from.quoted && (from.text == "to" || from.text == "constraint") {
			continue
		}
		if kw.quoted || kw.text != "to" || !from.ident || !to.ident {
			continue
		}
		out = append(out, colRename{from: from.text, to: to.text})
		i = j + 2
	}
	return out
}

type sqlToken struct {
	text   string
	quoted bool // a "quoted identifier"
	ident  bool // a bare word or a quoted identifier
}

// sqlTokens splits SQL into words (lower-cased), quoted identifiers and
// single punctuation characters, skipping string literals and comments.
func sqlTokens(sql string) []sqlToken {
	var out []sqlToken
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return out
			}
			i += end + 4
		case c == '\'':
			i++
			for i < len(sql) {
				if sql[i] == '\'' {
					if i+1 < len(sql) && sql[i+1] == '\'' {
						i += 2
						continue
					}
					break
				}
				i++
			}
			i++
			out = append(out, sqlToken{text: "'"})
		case c == '"':
			var b strings.Builder
			i++
			for i < len(sql) {
				if sql[i] == '"' {
					if i+1 < len(sql) && sql[i+1] == '"' {
						b.WriteByte('"')
						i += 2
						continue
					}
					break
				}
				b.WriteByte(sql[i])
				i++
			}
			i++
			out = append(out, sqlToken{text: b.String(), quoted: true, ident: true})
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
			j := i
			for j < len(sql) && (sql[j] == '_' || sql[j] == '$' || sql[j] >= 'a' && sql[j] <= 'z' || sql[j] >= 'A' && sql[j] <= 'Z' || sql[j] >= '0' && sql[j] <= '9' || sql[j] >= 0x80) {
				j++
			}
			out = append(out, sqlToken{text: strings.ToLower(sql[i:j]), ident: true})
			i = j
		default:
			out = append(out, sqlToken{text: string(c)})
			i++
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
