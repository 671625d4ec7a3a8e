package schema

import (
	"errors"
	"strings"
	"testing"
)

func TestValueError(t *testing.T) {
	err := error(NewValueError("amount", "numeric(4,2)", []byte("123.4"), "does not fit"))
	if want := `column amount (numeric(4,2)): value "123.4": does not fit`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Column != "amount" || ve.SourceType != "numeric(4,2)" || ve.Value != "123.4" {
		t.Errorf("ValueError %+v", ve)
	}
	// A long value is cut at a rune boundary.
	long := strings.Repeat("é", 300)
	ve = NewValueError("c", "text", []byte(long), "bad")
	if len(ve.Value) > maxErrValue+3 || !strings.HasSuffix(ve.Value, "...") || !strings.HasPrefix(long, strings.TrimSuffix(ve.Value, "...")) {
		t.Fatalf("long value not cut at a rune boundary: %q", ve.Value)
	}
}
