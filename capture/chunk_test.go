package capture

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestSnapshotPlanGolden(t *testing.T) {
	p := &SnapshotPlan{
		Chunks: []Chunk{
			{Index: 0, Upper: []string{"eu", "100"}},
			{Index: 1, Lower: []string{"eu", "100"}, Upper: []string{"us", "7"}},
			{Index: 2, Lower: []string{"us", "7"}, Upper: []string{"us", "9"}},
			{Index: 3, Lower: []string{"us", "9"}},
		},
		Done:       map[int]bool{0: true, 1: true, 3: true},
		Watermarks: map[int]string{0: "src.v1:9", 1: "src.v1:9", 3: "src.v1:12"},
	}
	got := p.Encode()
	planGolden(t, "snapshot_plan_v2.golden", got, "keep reading v1 and v2")
	back, err := DecodeSnapshotPlan(got)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(back.Watermarks, p.Watermarks) {
		t.Fatalf("Watermarks after round trip = %v, want %v", back.Watermarks, p.Watermarks)
	}
	if r := back.Remaining(); len(r) != 1 || r[0].Index != 2 {
		t.Fatalf("Remaining after round trip = %v, want chunk 2", r)
	}
	back.MarkDone(2, "")
	if !back.Complete() || p.Complete() {
		t.Fatalf("Complete: round trip %v (want true), original %v (want false: MarkDone on a decoded copy)", back.Complete(), p.Complete())
	}
	if _, ok := back.Watermarks[2]; ok {
		t.Fatal("a chunk done without a watermark got one")
	}
}

// Plans written by builds before watermarks (version 1) are still read.
func TestSnapshotPlanV1StillRead(t *testing.T) {
	v1, err := os.ReadFile(filepath.Join("testdata", "snapshot_plan_v1.golden"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := DecodeSnapshotPlan(string(v1))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Chunks) != 4 || len(p.Done) != 3 || p.Done[2] || p.Watermarks != nil {
		t.Fatalf("decoded v1 plan = %+v, want 4 chunks, 0, 1 and 3 done, no watermarks", p)
	}
}

func TestDecodeSnapshotPlanErrors(t *testing.T) {
	for _, s := range []string{
		`not json`,
		`{"v":4,"chunks":[],"done":""}`,
		`{"v":1,"chunks":[{"i":0}],"done":"0","w":{"p":"0"}}`,
		`{"v":2,"chunks":[{"i":0},{"i":1}],"done":"0","w":{"p":"1"}}`,
		`{"v":2,"chunks":[{"i":0}],"done":"0","w":{"p":"0","q":"0"}}`,
		`{"v":2,"chunks":[{"i":0}],"done":"0","w":{"":"0"}}`,
		`{"v":1,"chunks":[{"i":0}],"done":"0-5"}`,
		`{"v":1,"chunks":[{"i":0},{"i":1}],"done":"1-0"}`,
		`{"v":1,"chunks":[{"i":0}],"done":"x"}`,
		`{"v":1,"chunks":[{"i":0}],"done":"0-2000000000"}`,
	} {
		if _, err := DecodeSnapshotPlan(s); err == nil {
			t.Errorf("DecodeSnapshotPlan(%s) succeeded, want an error", s)
		}
	}
}

func FuzzDecodeSnapshotPlan(f *testing.F) {
	f.Add(`{"v":1,"chunks":[{"i":0},{"i":1}],"done":"0-1"}`)
	f.Add(`{"v":2,"chunks":[{"i":0},{"i":1}],"done":"0-1","w":{"a":"0","b":"1"}}`)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := DecodeSnapshotPlan(s)
		if err != nil {
			return
		}
		if _, err := DecodeSnapshotPlan(p.Encode()); err != nil {
			t.Fatalf("re-decode of %q: %v", p.Encode(), err)
		}
	})
}

func TestChunksFromBounds(t *testing.T) {
	got := ChunksFromBounds([][]string{{"10"}, {"20"}})
	want := []Chunk{{Index: 0, Upper: []string{"10"}}, {Index: 1, Lower: []string{"10"}, Upper: []string{"20"}}, {Index: 2, Lower: []string{"20"}}}
	if len(got) != len(want) {
		t.Fatalf("got %d chunks, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Index != want[i].Index || fmt.Sprint(got[i].Lower) != fmt.Sprint(want[i].Lower) || fmt.Sprint(got[i].Upper) != fmt.Sprint(want[i].Upper) {
			t.Errorf("chunk %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if one := ChunksFromBounds(nil); len(one) != 1 || one[0].Lower != nil || one[0].Upper != nil {
		t.Errorf("no bounds = %+v, want one unbounded chunk", one)
	}
}

// TestSnapshotPlanStreamedGolden pins version 3 (a plan of a snapshot
// beside the stream): Streamed round-trips, a plan without it is still
// written as version 2, and a version 2 plan claiming it is refused.
func TestSnapshotPlanStreamedGolden(t *testing.T) {
	p := &SnapshotPlan{Chunks: []Chunk{{Index: 0, Upper: []string{"5"}}, {Index: 1, Lower: []string{"5"}}},
		Done: map[int]bool{0: true}, Watermarks: map[int]string{0: "src.v1:9"}, Streamed: true}
	got := p.Encode()
	planGolden(t, "snapshot_plan_v3.golden", got, "keep reading v1 to v3")
	back, err := DecodeSnapshotPlan(got)
	if err != nil || !back.Streamed || !back.Clone().Streamed {
		t.Fatalf("Streamed after round trip and Clone: %v, %v", back, err)
	}
	p.Streamed = false
	if enc := p.Encode(); !strings.HasPrefix(enc, `{"v":2,`) {
		t.Fatalf("a plan without Streamed encodes as %s, want version 2", enc)
	}
	if _, err := DecodeSnapshotPlan(strings.Replace(got, `"v":3`, `"v":2`, 1)); err == nil {
		t.Fatal("a version 2 plan with Streamed was accepted")
	}
}

// planGolden compares an encoded plan with testdata/name (rewritten with
// -update); keep says which versions a bumped format must still read.
func planGolden(t *testing.T, name, got, keep string) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("encoding changed:\n got %s\nwant %s\n(a persisted format: bump SnapshotPlanVersion and %s)", got, want, keep)
	}
}
