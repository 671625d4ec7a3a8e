package toolkit

import (
	"errors"
	"testing"

	"github.com/floe-cdc/floe/capture"
)

// TestPartAdd: a part goes before the change that would pass MaxChanges,
// and after the change with which it reaches MaxBytes; every change is
// handed to emit once, in order, and the next slice is preallocated.
func TestPartAdd(t *testing.T) {
	change := func(i int) capture.Change { return capture.Change{Table: capture.TableID{Name: string(rune('a' + i))}} }
	size := change(0).Size()
	tests := []struct {
		name  string
		lim   PartLimits
		n     int
		parts []int // sizes of the emitted parts
		left  int
	}{
		{"under both", PartLimits{MaxChanges: 10, MaxBytes: 100 * size, Hint: 4}, 5, nil, 5},
		{"by changes", PartLimits{MaxChanges: 2, MaxBytes: 100 * size}, 5, []int{2, 2}, 1},
		{"by bytes", PartLimits{MaxChanges: 10, MaxBytes: 3 * size}, 7, []int{3, 3}, 1},
		{"by bytes at once", PartLimits{MaxChanges: 10, MaxBytes: 1}, 2, []int{1, 1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Part
			var got []int
			next := 0
			emit := func(changes []capture.Change) error {
				if len(p.Changes) != 0 || p.Bytes != 0 {
					t.Fatalf("part not emptied before emit: %d changes, %d bytes", len(p.Changes), p.Bytes)
				}
				for _, c := range changes {
					if c.Table != change(next).Table {
						t.Fatalf("emitted %v, want %v", c.Table, change(next).Table)
					}
					next++
				}
				got = append(got, len(changes))
				return nil
			}
			for i := range tt.n {
				if err := p.Add(change(i), tt.lim, emit); err != nil {
					t.Fatal(err)
				}
				if i == 0 && len(tt.parts) == 0 && cap(p.Changes) != tt.lim.Hint {
					t.Errorf("first slice capacity %d, want the hint %d", cap(p.Changes), tt.lim.Hint)
				}
			}
			if len(got) != len(tt.parts) || len(p.Changes) != tt.left || p.Bytes != tt.left*size {
				t.Fatalf("parts %v, left %d (%d bytes); want parts %v, left %d", got, len(p.Changes), p.Bytes, tt.parts, tt.left)
			}
			for i := range got {
				if got[i] != tt.parts[i] {
					t.Fatalf("parts %v, want %v", got, tt.parts)
				}
			}
		})
	}
}

// TestPartAddError: emit's error is returned and the change that
// followed the full part is not appended.
func TestPartAddError(t *testing.T) {
	boom := errors.New("boom")
	p := Part{Changes: []capture.Change{{}, {}}}
	err := p.Add(capture.Change{}, PartLimits{MaxChanges: 2, MaxBytes: 1 << 20}, func([]capture.Change) error { return boom })
	if !errors.Is(err, boom) || len(p.Changes) != 0 {
		t.Fatalf("Add = %v with %d changes left, want boom and none", err, len(p.Changes))
	}
}

// BenchmarkPartAdd: appending within a preallocated part allocates
// nothing.
func BenchmarkPartAdd(b *testing.B) {
	lim := PartLimits{MaxChanges: 1 << 30, MaxBytes: 1 << 62, Hint: 1024}
	p := Part{Changes: make([]capture.Change, 0, 1024)}
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Add(capture.Change{}, lim, func(changes []capture.Change) error { n += len(changes); return nil }); err != nil {
			b.Fatal(err)
		}
		if len(p.Changes) == cap(p.Changes) {
			p.Changes = p.Changes[:0]
		}
	}
	_ = n
}
