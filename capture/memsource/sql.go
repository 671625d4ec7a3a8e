package memsource

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// The SQL subset: a tokenizer and a recursive-descent parser into the
// statements below; sqlexec.go runs them.

type token struct {
	kind byte   // 'i' identifier or keyword, 'n' number, 's' string, 'p' punctuation, 0 end
	text string // keywords and identifiers in lower case; a string's value unquoted
}

func tokenize(src string) ([]token, error) {
	var out []token
	rs := []rune(src)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '_' || unicode.IsLetter(r):
			j := i
			for j < len(rs) && (rs[j] == '_' || unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j])) {
				j++
			}
			out = append(out, token{'i', strings.ToLower(string(rs[i:j]))})
			i = j
		case unicode.IsDigit(r):
			j := i
			for j < len(rs) && (unicode.IsDigit(rs[j]) || rs[j] == '.') {
				j++
			}
			out = append(out, token{'n', string(rs[i:j])})
			i = j
		case r == '\'':
			var b strings.Builder
			j := i + 1
			for ; ; j++ {
				if j >= len(rs) {
					return nil, fmt.Errorf("unterminated string in %q", src)
				}
				if rs[j] == '\'' {
					if j+1 < len(rs) && rs[j+1] == '\'' {
						b.WriteRune('\'')
						j++
						continue
					}
					break
				}
				b.WriteRune(rs[j])
			}
			out = append(out, token{'s', b.String()})
			i = j + 1
		default:
			p := string(r)
			if i+1 < len(rs) && slices.Contains([]string{"<=", ">=", "<>", "!="}, string(rs[i:i+2])) {
				p = string(rs[i : i+2])
			} else if !strings.ContainsRune("(),=<>+-*;", r) {
				return nil, fmt.Errorf("unexpected %q in %q", r, src)
			}
			out = append(out, token{'p', p})
			i += len([]rune(p))
		}
	}
	return out, nil
}

// Statements.
type (
	colDef struct {
		name, typ  string
		args       []int // varchar(n), decimal(p,s)
		notNull    bool
		primaryKey bool
		def        *literal
	}
	createStmt struct {
		table string
		cols  []colDef
		key   []string
	}
	dropStmt     struct{ table string }
	truncateStmt struct{ table string }
	alterStmt    struct {
		table    string
		col      colDef
		from, to string // RENAME COLUMN from TO to, instead of ADD
	}
	insertStmt struct {
		table string
		cols  []string // nil: all, in order
		rows  [][]literal
	}
	updateStmt struct {
		table string
		sets  []setClause
		where []predicate
	}
	deleteStmt struct {
		table string
		where []predicate
	}
)

// literal is NULL (null), a number (its text, signed) or a string.
type literal struct {
	null  bool
	num   string
	str   *string
	isNum bool
}

// setClause is "col = expr": expr is a literal, or col2 [+|- literal].
type setClause struct {
	col   string
	lit   literal
	ref   string // column referenced; "" for a plain literal
	op    string // "+", "-" or ""
	right literal
}

// predicate is "col op literal", "col BETWEEN a AND b" or "col IN (...)";
// a WHERE clause is their conjunction.
type predicate struct {
	col  string
	op   string // "=", "<>", "<", "<=", ">", ">=", "between", "in"
	args []literal
}

// parser is a recursive-descent parser over the tokens of one statement.
// Its rules return what they parsed and record the first error in err;
// once err is set, every rule consumes nothing and returns zero values,
// so a rule reads as its grammar and parse reports err at the end.
type parser struct {
	toks []token
	i    int
	src  string
	err  error
}

func (p *parser) peek() token {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return token{}
}

func (p *parser) next() token {
	if p.err != nil {
		return token{}
	}
	t := p.peek()
	p.i++
	return t
}

// fail records the error at the current token, unless one is recorded.
func (p *parser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("parse %q: %s (at token %d)", p.src, fmt.Sprintf(format, args...), p.i)
	}
}

// accept consumes the next token when it is one of words (keywords or
// punctuation).
func (p *parser) accept(words ...string) bool {
	if p.err != nil {
		return false
	}
	t := p.peek()
	for _, w := range words {
		if (t.kind == 'i' || t.kind == 'p') && t.text == w {
			p.i++
			return true
		}
	}
	return false
}

// expect consumes words, in order, or fails at the first missing one.
func (p *parser) expect(words ...string) {
	for _, w := range words {
		if !p.accept(w) {
			p.fail("want %q", w)
			return
		}
	}
}

func (p *parser) ident() string {
	t := p.next()
	if t.kind != 'i' {
		p.fail("want a name")
		return ""
	}
	return t.text
}

func (p *parser) literal() literal {
	neg := p.accept("-")
	t := p.next()
	switch {
	case t.kind == 'n' && neg:
		return literal{isNum: true, num: "-" + t.text}
	case t.kind == 'n':
		return literal{isNum: true, num: t.text}
	case neg:
	case t.kind == 's':
		s := t.text
		return literal{str: &s}
	case t.kind == 'i' && t.text == "null":
		return literal{null: true}
	}
	p.fail("want a literal")
	return literal{}
}

