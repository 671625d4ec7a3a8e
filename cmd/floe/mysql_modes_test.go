package main

import (
	"testing"
	"time"
)

// TestMySQLNeverModeKeepsItsStart: with snapshot.mode never, a pipeline
// stopped before its first checkpoint must, when restarted, still stream
// what changed while it was down (MySQL keeps no slot for it; the start
// position lives in the Iceberg tables).
func TestMySQLNeverModeKeepsItsStart(t *testing.T) {
	e := newMySQLEnv(t, "my_never", "changelog", "  snapshot.mode: never\n")
	e.seed(100)
	r := e.start()
	e.waitStreaming(r)
	e.stop(r)
	e.sql("INSERT INTO events VALUES ('down', 1, 'while stopped', 1)", "INSERT INTO events VALUES ('down', 2, 'while stopped', 2)")
	r = e.start()
	e.waitCaughtUp(r, time.Minute)
	e.stop(r)
	total, ops := sinkRows(t, e.pipelineEnv, "events")
	if total != 2 || ops["c"] != 2 {
		t.Fatalf("events holds %d rows %v, want the 2 inserts made while floe was stopped", total, ops)
	}
}
