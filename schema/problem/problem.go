package problem

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a setting or with what a setting points
// at, and how to fix it.
type Problem struct {
	// Field is the configuration field path ("source.slot.name"), a
	// section ("source"), or "" for the file as a whole.
	Field string
	// Message says what is wrong, on one line.
	Message string
	// Fix says what to do, as an instruction; "" when there is nothing
	// better to say than the message.
	Fix string
	// Err is the error the problem was found from, when there is one (a
	// refused connection): callers tell a passing outage from a lasting
	// misconfiguration by it. It is not part of the rendered line.
	Err error
	// Line is the 1-based line of Field in the configuration file, 0 when
	// unknown. Packages leave it 0; the caller that read the file sets it.
	Line int
}

// Unwrap returns the error the problem was found from (nil if none).
func (p Problem) Unwrap() error { return p.Err }

// Error renders the problem on one line: "FIELD: MESSAGE (fix: FIX)".
func (p Problem) Error() string { return p.Format("") }

// Format renders the problem on one line, with the file and line in front
// when file is set: "FILE:LINE: FIELD: MESSAGE (fix: FIX)". An unknown
// line, an empty field and an empty fix are left out.
func (p Problem) Format(file string) string {
	var b strings.Builder
	if file != "" {
		b.WriteString(file)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Message)
	if p.Fix != "" {
		b.WriteString(" (fix: " + p.Fix + ")")
	}
	return b.String()
}

// Redact returns p with secret replaced by *** inside every quoted value
// of Message and Fix (the %q form of a Go string). The text around the
// quoted values is left as it is, so a short secret does not garble the
// words of the message.
func (p Problem) Redact(secret string) Problem {
	if secret == "" {
		return p
	}
	p.Message, p.Fix = redactQuoted(p.Message, secret), redactQuoted(p.Fix, secret)
	return p
}

// redactQuoted rewrites each Go-quoted string in s.
func redactQuoted(s, secret string) string {
	var b strings.Builder
	for {
		start := strings.IndexByte(s, '"')
		if start < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := closingQuote(s, start)
		if end < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:start])
		quoted := s[start : end+1]
		if v, err := strconv.Unquote(quoted); err == nil && strings.Contains(v, secret) {
			quoted = strconv.Quote(strings.ReplaceAll(v, secret, "***"))
		}
		b.WriteString(quoted)
		s = s[end+1:]
	}
}

// closingQuote is the index of the '"' that closes the one at start, -1
// when there is none.
func closingQuote(s string, start int) int {
	for i := start + 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// List is several problems as one error, rendered on one line.
type List []Problem

// Error renders the problems on one line, separated by " | ".
func (l List) Error() string {
	parts := make([]string, len(l))
	for i, p := range l {
		parts[i] = p.Error()
	}
	return strings.Join(parts, " | ")
}

// Unwrap exposes the problems to errors.As and errors.Is.
func (l List) Unwrap() []error {
	errs := make([]error, len(l))
	for i, p := range l {
		errs[i] = p
	}
	return errs
}

// Err returns l as an error, nil when it is empty.
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Sort orders problems by line, keeping the order of equal lines;
// problems without a line go last.
func Sort(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i].Line, ps[j].Line
		return a != 0 && (b == 0 || a < b)
	})
}

// New is a Problem with a formatted message.
func New(field, fix, format string, args ...any) Problem {
	return Problem{Field: field, Message: fmt.Sprintf(format, args...), Fix: fix}
}
