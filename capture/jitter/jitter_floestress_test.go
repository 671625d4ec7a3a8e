//go:build floestress

package jitter

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	j, err := parse("seed=7,p=0.5,max=3ms")
	if err != nil {
		t.Fatal(err)
	}
	if j.seed != 7 || j.p != 0.5 || j.max != 3*time.Millisecond {
		t.Fatalf("parsed %+v", j)
	}
	for _, bad := range []string{"seed", "p=2", "max=-1s", "max=x", "speed=1", "seed=-1"} {
		if _, err := parse(bad); err == nil {
			t.Errorf("parse(%q) accepted", bad)
		}
	}
}

// TestDelays: sleeps stay within max (hot seams within a quarter), p=0
// never sleeps, and p=1 sleeps at every cold seam.
func TestDelays(t *testing.T) {
	j, _ := parse("seed=3,p=1,max=40ms")
	for range 1000 {
		if d := j.delay(BeforeCommit); d < 0 || d > 40*time.Millisecond {
			t.Fatalf("cold delay %v outside 0..max at p=1", d)
		}
		if d := j.delay(SourceEmit); d > 10*time.Millisecond {
			t.Fatalf("hot delay %v over max/4", d)
		}
	}
	j, _ = parse("seed=3,p=0,max=40ms")
	for range 1000 {
		if d := j.delay(BeforeAck); d != 0 {
			t.Fatalf("p=0 delayed %v", d)
		}
	}
}

// TestStats: the stats file counts the seams passed.
func TestStats(t *testing.T) {
	j, _ := parse("seed=1,p=1,max=1ms")
	for range 5 {
		j.at(AfterCommit)
	}
	dir := t.TempDir()
	go j.keepStats(dir)
	path := filepath.Join(dir, strconv.Itoa(os.Getpid())+".json")
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			var st Stats
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatal(err)
			}
			if st.Passed["after_commit"] != 5 || st.Slept["after_commit"] != 5 {
				t.Fatalf("stats %s", b)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no stats file: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSeamNames(t *testing.T) {
	for s := range numSeams {
		if name := s.String(); name == "" || strings.ToLower(name) != name {
			t.Errorf("seam %d is named %q", s, name)
		}
	}
}
