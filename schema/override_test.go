package schema

import (
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
)

func TestParseOverrideType(t *testing.T) {
	for in, want := range map[string]string{
		"string": "string", " String ": "string", "double": "double",
		"decimal(38,10)": "decimal(38, 10)", "DECIMAL( 10 , 0 )": "decimal(10, 0)", "decimal(1,1)": "decimal(1, 1)",
	} {
		typ, err := ParseOverrideType(in)
		if err != nil || typ.String() != want {
			t.Errorf("%q: %v, %v; want %s", in, typ, err, want)
		}
	}
	for in, want := range map[string]string{
		"text": "write string, double or decimal(P,S)", "float": "write string", "decimal(39,2)": "precision must be 1 to 38",
		"decimal(10,11)": "scale 0 to the precision", "decimal(10)": "write decimal(P,S)", "decimal(a,b)": "write decimal(P,S)", "": "unknown type",
	} {
		if typ, err := ParseOverrideType(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, %v; want an error saying %q", in, typ, err, want)
		}
	}
}

func TestFormattedDecoder(t *testing.T) {
	d := FormattedDecoder(func(b []byte) (any, error) { return int32(len(b)), nil }, iceberg.PrimitiveTypes.Date,
		func(b []byte) (string, bool) { return "special", string(b) == "x" })
	if v, _ := d([]byte("abc")); v != "1970-01-04" {
		t.Errorf("got %v", v)
	}
	if v, _ := d([]byte("x")); v != "special" {
		t.Errorf("got %v", v)
	}
}
