package problem

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestFormat(t *testing.T) {
	p := Problem{Field: "source.slot.name", Message: `bad replication slot name "X"`, Fix: "use a-z", Line: 7}
	for file, want := range map[string]string{
		"":          `source.slot.name: bad replication slot name "X" (fix: use a-z)`,
		"shop.yaml": `shop.yaml:7: source.slot.name: bad replication slot name "X" (fix: use a-z)`,
	} {
		if got := p.Format(file); got != want {
			t.Errorf("Format(%q) = %q, want %q", file, got, want)
		}
	}
	if got := p.Error(); got != p.Format("") {
		t.Errorf("Error() = %q, want Format(\"\")", got)
	}
	bare := Problem{Message: "a second YAML document"}
	if got := bare.Format("f.yaml"); got != "f.yaml: a second YAML document" {
		t.Errorf("no line, field or fix: %q", got)
	}
}

func TestRedactOnlyQuotedValues(t *testing.T) {
	p := Problem{Field: "source.snapshot.mode", Message: `unknown value "xsecretx", not "secret"`, Fix: `use "a" or secret`}
	got := p.Redact("secret")
	if got.Message != `unknown value "x***x", not "***"` || got.Fix != `use "a" or secret` {
		t.Fatalf("Redact = %+v", got)
	}
	// A one-letter secret leaves the words alone.
	if got := (Problem{Message: `unknown value "e1"`}).Redact("e"); got.Message != `unknown value "***1"` {
		t.Fatalf("one-letter secret: %q", got.Message)
	}
	// A secret with a quote in it, escaped by %q.
	if got := (Problem{Message: New("f", "", "bad %q", `pa"ss`).Message}).Redact(`pa"ss`); got.Message != `bad "***"` {
		t.Fatalf("escaped secret: %q", got.Message)
	}
	if got := p.Redact(""); got != p {
		t.Fatal("an empty secret changes nothing")
	}
}

func TestListAndSort(t *testing.T) {
	l := List{{Field: "a", Message: "x", Line: 0}, {Field: "b", Message: "y", Line: 9}, {Field: "c", Message: "z", Fix: "f", Line: 3, Err: io.EOF}}
	if l.Error() != "a: x | b: y | c: z (fix: f)" {
		t.Fatalf("List.Error = %q", l.Error())
	}
	if !errors.Is(l, io.EOF) {
		t.Fatal("a list unwraps to the errors of its problems")
	}
	var p Problem
	if !errors.As(error(l), &p) || p.Field != "a" {
		t.Fatalf("errors.As = %+v", p)
	}
	Sort(l)
	if l[0].Field != "c" || l[1].Field != "b" || l[2].Field != "a" {
		t.Fatalf("Sort = %+v", l)
	}
	if (List{}).Err() != nil || l.Err() == nil {
		t.Fatal("Err is nil exactly for an empty list")
	}
}

func TestChecks(t *testing.T) {
	var c Checks
	if c.Required("a", "", "set a") || !c.Required("a", "x", "set a") {
		t.Fatal("Required says whether the value is set")
	}
	if c.OneOf("mode", "changelgo", "upsert", "changelog") || !c.OneOf("mode", "upsert", "upsert", "changelog") {
		t.Fatal("OneOf says whether the value is allowed")
	}
	c.Between("n", 0, 1, 64)
	c.Between("n", 64, 1, 64)
	c.Positive("d", 0)
	c.NotNegative("e", -time.Second)
	c.NotNegative("e", 0)
	want := []string{
		"a: required (fix: set a)",
		`mode: unknown value "changelgo" (fix: use upsert or changelog (did you mean changelog?))`,
		"n: 0 is out of range (fix: use a value from 1 to 64)",
		"d: 0s is not positive (fix: use a positive duration such as 10s)",
		"e: -1s is negative (fix: use a duration such as 24h, or 0 to turn the step off)",
	}
	if len(c.List) != len(want) {
		t.Fatalf("problems %v, want %d", c.List, len(want))
	}
	for i, w := range want {
		if c.List[i].Error() != w {
			t.Errorf("problem %d = %q, want %q", i, c.List[i].Error(), w)
		}
	}
}

func TestSuggest(t *testing.T) {
	for in, want := range map[string]string{"Database": "database", "user": "", "initial-only": "initial_only", "sinks": "sink"} {
		if got := Suggest(in, []string{"database", "initial_only", "sink", "username"}); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWithDefaults: every zero exported field takes the default, every
// set one keeps its value, unexported fields are left alone.
func TestWithDefaults(t *testing.T) {
	type config struct {
		Name    string
		Workers int
		Wait    time.Duration
		Tags    []string
		Log     *strings.Builder
		hidden  int
	}
	log := &strings.Builder{}
	defaults := config{Name: "floe", Workers: 2, Wait: time.Second, Tags: []string{"a"}, Log: log, hidden: 7}
	got := WithDefaults(config{Workers: 5, Wait: 0, hidden: 0}, defaults)
	want := config{Name: "floe", Workers: 5, Wait: time.Second, Tags: []string{"a"}, Log: log}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("WithDefaults = %+v, want %+v", got, want)
	}
}
