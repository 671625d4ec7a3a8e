package postgres

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// Reading the query text of a DDL message (ddlMessage.Command): the
// column renames it names, and whether it is one lone rename. The text is
// current_query() of the session that ran the ALTER: every statement the
// client sent in that query, cut to 2000 characters.

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

// loneRename returns the column rename of query text that holds one
// statement besides transaction control (BEGIN, START TRANSACTION,
// COMMIT, END): ALTER TABLE [IF EXISTS] [ONLY] name [*] RENAME [COLUMN]
// from TO to, the table name bare, quoted or qualified. A DDL message
// carrying such a text was emitted by that statement. ok is false for
// any other text (several statements, a DO block, a function call).
func loneRename(sql string) (r colRename, ok bool) {
	var stmt []sqlToken
	n := 0
	for _, s := range splitStatements(sqlTokens(sql)) {
		if len(s) == 0 || !s[0].quoted && slices.Contains([]string{"begin", "start", "commit", "end"}, s[0].text) {
			continue
		}
		stmt, n = s, n+1
	}
	if n != 1 {
		return r, false
	}
	return parseRenameColumn(stmt)
}

// parseRenameColumn parses the tokens of one ALTER TABLE ... RENAME
// [COLUMN] from TO to statement, the whole of it.
func parseRenameColumn(toks []sqlToken) (r colRename, ok bool) {
	i := 0
	word := func(w string) bool {
		if i < len(toks) && !toks[i].quoted && toks[i].text == w {
			i++
			return true
		}
		return false
	}
	if !word("alter") || !word("table") {
		return r, false
	}
	if word("if") && !word("exists") {
		return r, false
	}
	word("only")
	for part := 0; ; part++ { // name, schema.name or db.schema.name
		if part == 3 || i >= len(toks) || !toks[i].ident {
			return r, false
		}
		i++
		if !word(".") {
			break
		}
	}
	word("*")
	if !word("rename") {
		return r, false
	}
	word("column")
	if i+3 != len(toks) || !toks[i].ident || !toks[i+2].ident || toks[i+1].quoted || toks[i+1].text != "to" {
		return r, false
	}
	if from := toks[i]; !from.quoted && (from.text == "to" || from.text == "constraint") {
		return r, false
	}
	return colRename{from: truncateIdent(toks[i].text), to: truncateIdent(toks[i+2].text)}, true
}

// truncateIdent shortens an identifier to the 63 bytes PostgreSQL keeps
// (NAMEDATALEN - 1), at a character boundary of UTF-8.
func truncateIdent(s string) string {
	const max = 63
	if len(s) <= max {
		return s
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// splitStatements splits tokens at semicolons.
func splitStatements(toks []sqlToken) [][]sqlToken {
	var out [][]sqlToken
	start := 0
	for i, t := range toks {
		if !t.ident && t.text == ";" {
			out = append(out, toks[start:i])
			start = i + 1
		}
	}
	return append(out, toks[start:])
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
