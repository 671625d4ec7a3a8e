package checkpoint

import (
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/transform"
)

func TestIdleTables(t *testing.T) {
	old := time.Now().Add(-time.Hour)
	tables := []*tableRun{
		{id: capture.TableID{Schema: "s", Name: "quiet"}, committed: testPos(2), lastCommit: old},
		{id: capture.TableID{Schema: "s", Name: "fresh"}, committed: testPos(2), lastCommit: time.Now()},
		{id: capture.TableID{Schema: "s", Name: "current"}, committed: testPos(5), lastCommit: old},
		{id: capture.TableID{Schema: "s", Name: "never"}, lastCommit: old},
		{id: capture.TableID{Schema: "s", Name: "snapshotting"}, committed: testPos(1), lastCommit: old, needsSnapshot: true},
		{id: capture.TableID{Schema: "s", Name: "dirty"}, committed: testPos(1), lastCommit: old, buf: &transform.Buffer{}},
	}
	c := &Coordinator{order: tables, lastPos: testPos(5), opts: Options{Config: Config{IdleCommitInterval: time.Minute}}}
	var got []string
	for _, tr := range c.idleTables(false) {
		got = append(got, tr.id.Name)
	}
	want := []string{"quiet", "never"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("idleTables = %v, want %v", got, want)
	}
	c.lastPos = nil
	if n := len(c.idleTables(false)); n != 0 {
		t.Fatalf("with no position yet, idleTables = %d tables, want 0", n)
	}
}
