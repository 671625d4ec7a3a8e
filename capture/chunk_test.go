package capture

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
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
		Done: map[int]bool{0: true, 1: true, 3: true},
	}
	got := p.Encode()
	golden := filepath.Join("testdata", "snapshot_plan_v1.golden")
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
		t.Fatalf("encoding changed:\n got %s\nwant %s\n(a persisted format: bump SnapshotPlanVersion and keep reading v1)", got, want)
	}
	back, err := DecodeSnapshotPlan(got)
	if err != nil {
		t.Fatal(err)
	}
	if r := back.Remaining(); len(r) != 1 || r[0].Index != 2 {
		t.Fatalf("Remaining after round trip = %v, want chunk 2", r)
	}
	back.MarkDone(2)
	if !back.Complete() || p.Complete() {
		t.Fatalf("Complete: round trip %v (want true), original %v (want false: MarkDone on a decoded copy)", back.Complete(), p.Complete())
	}
}

func TestDecodeSnapshotPlanErrors(t *testing.T) {
	for _, s := range []string{
		`not json`,
		`{"v":2,"chunks":[],"done":""}`,
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
