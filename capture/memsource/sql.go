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

type parser struct {
	toks []token
	i    int
	src  string
}

func (p *parser) peek() token {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return token{}
}

func (p *parser) next() token { t := p.peek(); p.i++; return t }

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("parse %q: %s (at token %d)", p.src, fmt.Sprintf(format, args...), p.i)
}

// accept consumes the next token when it is one of words (keywords or
// punctuation).
func (p *parser) accept(words ...string) bool {
	t := p.peek()
	for _, w := range words {
		if (t.kind == 'i' || t.kind == 'p') && t.text == w {
			p.i++
			return true
		}
	}
	return false
}

func (p *parser) expect(words ...string) error {
	for _, w := range words {
		if !p.accept(w) {
			return p.errorf("want %q", w)
		}
	}
	return nil
}

func (p *parser) ident() (string, error) {
	t := p.next()
	if t.kind != 'i' {
		return "", p.errorf("want a name")
	}
	return t.text, nil
}

func (p *parser) literal() (literal, error) {
	neg := p.accept("-")
	t := p.next()
	switch {
	case t.kind == 'n' && neg:
		return literal{isNum: true, num: "-" + t.text}, nil
	case t.kind == 'n':
		return literal{isNum: true, num: t.text}, nil
	case neg:
	case t.kind == 's':
		s := t.text
		return literal{str: &s}, nil
	case t.kind == 'i' && t.text == "null":
		return literal{null: true}, nil
	}
	return literal{}, p.errorf("want a literal")
}

// parse parses one statement.
func parse(src string) (any, error) {
	toks, err := tokenize(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, src: src}
	var st any
	switch w := p.next(); {
	case w.text == "create" && p.accept("table"):
		st, err = p.create()
	case w.text == "drop" && p.accept("table"):
		var s dropStmt
		s.table, err = p.ident()
		st = s
	case w.text == "truncate":
		p.accept("table")
		var s truncateStmt
		s.table, err = p.ident()
		st = s
	case w.text == "alter" && p.accept("table"):
		var s alterStmt
		if s.table, err = p.ident(); err == nil {
			if p.accept("rename") {
				p.accept("column")
				if s.from, err = p.ident(); err == nil {
					if err = p.expect("to"); err == nil {
						s.to, err = p.ident()
					}
				}
			} else if err = p.expect("add"); err == nil {
				p.accept("column")
				s.col, err = p.colDef()
			}
		}
		st = s
	case w.text == "insert" && p.accept("into"):
		st, err = p.insert()
	case w.text == "update":
		st, err = p.update()
	case w.text == "delete" && p.accept("from"):
		var s deleteStmt
		if s.table, err = p.ident(); err == nil {
			s.where, err = p.where()
		}
		st = s
	default:
		return nil, p.errorf("unsupported statement")
	}
	if err != nil {
		return nil, err
	}
	p.accept(";")
	if p.i != len(p.toks) {
		return nil, p.errorf("unexpected %q", p.peek().text)
	}
	return st, nil
}

func (p *parser) create() (createStmt, error) {
	var s createStmt
	var err error
	if s.table, err = p.ident(); err != nil {
		return s, err
	}
	if err := p.expect("("); err != nil {
		return s, err
	}
	err = p.sepBy(",", func() error {
		if p.accept("primary") {
			if err := p.expect("key", "("); err != nil {
				return err
			}
			var err error
			s.key, err = list(p, p.ident)
			return err
		}
		c, err := p.colDef()
		s.cols = append(s.cols, c)
		return err
	})
	if err != nil {
		return s, err
	}
	return s, p.expect(")")
}

// sepBy parses one or more items separated by the keyword or punctuation
// sep: item parses one, and the first error ends the list.
func (p *parser) sepBy(sep string, item func() error) error {
	for {
		if err := item(); err != nil {
			return err
		}
		if !p.accept(sep) {
			return nil
		}
	}
}

