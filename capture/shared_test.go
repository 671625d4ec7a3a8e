package capture

import (
	"errors"
	"regexp"
	"testing"
	"time"
)

func TestRequiredProblems(t *testing.T) {
	if RequireUser("u") != nil || RequireTables([]*regexp.Regexp{regexp.MustCompile("a")}, "x.y") != nil {
		t.Fatal("problems for given settings")
	}
	if p := RequireTables(nil, "database.table"); len(p) != 1 || p[0].Error() != `source.tables: no tables given; fix: list the tables to capture as "database.table" patterns` {
		t.Fatalf("RequireTables = %v", p)
	}
	if p := RequireUser(""); len(p) != 1 || p[0].Error() != "source.username: no user name given; fix: set source.username" {
		t.Fatalf("RequireUser = %v", p)
	}
	want := Problem{Field: "source.password", Message: "denied"}
	if p := ConnectProblems(errors.Join(errors.New("x"), want), "fix"); len(p) != 1 || p[0] != want {
		t.Fatalf("ConnectProblems of a Problem = %v", p)
	}
	if p := ConnectProblems(errors.New("refused"), "check it"); len(p) != 1 || p[0] != (Problem{Field: "source", Message: "refused", Fix: "check it"}) {
		t.Fatalf("ConnectProblems = %v", p)
	}
}

func TestStreamDefaults(t *testing.T) {
	n, hb, log := StreamDefaults(0, -1, nil)
	if n != 10000 || hb != 10*time.Second || log == nil {
		t.Fatalf("StreamDefaults(unset) = %d, %v, %v", n, hb, log)
	}
	if n, hb, _ := StreamDefaults(5, time.Minute, log); n != 5 || hb != time.Minute {
		t.Fatalf("StreamDefaults(set) = %d, %v", n, hb)
	}
}
