package toolkit

import (
	"regexp"

	"github.com/floe-cdc/floe/capture"
)

// TablePatterns are a source's Config.Tables: a table is captured when its
// name, capture.TableID.String(), fully matches one of the regular
// expressions.
type TablePatterns struct {
	given    []*regexp.Regexp // as configured, for messages
	anchored []*regexp.Regexp // the same, anchored at both ends
}

// NewTablePatterns anchors the configured patterns.
func NewTablePatterns(given []*regexp.Regexp) TablePatterns {
	p := TablePatterns{given: given}
	for _, re := range given {
		p.anchored = append(p.anchored, regexp.MustCompile(`^(?:`+re.String()+`)$`))
	}
	return p
}

// Match reports whether id matches one of the patterns.
func (p TablePatterns) Match(id capture.TableID) bool {
	name := id.String()
	for _, re := range p.anchored {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// Matcher starts one discovery pass over the source's tables.
func (p TablePatterns) Matcher() *TableMatcher {
	return &TableMatcher{p: p, hit: make([]bool, len(p.anchored))}
}

// TableMatcher matches the tables of one discovery pass and remembers
// which patterns matched at least one of them.
type TableMatcher struct {
	p   TablePatterns
	hit []bool
}

// Match reports whether id matches one of the patterns.
func (m *TableMatcher) Match(id capture.TableID) bool {
	name, ok := id.String(), false
	for i, re := range m.p.anchored {
		if re.MatchString(name) {
			m.hit[i], ok = true, true
		}
	}
	return ok
}

// Unmatched returns the patterns, as configured, that matched no table
// passed to Match, in configuration order.
func (m *TableMatcher) Unmatched() []string {
	var out []string
	for i, ok := range m.hit {
		if !ok {
			out = append(out, m.p.given[i].String())
		}
	}
	return out
}
