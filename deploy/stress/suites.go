package main

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// suite is one test the harness runs again and again: a package's test
// binary (built with the floestress tag) and a -test.run pattern.
type suite struct {
	Name    string        `json:"name"`
	Package string        `json:"package"`
	Run     string        `json:"run"`
	Timeout time.Duration `json:"-"`
	// Floe: the test runs the floe binary (FLOE_TEST_BIN is set).
	Floe bool `json:"-"`
}

// suites are the tests make stress runs: the SIGKILL crash tests of both
// sources (each runs its upsert and changelog subtests), the MariaDB
// chunk-watermark test and the snapshot-converges conformance test of
// both sources.
var suites = []suite{
	{Name: "pg-crash", Package: "./cmd/floe", Run: "^TestCrashExactlyOnce$", Timeout: 25 * time.Minute, Floe: true},
	{Name: "mysql-crash", Package: "./cmd/floe", Run: "^TestMySQLCrashExactlyOnce$", Timeout: 25 * time.Minute, Floe: true},
	// The MariaDB crash test's upsert half alone: the stressed crash run
	// of make test's short round.
	{Name: "mysql-crash-upsert", Package: "./cmd/floe", Run: "^TestMySQLCrashExactlyOnce$/^upsert$", Timeout: 15 * time.Minute, Floe: true},
	{Name: "watermark", Package: "./capture/mysql", Run: "^TestChunkWatermarksReconcile$", Timeout: 5 * time.Minute},
	// MySQL with gtid_mode OFF (a MySQL 9.7 of its own): chunks read
	// beside the stream under a table lock's watermark, with writers.
	{Name: "window-file", Package: "./capture/mysql", Run: "^TestWindowsWithFilePositions$", Timeout: 5 * time.Minute},
	{Name: "converge-mysql", Package: "./capture/mysql", Run: "^TestConformance$/^SnapshotConverges$", Timeout: 5 * time.Minute},
	{Name: "converge-pg", Package: "./capture/postgres", Run: "^TestConformance$/^SnapshotConverges$", Timeout: 5 * time.Minute},
}

// fullPlan is the target of make stress: 50 consecutive stressed runs of
// each crash test, 200 of the watermark and convergence tests and 100 of
// the file-position window test.
const fullPlan = "pg-crash=50,mysql-crash=50,watermark=200,window-file=100,converge-mysql=200,converge-pg=200"

// shortPlan is the stressed round of make test: a few minutes.
const shortPlan = "mysql-crash-upsert=1,watermark=10,converge-mysql=4,converge-pg=4"

// plan maps suite names to run counts.
type plan map[string]int

// parsePlan reads "name=count,..." naming known suites.
func parsePlan(s string) (plan, error) {
	p := plan{}
	for _, part := range strings.Split(s, ",") {
		name, count, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(count)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("-plan: %q is not name=count", part)
		}
		if _, found := suiteByName(name); !found {
			return nil, fmt.Errorf("-plan: unknown test %q; known: %s", name, strings.Join(suiteNames(), ", "))
		}
		p[name] = n
	}
	return p, nil
}

// suiteByName returns the suite called name; false when there is none.
func suiteByName(name string) (suite, bool) {
	if i := slices.IndexFunc(suites, func(s suite) bool { return s.Name == name }); i >= 0 {
		return suites[i], true
	}
	return suite{}, false
}

// suiteNames are the names of the suites, in their order.
func suiteNames() []string {
	var names []string
	for _, s := range suites {
		names = append(names, s.Name)
	}
	return names
}

// order interleaves the plan's runs so that every test progresses at the
// same pace (the crash tests spread over the whole campaign instead of
// running in one block): each next run is of the test furthest behind
// its share.
func (p plan) order() []string {
	var names []string
	for name, n := range p {
		if n > 0 {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	done := map[string]int{}
	var out []string
	for {
		best, bestShare := "", 2.0
		for _, name := range names {
			if done[name] == p[name] {
				continue
			}
			if share := float64(done[name]) / float64(p[name]); share < bestShare {
				best, bestShare = name, share
			}
		}
		if best == "" {
			return out
		}
		done[best]++
		out = append(out, best)
	}
}

// packages returns the distinct packages of the plan's suites.
func (p plan) packages() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range suites {
		if p[s.Name] > 0 && !seen[s.Package] {
			seen[s.Package] = true
			out = append(out, s.Package)
		}
	}
	return out
}