// list parses "item, item, ...)", the opening parenthesis consumed.
func list[T any](p *parser, item func() (T, error)) ([]T, error) {
	var out []T
	err := p.sepBy(",", func() error {
		v, err := item()
		out = append(out, v)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, p.expect(")")
}

// typeArg parses a type argument: varchar(n), decimal(p, s).
func (p *parser) typeArg() (int, error) {
	t := p.next()
	n, err := strconv.Atoi(t.text)
	if t.kind != 'n' || err != nil {
		return 0, p.errorf("want a type argument")
	}
	return n, nil
}

func (p *parser) colDef() (colDef, error) {
	var c colDef
	var err error
	if c.name, err = p.ident(); err != nil {
		return c, err
	}
	if c.typ, err = p.ident(); err != nil {
		return c, err
	}
	if p.accept("(") {
		if c.args, err = list(p, p.typeArg); err != nil {
			return c, err
		}
	}
	for {
		switch {
		case p.accept("not"):
			if err := p.expect("null"); err != nil {
				return c, err
			}
			c.notNull = true
		case p.accept("primary"):
			if err := p.expect("key"); err != nil {
				return c, err
			}
			c.primaryKey = true
		case p.accept("default"):
			l, err := p.literal()
			if err != nil {
				return c, err
			}
			c.def = &l
		default:
			return c, nil
		}
	}
}

func (p *parser) insert() (insertStmt, error) {
	var s insertStmt
	var err error
	if s.table, err = p.ident(); err != nil {
		return s, err
	}
	if p.accept("(") {
		if s.cols, err = list(p, p.ident); err != nil {
			return s, err
		}
	}
	if err := p.expect("values"); err != nil {
		return s, err
	}
	err = p.sepBy(",", func() error {
		if err := p.expect("("); err != nil {
			return err
		}
		row, err := list(p, p.literal)
		s.rows = append(s.rows, row)
		return err
	})
	return s, err
}

func (p *parser) update() (updateStmt, error) {
	var s updateStmt
	var err error
	if s.table, err = p.ident(); err != nil {
		return s, err
	}
	if err := p.expect("set"); err != nil {
		return s, err
	}
	err = p.sepBy(",", func() error {
		sc, err := p.setClause()
		s.sets = append(s.sets, sc)
		return err
	})
	if err != nil {
		return s, err
	}
	s.where, err = p.where()
	return s, err
}

// setClause parses "col = literal" or "col = col2 [+|- literal]".
func (p *parser) setClause() (setClause, error) {
	var sc setClause
	var err error
	if sc.col, err = p.ident(); err != nil {
		return sc, err
	}
	if err := p.expect("="); err != nil {
		return sc, err
	}
	if t := p.peek(); t.kind != 'i' || t.text == "null" {
		sc.lit, err = p.literal()
		return sc, err
	}
	sc.ref = p.next().text
	if p.accept("+") {
		sc.op = "+"
	} else if p.accept("-") {
		sc.op = "-"
	}
	if sc.op != "" {
		sc.right, err = p.literal()
	}
	return sc, err
}

// where parses an optional WHERE clause: predicates joined by AND.
func (p *parser) where() ([]predicate, error) {
	if !p.accept("where") {
		return nil, nil
	}
	var out []predicate
	err := p.sepBy("and", func() error {
		pr, err := p.predicate()
		out = append(out, pr)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// predicate parses "col BETWEEN a AND b", "col IN (...)" or "col op literal".
func (p *parser) predicate() (predicate, error) {
	var pr predicate
	var err error
	if pr.col, err = p.ident(); err != nil {
		return pr, err
	}
	switch t := p.next(); {
	case t.text == "between":
		a, err := p.literal()
		if err != nil {
			return pr, err
		}
		if err := p.expect("and"); err != nil {
			return pr, err
		}
		b, err := p.literal()
		if err != nil {
			return pr, err
		}
		pr.op, pr.args = "between", []literal{a, b}
	case t.text == "in":
		if err := p.expect("("); err != nil {
			return pr, err
		}
		pr.op = "in"
		if pr.args, err = list(p, p.literal); err != nil {
			return pr, err
		}
	case t.kind == 'p' && slices.Contains([]string{"=", "<>", "!=", "<", "<=", ">", ">="}, t.text):
		l, err := p.literal()
		if err != nil {
			return pr, err
		}
		pr.op, pr.args = t.text, []literal{l}
	default:
		return pr, p.errorf("want a comparison")
	}
	return pr, nil
}
