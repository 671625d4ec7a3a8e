package schema

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

func TestCompareValues(t *testing.T) {
	for _, tc := range []struct {
		a, b any
		want int
	}{
		{int32(-1), int32(2), -1}, {int64(5), int64(5), 0}, {float32(2.5), float32(-1), 1}, {float64(0.1), float64(0.2), -1},
		{false, true, -1}, {true, true, 0}, {"b", "a", 1}, {[]byte{1, 2}, []byte{1, 2, 0}, -1},
		{decimal128.FromI64(-3), decimal128.FromI64(2), -1},
	} {
		if got, ok := CompareValues(tc.a, tc.b); !ok || got != tc.want {
			t.Errorf("CompareValues(%v, %v) = %d, %v; want %d", tc.a, tc.b, got, ok, tc.want)
		}
	}
	if _, ok := CompareValues([16]byte{1}, [16]byte{2}); ok {
		t.Error("a uuid has no natural order here; want ok false")
	}
}
