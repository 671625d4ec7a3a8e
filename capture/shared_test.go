package capture

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/schema/problem"
)

// TestSharedChecks: the checks both sources' Validate make name the
// field and the fix the same way.
func TestSharedChecks(t *testing.T) {
	var ok problem.Checks
	CheckEndpoint(&ok, "db", 5432, "u")
	CheckTables(&ok, []*regexp.Regexp{regexp.MustCompile("a")}, "x.y")
	CheckStream(&ok, 10*time.Second, 20*time.Second)
	if len(ok.List) != 0 {
		t.Fatalf("problems for good settings: %v", ok.List)
	}
	var bad problem.Checks
	CheckEndpoint(&bad, "", 0, "")
	CheckTables(&bad, nil, "shop.orders")
	CheckStream(&bad, 10*time.Second, 15*time.Second)
	want := []string{
		"source.hostname: required (fix: set the database host)",
		"source.port: 0 is out of range (fix: use a value from 1 to 65535)",
		"source.username: required (fix: set the replication user, e.g. `username: floe`)",
		"source.tables: required (fix: list the tables, e.g. `tables: shop.orders`)",
		"source.stall-timeout: 15s is too short: an idle stream brings only a heartbeat every 10s (fix: use at least 2 x source.heartbeat-interval (20s), or leave it unset for 3 x)",
	}
	if len(bad.List) != len(want) {
		t.Fatalf("problems %v, want %d", bad.List, len(want))
	}
	for i, w := range want {
		if got := bad.List[i].Error(); got != w {
			t.Errorf("problem %d = %q, want %q", i, got, w)
		}
	}
	var hb problem.Checks
	CheckStream(&hb, -time.Second, 0)
	if len(hb.List) != 1 || hb.List[0].Field != "source.heartbeat-interval" {
		t.Fatalf("a heartbeat that is not positive: %v", hb.List)
	}
}

func TestConnectProblems(t *testing.T) {
	want := Problem{Field: "source.password", Message: "denied"}
	if p := ConnectProblems(errors.Join(errors.New("x"), want), "fix"); len(p) != 1 || p[0] != want {
		t.Fatalf("ConnectProblems of a Problem = %v", p)
	}
	if p := ConnectProblems(errors.New("refused"), "check it"); len(p) != 1 || p[0] != (Problem{Field: "source", Message: "refused", Fix: "check it"}) {
		t.Fatalf("ConnectProblems = %v", p)
	}
}

// TestSourceConfig: the shared settings take their defaults (the stall
// timeout from the heartbeat they end with) and are checked together.
func TestSourceConfig(t *testing.T) {
	d := DefaultSourceConfig(3306)
	if d.Host != DefaultHost || d.Port != 3306 || d.HeartbeatInterval != DefaultHeartbeatInterval ||
		d.StallTimeout != 3*DefaultHeartbeatInterval || d.MaxBatchChanges != DefaultMaxBatchChanges || d.MaxBatchBytes != DefaultMaxBatchBytes {
		t.Fatalf("DefaultSourceConfig(3306) = %+v", d)
	}
	c := SourceConfig{Port: 1, HeartbeatInterval: 2 * time.Second}.WithDefaults(d)
	if c.Host != DefaultHost || c.Port != 1 || c.StallTimeout != 6*time.Second || c.Logger == nil || c.MaxBatchBytes != DefaultMaxBatchBytes {
		t.Fatalf("WithDefaults = %+v", c)
	}
	var ok problem.Checks
	c.User, c.Tables = "u", []*regexp.Regexp{regexp.MustCompile("a")}
	c.Check(&ok, "x.y")
	if len(ok.List) != 0 {
		t.Fatalf("problems of good settings: %v", ok.List)
	}
	var bad problem.Checks
	SourceConfig{}.Check(&bad, "x.y")
	var fields []string
	for _, p := range bad.List {
		fields = append(fields, p.Field)
	}
	want := "source.hostname source.port source.username source.tables source.heartbeat-interval MaxBatchChanges MaxBatchBytes"
	if got := strings.Join(fields, " "); got != want {
		t.Fatalf("problems of zero settings name %s, want %s", got, want)
	}
}

// TestUnreachableProblem: a DNS or network error anywhere in the chain
// is the server that cannot be reached, named with its address; any
// other error is not.
func TestUnreachableProblem(t *testing.T) {
	op := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	p, ok := UnreachableProblem("MySQL", "db:3306", fmt.Errorf("connect: %w", op))
	if !ok || p.Field != "source.hostname" || p.Message != "cannot reach MySQL at db:3306: dial tcp: connection refused" ||
		!strings.HasPrefix(p.Fix, "check source.hostname and source.port") || !errors.Is(p, op) {
		t.Fatalf("network error: %+v, %v", p, ok)
	}
	dns := &net.DNSError{Err: "no such host", Name: "db"}
	if p, ok := UnreachableProblem("PostgreSQL", "db:5432", dns); !ok || p.Message != "cannot reach PostgreSQL at db:5432: lookup db: no such host" {
		t.Fatalf("DNS error: %+v, %v", p, ok)
	}
	if _, ok := UnreachableProblem("MySQL", "db:3306", errors.New("access denied")); ok {
		t.Fatal("an error that is not a network error reported as unreachable")
	}
}
