package mysql

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// Statement-format DML.
//
// A session with binlog_format=STATEMENT (or MIXED, when the server
// chooses statement logging) writes its INSERT, UPDATE, DELETE, REPLACE
// and LOAD DATA to the binlog as SQL text in a Query event, with no row
// images. Capture cannot know which rows such a statement changed, so a
// statement that changes a captured table must stop the pipeline (see
// streamer.statementChange); one that changes other tables only must not.
// parseDML tells which tables a statement changes.

// dmlInfo is what a data-changing statement changes: targets for sure,
// and for a multi-table UPDATE each referenced table that has one of
// cols (unqualified SET columns belong to whichever table has them).
type dmlInfo struct {
	verb    string            // INSERT, REPLACE, UPDATE, DELETE, LOAD
	targets []capture.TableID // tables the statement changes
	refs    []capture.TableID // multi-table UPDATE: every table referenced
	cols    []string          // multi-table UPDATE: unqualified SET columns
	// guessed is set when the statement could not be parsed: targets
	// then holds every table name it mentions.
	guessed bool
}

// token is one lexical token of a statement.
type token struct {
	text   string
	kind   byte // 'w' bare word, 'q' quoted identifier (`x` or "x"), 's' string, 'p' punctuation, 'o' other
	quoted bool
}

func (t token) is(words ...string) bool {
	return t.kind == 'w' && slices.ContainsFunc(words, func(w string) bool { return strings.EqualFold(t.text, w) })
}

func (t token) punct(p string) bool { return t.kind == 'p' && t.text == p }

// ident reports whether t can be an identifier (a bare word or a quoted
// name; "x" is a name under ANSI_QUOTES and never valid where one is due).
func (t token) ident() bool { return t.kind == 'w' || t.kind == 'q' }

// lexSQL splits a statement into tokens. Comments are dropped, except
// executable comments (/*! ... */, /*M! ... */), whose text the server runs
// and which are read as SQL.
func lexSQL(s string) []token {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case strings.HasPrefix(s[i:], "/*!") || strings.HasPrefix(s[i:], "/*M!"):
			i += strings.Index(s[i:], "!") + 1
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
		case strings.HasPrefix(s[i:], "*/"):
			i += 2 // the end of an executable comment
		case strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return out
			}
			i += end + 4
		case c == '#' || strings.HasPrefix(s[i:], "--") && (i+2 == len(s) || strings.ContainsRune(" \t\r\n", rune(s[i+2]))):
			end := strings.IndexByte(s[i:], '\n')
			if end < 0 {
				return out
			}
			i += end + 1
		case c == '`' || c == '"' || c == '\'':
			text, n := quotedText(s[i:])
			kind := byte('s')
			if c != '\'' {
				kind = 'q'
			}
			out = append(out, token{text: text, kind: kind, quoted: true})
			i += n
		case c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '$' || s[j] >= '0' && s[j] <= '9' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 0x80) {
				j++
			}
			out = append(out, token{text: s[i:j], kind: 'w'})
			i = j
		case strings.ContainsRune(".,()=;*", rune(c)):
			out = append(out, token{text: string(c), kind: 'p'})
			i++
		default:
			out = append(out, token{text: string(c), kind: 'o'})
			i++
		}
	}
	return out
}

// quotedText reads a quoted token at the start of s (a doubled quote is
// one quote character; in strings a backslash escapes) and returns its
// text and length.
func quotedText(s string) (string, int) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == '\\' && q != '`' && i+1 < len(s):
			b.WriteByte(s[i+1])
			i++
		case s[i] == q && i+1 < len(s) && s[i+1] == q:
			b.WriteByte(q)
			i++
		case s[i] == q:
			return b.String(), i + 1
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), len(s)
}

// parseDML reads a statement logged as text. ok is false for statements
// that change no rows of a table (DDL, transaction control, SET, ...);
// db is the statement's default database.
func parseDML(db, stmt string) (dmlInfo, bool) {
	toks := lexSQL(stmt)
	toks = skipWith(toks)
	if len(toks) == 0 || !toks[0].is("INSERT", "REPLACE", "UPDATE", "DELETE", "LOAD") {
		return dmlInfo{}, false
	}
	p := &dmlParser{db: db, toks: toks}
	info, ok := p.parse()
	if !ok {
		// Unparsed: every name it mentions might be what it changes.
		info = dmlInfo{verb: strings.ToUpper(toks[0].text), targets: mentioned(db, toks), guessed: true}
	}
	return info, true
}

