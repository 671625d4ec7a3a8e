package transform

import (
	"bytes"
	"fmt"
	"testing"
)

// TestByteArenaCopiesAreSeparate: every copy holds what it was given after
// many more copies, appending to a copy leaves the next one alone, keys
// stay as they were, and blocks grow to arenaMaxBlock.
func TestByteArenaCopiesAreSeparate(t *testing.T) {
	var a byteArena
	var imgs [][]byte
	var keys []string
	src := make([]byte, 0, arenaMaxValue)
	for i := range 5000 {
		src = fmt.Appendf(src[:0], "value %d %s", i, bytes.Repeat([]byte{'x'}, i%300))
		imgs = append(imgs, a.copy(src))
		keys = append(keys, a.string(fmt.Appendf(nil, "key %d", i)))
		if i%7 == 0 {
			// An in-place rewrite as Buffer.put does: what fits stays
			// within the copy, what does not goes elsewhere.
			last := imgs[len(imgs)-1]
			if cap(last) != len(last) {
				t.Fatalf("copy %d: cap %d, len %d: appending would reach the next copy", i, cap(last), len(last))
			}
			_ = append(last, "more"...)
		}
	}
	for i := range imgs {
		want := fmt.Sprintf("value %d %s", i, bytes.Repeat([]byte{'x'}, i%300))
		if string(imgs[i]) != want {
			t.Fatalf("copy %d = %q, want %q", i, imgs[i], want)
		}
		if want := fmt.Sprintf("key %d", i); keys[i] != want {
			t.Fatalf("key %d = %q, want %q", i, keys[i], want)
		}
	}
	if a.next != arenaMaxBlock {
		t.Errorf("block size after %d copies: %d, want %d", len(imgs), a.next, arenaMaxBlock)
	}
	if a.copy(nil) != nil || a.copy([]byte{}) == nil || a.string(nil) != "" {
		t.Error("nil and empty copies differ from bytes.Clone's")
	}
}
