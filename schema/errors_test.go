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

func TestValueErrorWithRowKey(t *testing.T) {
	err := error(NewValueError("amount", "numeric", []byte("NaN"), "no NaN"))
	keyed := WithRowKey(err, []string{"tenant", "seq"}, [][]byte{[]byte("a"), []byte("7")})
	if want := `row with key tenant=a, seq=7: column amount (numeric): value "NaN": no NaN`; keyed.Error() != want {
		t.Errorf("error %q, want %q", keyed, want)
	}
	var ve *ValueError
	if !errors.As(keyed, &ve) || ve.Key != "tenant=a, seq=7" || err.(*ValueError).Key != "" {
		t.Errorf("keyed %+v, original %+v", ve, err)
	}
	if again := WithRowKey(keyed, []string{"x"}, [][]byte{[]byte("1")}); again != keyed {
		t.Error("a keyed error must keep its key")
	}
	if other := errors.New("x"); WithRowKey(other, []string{"id"}, [][]byte{[]byte("1")}) != other {
		t.Error("other errors must pass through")
	}
}