// skipWith drops a leading WITH clause (common table expressions) so the
// statement it belongs to comes first.
func skipWith(toks []token) []token {
	if len(toks) == 0 || !toks[0].is("WITH") {
		return toks
	}
	i := 1
	if i < len(toks) && toks[i].is("RECURSIVE") {
		i++
	}
	for i < len(toks) {
		// name [(columns)] AS (query)
		for i < len(toks) && !toks[i].is("AS") {
			if toks[i].punct("(") {
				i = closing(toks, i)
			}
			i++
		}
		i++ // AS
		if i < len(toks) && toks[i].punct("(") {
			i = closing(toks, i) + 1
		}
		if i < len(toks) && toks[i].punct(",") {
			i++
			continue
		}
		break
	}
	return toks[min(i, len(toks)):]
}

// closing returns the index of the parenthesis closing the one at i (the
// last index if it is never closed).
func closing(toks []token, i int) int {
	depth := 0
	for j := i; j < len(toks); j++ {
		switch {
		case toks[j].punct("("):
			depth++
		case toks[j].punct(")"):
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return len(toks) - 1
}

// mentioned returns every [db.]name sequence of toks as a table id.
func mentioned(db string, toks []token) []capture.TableID {
	var out []capture.TableID
	for i := 0; i < len(toks); i++ {
		if !toks[i].ident() {
			continue
		}
		id := capture.TableID{Schema: db, Name: toks[i].text}
		if i+2 < len(toks) && toks[i+1].punct(".") && toks[i+2].ident() {
			out = append(out, capture.TableID{Schema: toks[i].text, Name: toks[i+2].text})
		}
		out = append(out, id)
	}
	return out
}

// dmlParser reads one data-changing statement.
type dmlParser struct {
	db   string
	toks []token
	i    int
}

// tableRef is one table of a statement's table references.
type tableRef struct {
	id    capture.TableID
	alias string
}

func (p *dmlParser) peek() token {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return token{}
}

// skip moves past any of the words.
func (p *dmlParser) skip(words ...string) {
	for p.peek().is(words...) {
		p.i++
	}
}

func (p *dmlParser) parse() (dmlInfo, bool) {
	verb := strings.ToUpper(p.peek().text)
	p.i++
	info := dmlInfo{verb: verb}
	switch verb {
	case "INSERT", "REPLACE":
		p.skip("LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE", "INTO")
		id, ok := p.name()
		if !ok {
			return info, false
		}
		info.targets = []capture.TableID{id}
	case "LOAD":
		// LOAD {DATA | XML} ... INTO TABLE name
		for p.i+1 < len(p.toks) && !(p.toks[p.i].is("INTO") && p.toks[p.i+1].is("TABLE")) {
			p.i++
		}
		p.i += 2
		info.verb = "LOAD DATA"
		id, ok := p.name()
		if !ok {
			return info, false
		}
		info.targets = []capture.TableID{id}
	case "UPDATE":
		return p.update(info)
	case "DELETE":
		return p.delete(info)
	}
	return info, true
}

// update reads UPDATE [LOW_PRIORITY] [IGNORE] table_references SET ...:
// one table is the target; with several, each qualified SET column names
// its table, and an unqualified one belongs to whichever table has it.
func (p *dmlParser) update(info dmlInfo) (dmlInfo, bool) {
	p.skip("LOW_PRIORITY", "IGNORE")
	end := p.find("SET")
	if end < 0 {
		return info, false
	}
	refs, ok := p.refs(p.i, end)
	if !ok || len(refs) == 0 {
		return info, false
	}
	if len(refs) == 1 {
		info.targets = []capture.TableID{refs[0].id}
		return info, true
	}
	for _, r := range refs {
		info.refs = append(info.refs, r.id)
	}
	for _, asg := range p.splitTop(end+1, p.findFrom(end+1, "WHERE", "ORDER", "LIMIT", "RETURNING")) {
		// [[db.]table.]column = value
		eq := slices.IndexFunc(asg, func(t token) bool { return t.punct("=") })
		if eq < 1 {
			return info, false
		}
		col := asg[:eq]
		switch {
		case len(col) == 1 && col[0].ident():
			info.cols = append(info.cols, col[0].text)
		case len(col) == 3 && col[1].punct("."):
			info.targets = append(info.targets, resolve(p.db, refs, "", col[0].text))
		case len(col) == 5 && col[1].punct(".") && col[3].punct("."):
			info.targets = append(info.targets, resolve(p.db, refs, col[0].text, col[2].text))
		default:
			return info, false
		}
	}
	return info, true
}

// delete reads the three DELETE forms: FROM one table; targets FROM
// table_references; FROM targets USING table_references.
func (p *dmlParser) delete(info dmlInfo) (dmlInfo, bool) {
	p.skip("LOW_PRIORITY", "QUICK", "IGNORE")
	usingFrom := p.peek().is("FROM")
	if usingFrom {
		p.i++
	}
	targetsEnd := p.findFrom(p.i, "FROM")
	if usingFrom {
		targetsEnd = p.findFrom(p.i, "USING")
	}
	if usingFrom && targetsEnd == len(p.toks) {
		// DELETE FROM one table [[AS] alias] [PARTITION ...] [WHERE ...]
		id, ok := p.name()
		if !ok {
			return info, false
		}
		info.targets = []capture.TableID{id}
		return info, true
	}
	targets := p.splitTop(p.i, targetsEnd)
	refs, ok := p.refs(targetsEnd+1, p.findFrom(targetsEnd+1, "WHERE", "ORDER", "LIMIT", "RETURNING"))
	if !ok || len(targets) == 0 {
		return info, false
	}
	for _, t := range targets {
		// name, name.*, db.name, db.name.*
		if len(t) > 1 && t[len(t)-1].punct("*") && t[len(t)-2].punct(".") {
			t = t[:len(t)-2]
		}
		switch {
		case len(t) == 1 && t[0].ident():
			info.targets = append(info.targets, resolve(p.db, refs, "", t[0].text))
		case len(t) == 3 && t[0].ident() && t[1].punct(".") && t[2].ident():
			info.targets = append(info.targets, resolve(p.db, refs, t[0].text, t[2].text))
		default:
			return info, false
		}
	}
	return info, true
}

// resolve names the table a qualifier stands for: an alias or a table of
// refs, else the table itself (db defaulting to the statement's).
func resolve(db string, refs []tableRef, schema, name string) capture.TableID {
	if schema == "" {
		for _, r := range refs {
			if r.alias != "" && strings.EqualFold(r.alias, name) {
				return r.id
			}
		}
		for _, r := range refs {
			if r.alias == "" && strings.EqualFold(r.id.Name, name) {
				return r.id
			}
		}
		return capture.TableID{Schema: db, Name: name}
	}
	return capture.TableID{Schema: schema, Name: name}
}

// name reads [db.]table at the cursor.
func (p *dmlParser) name() (capture.TableID, bool) {
	if !p.peek().ident() {
		return capture.TableID{}, false
	}
	first := p.peek().text
	p.i++
	if p.peek().punct(".") && p.i+1 < len(p.toks) && p.toks[p.i+1].ident() {
		second := p.toks[p.i+1].text
		p.i += 2
		return capture.TableID{Schema: first, Name: second}, true
	}
	return capture.TableID{Schema: p.db, Name: first}, true
}

// find returns the index of the first of words at parenthesis depth 0
// from the cursor, -1 if none.
func (p *dmlParser) find(words ...string) int {
	if i := p.findFrom(p.i, words...); i < len(p.toks) {
		return i
	}
	return -1
}

// findFrom is find from index i; len(toks) if none.
func (p *dmlParser) findFrom(i int, words ...string) int {
	for ; i < len(p.toks); i++ {
		switch {
		case p.toks[i].punct("("):
			i = closing(p.toks, i)
		case p.toks[i].is(words...):
			return i
		}
	}
	return len(p.toks)
}

// splitTop splits toks[from:to] at commas of depth 0.
func (p *dmlParser) splitTop(from, to int) [][]token {
	var out [][]token
	start := from
	for i := from; i < to && i < len(p.toks); i++ {
		switch {
		case p.toks[i].punct("("):
			i = closing(p.toks, i)
		case p.toks[i].punct(","):
			out = append(out, p.toks[start:i])
			start = i + 1
		}
	}
	if start < min(to, len(p.toks)) {
		out = append(out, p.toks[start:min(to, len(p.toks))])
	}
	return out
}

// notAlias are the words that may follow a table factor without being
// its alias.
var notAlias = []string{"ON", "USING", "JOIN", "INNER", "LEFT", "RIGHT", "OUTER", "CROSS", "NATURAL", "STRAIGHT_JOIN",
	"FULL", "SET", "WHERE", "USE", "IGNORE", "FORCE", "PARTITION", "ORDER", "LIMIT", "FOR", "LOCK", "GROUP", "HAVING",
	"WINDOW", "UNION", "RETURNING", "FROM"}

// refs reads the table references toks[from:to]: table factors joined by
// commas and JOINs, with aliases, index hints and join conditions;
// parenthesised groups are read recursively and derived tables
// (subqueries) skipped, as they cannot be changed.
func (p *dmlParser) refs(from, to int) ([]tableRef, bool) {
	var out []tableRef
	factor := true
	for i := from; i < to && i < len(p.toks); {
		t := p.toks[i]
		switch {
		case t.punct("("):
			end := closing(p.toks, i)
			if factor {
				if in := p.toks[i+1 : end]; len(in) > 0 && !in[0].is("SELECT", "WITH", "VALUES", "TABLE") && !in[0].punct("(") {
					inner, ok := p.refs(i+1, end)
					if !ok {
						return nil, false
					}
					out = append(out, inner...)
				}
				factor = false
				i = p.alias(end+1, nil)
				continue
			}
			i = end + 1
		case t.punct(","), t.is("JOIN", "STRAIGHT_JOIN"):
			factor = true
			i++
		case factor && t.ident():
			sub := &dmlParser{db: p.db, toks: p.toks, i: i}
			id, ok := sub.name()
			if !ok {
				return nil, false
			}
			ref := tableRef{id: id}
			i = p.alias(sub.i, &ref)
			out = append(out, ref)
			factor = false
		default:
			i++
		}
	}
	return out, true
}

// alias reads an optional [AS] alias at i into ref (when not nil) and
// returns the index after it.
func (p *dmlParser) alias(i int, ref *tableRef) int {
	if i < len(p.toks) && p.toks[i].is("PARTITION") && i+1 < len(p.toks) && p.toks[i+1].punct("(") {
		i = closing(p.toks, i+1) + 1
	}
	as := i < len(p.toks) && p.toks[i].is("AS")
	if as {
		i++
	}
	if i < len(p.toks) && p.toks[i].ident() && (as || p.toks[i].quoted || !p.toks[i].is(notAlias...)) {
		if ref != nil {
			ref.alias = p.toks[i].text
		}
		i++
	}
	return i
}

// statementChanges returns one OpUnreadable change for each captured
// table that stmt, a data-changing statement logged as text, changes
// (parseDML), naming the table, the position and the fix; nil for any
// other statement. A change of a table whose chunks this session reads,
// all after the server's position at Start, is superseded by them when it
// is at or before that position and is dropped here (a table floe
// resnapshot re-reads passes the statement that stopped it); changes of
// tables with chunk watermarks are reconciled like any other change.
func (st *streamer) statementChanges(h *replication.EventHeader, db, stmt string) []capture.Change {
	info, ok := parseDML(db, stmt)
	if !ok {
		return nil
	}
	pos, at := st.statementPosition(h)
	var out []capture.Change
	for _, t := range st.changedTables(info) {
		if st.supersededBySnapshot(t, pos) {
			st.s.base.Log.Info("a statement-format change before this session's snapshot of the table is superseded by it",
				"table", t.id.String(), "position", at, "statement", truncate(stmt, 200))
			continue
		}
		how := "changed"
		if info.guessed {
			how = "may have changed (the statement could not be parsed, and it names it)"
		}
		out = append(out, capture.Change{Table: t.id, Op: capture.OpUnreadable, Err: fmt.Errorf(
			"%s %s captured table %s at %s, but the server logged it as a statement, not as rows (binlog_format STATEMENT, or MIXED choosing statement logging, in that session), so Floe cannot tell which rows changed: %q; "+
				"fix: make the writing sessions log rows (binlog_format=ROW: SET GLOBAL binlog_format=ROW, drop any SET SESSION binlog_format, reconnect the writers), then re-snapshot the table with floe resnapshot --table %s",
			info.verb, how, t.id, at, truncate(stmt, 200), t.id)})
	}
	return out
}

// statementPosition is the position of the statement event h, and how
// to name it: its transaction's GTID when it has one, else its binlog
// file and offset.
func (st *streamer) statementPosition(h *replication.EventHeader) (Position, string) {
	pos := Position{Kind: KindFile, File: st.file, Offset: h.LogPos}
	at := fmt.Sprintf("binlog %s:%d", st.file, h.LogPos)
	if st.txn != nil && st.txn.hasGTID {
		pos = st.txn.final
		at = fmt.Sprintf("%s (%s)", pos, at)
	}
	return pos, at
}

// supersededBySnapshot reports whether this session's snapshot of t,
// whose chunks are all read after the server's position at Start, holds
// the effect of a change at pos (at or before that position).
func (st *streamer) supersededBySnapshot(t *table, pos Position) bool {
	return st.snapshotted[t.id] && st.serverAt.Kind == pos.Kind && pos.Compare(st.serverAt) <= 0
}

// changedTables are the captured tables among what info changes.
func (st *streamer) changedTables(info dmlInfo) []*table {
	var out []*table
	add := func(id capture.TableID) {
		if t := st.captured(id); t != nil && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	for _, id := range info.targets {
		add(id)
	}
	for _, id := range info.refs {
		t := st.captured(id)
		if t == nil {
			continue
		}
		for _, c := range info.cols {
			if slices.ContainsFunc(t.layout.Columns, func(col schema.Column) bool { return strings.EqualFold(col.Name, c) }) {
				add(id)
			}
		}
	}
	return out
}

// captured returns the captured table id names, nil if none. Names are
// compared exactly first, then ignoring case (lower_case_table_names).
func (st *streamer) captured(id capture.TableID) *table {
	if t, ok := st.byName[id]; ok {
		return t
	}
	for k, t := range st.byName {
		if strings.EqualFold(k.Schema, id.Schema) && strings.EqualFold(k.Name, id.Name) {
			return t
		}
	}
	return nil
}

// loadQuery handles an Execute_load_query event, the statement of a
// LOAD DATA logged as text (its data came in Begin_load_query events),
// like a Query event's statement. go-mysql does not decode the text, so
// it is read from the raw event: after the common header, the query
// event's fixed part (13 bytes) and the load's (13 bytes), the status
// variables, the default database and a NUL; before the CRC32, when the
// binlog carries checksums.
func (st *streamer) loadQuery(ctx context.Context, ev *replication.BinlogEvent) error {
	e := ev.Event.(*replication.ExecuteLoadQueryEvent)
	data := ev.RawData
	if st.checksum && len(data) >= replication.BinlogChecksumLength {
		data = data[:len(data)-replication.BinlogChecksumLength]
	}
	start := replication.EventHeaderSize + 26 + int(e.StatusVars)
	if start+int(e.SchemaLength)+1 > len(data) {
		return fmt.Errorf("binlog Execute_load_query event at %s:%d is too short to hold its statement", st.file, ev.Header.LogPos)
	}
	db := string(data[start : start+int(e.SchemaLength)])
	stmt := string(data[start+int(e.SchemaLength)+1:])
	if st.txn == nil {
		st.txn = &txnState{}
	}
	for _, ch := range st.statementChanges(ev.Header, db, stmt) {
		if err := st.add(ctx, ev.Header, ch); err != nil {
			return err
		}
	}
	if st.txn.begun {
		return nil
	}
	return st.commit(ctx, ev.Header)
}