// parse parses one statement.
func parse(src string) (any, error) {
	toks, err := tokenize(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, src: src}
	st := p.statement()
	p.accept(";")
	if p.err == nil && p.i != len(p.toks) {
		p.fail("unexpected %q", p.peek().text)
	}
	if p.err != nil {
		return nil, p.err
	}
	return st, nil
}

func (p *parser) statement() any {
	switch w := p.next(); {
	case w.text == "create" && p.accept("table"):
		return p.create()
	case w.text == "drop" && p.accept("table"):
		return dropStmt{table: p.ident()}
	case w.text == "truncate":
		p.accept("table")
		return truncateStmt{table: p.ident()}
	case w.text == "alter" && p.accept("table"):
		return p.alter()
	case w.text == "insert" && p.accept("into"):
		return p.insert()
	case w.text == "update":
		return p.update()
	case w.text == "delete" && p.accept("from"):
		return deleteStmt{table: p.ident(), where: p.where()}
	}
	p.fail("unsupported statement")
	return nil
}

func (p *parser) create() createStmt {
	s := createStmt{table: p.ident()}
	p.expect("(")
	p.sepBy(",", func() {
		if p.accept("primary") {
			p.expect("key", "(")
			s.key = list(p, p.ident)
			return
		}
		s.cols = append(s.cols, p.colDef())
	})
	p.expect(")")
	return s
}

// alter parses ADD [COLUMN] colDef or RENAME [COLUMN] from TO to.
func (p *parser) alter() alterStmt {
	s := alterStmt{table: p.ident()}
	if p.accept("rename") {
		p.accept("column")
		s.from = p.ident()
		p.expect("to")
		s.to = p.ident()
		return s
	}
	p.expect("add")
	p.accept("column")
	s.col = p.colDef()
	return s
}

// sepBy parses one or more items separated by the keyword or punctuation
// sep: item parses one; an error ends the list.
func (p *parser) sepBy(sep string, item func()) {
	for {
		item()
		if !p.accept(sep) {
			return
		}
	}
}

// list parses "item, item, ...)", the opening parenthesis consumed.
func list[T any](p *parser, item func() T) []T {
	var out []T
	p.sepBy(",", func() { out = append(out, item()) })
	p.expect(")")
	return out
}

// typeArg parses a type argument: varchar(n), decimal(p, s).
func (p *parser) typeArg() int {
	t := p.next()
	n, err := strconv.Atoi(t.text)
	if t.kind != 'n' || err != nil {
		p.fail("want a type argument")
		return 0
	}
	return n
}

func (p *parser) colDef() colDef {
	c := colDef{name: p.ident(), typ: p.ident()}
	if p.accept("(") {
		c.args = list(p, p.typeArg)
	}
	for {
		switch {
		case p.accept("not"):
			p.expect("null")
			c.notNull = true
		case p.accept("primary"):
			p.expect("key")
			c.primaryKey = true
		case p.accept("default"):
			l := p.literal()
			c.def = &l
		default:
			return c
		}
	}
}

func (p *parser) insert() insertStmt {
	s := insertStmt{table: p.ident()}
	if p.accept("(") {
		s.cols = list(p, p.ident)
	}
	p.expect("values")
	p.sepBy(",", func() {
		p.expect("(")
		s.rows = append(s.rows, list(p, p.literal))
	})
	return s
}

func (p *parser) update() updateStmt {
	s := updateStmt{table: p.ident()}
	p.expect("set")
	p.sepBy(",", func() { s.sets = append(s.sets, p.setClause()) })
	s.where = p.where()
	return s
}

// setClause parses "col = literal" or "col = col2 [+|- literal]".
func (p *parser) setClause() setClause {
	sc := setClause{col: p.ident()}
	p.expect("=")
	if t := p.peek(); t.kind != 'i' || t.text == "null" {
		sc.lit = p.literal()
		return sc
	}
	sc.ref = p.next().text
	if p.accept("+") {
		sc.op = "+"
	} else if p.accept("-") {
		sc.op = "-"
	}
	if sc.op != "" {
		sc.right = p.literal()
	}
	return sc
}

// where parses an optional WHERE clause: predicates joined by AND.
func (p *parser) where() []predicate {
	if !p.accept("where") {
		return nil
	}
	var out []predicate
	p.sepBy("and", func() { out = append(out, p.predicate()) })
	return out
}

// predicate parses "col BETWEEN a AND b", "col IN (...)" or "col op literal".
func (p *parser) predicate() predicate {
	pr := predicate{col: p.ident()}
	switch t := p.next(); {
	case t.text == "between":
		a := p.literal()
		p.expect("and")
		pr.op, pr.args = "between", []literal{a, p.literal()}
	case t.text == "in":
		p.expect("(")
		pr.op, pr.args = "in", list(p, p.literal)
	case t.kind == 'p' && slices.Contains([]string{"=", "<>", "!=", "<", "<=", ">", ">="}, t.text):
		pr.op, pr.args = t.text, []literal{p.literal()}
	default:
		p.fail("want a comparison")
	}
	return pr
}
