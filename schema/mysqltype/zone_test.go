package mysqltype

import (
	"testing"
	"time"
	_ "time/tzdata" // the zones below, whatever the machine has

	"github.com/apache/iceberg-go"
)

func TestMySQLZonedDatetimeDecoders(t *testing.T) {
	berlin := mustZone(t, "Europe/Berlin")
	opts := Options{DatetimeZone: berlin}
	c, err := columnOf("dt", "datetime(6)", "datetime", "", false, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Type.Equals(iceberg.PrimitiveTypes.TimestampTz) {
		t.Fatalf("zoned DATETIME maps to %s, want timestamptz", c.Type)
	}
	ts, err := columnOf("ts", "timestamp(6)", "timestamp", "", false, opts)
	if err != nil || !ts.Type.Equals(iceberg.PrimitiveTypes.TimestampTz) {
		t.Fatalf("TIMESTAMP maps to %v (%v), want timestamptz", ts.Type, err)
	}
	td, err := TextDecoder(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	bd, err := BinlogDecoder(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	for wall, utc := range map[string]string{
		"2024-03-31 02:30:00.000000": "2024-03-31 01:30:00",
		"2024-10-27 02:30:00.123400": "2024-10-27 00:30:00.1234",
		"2024-07-01 00:00:00.000000": "2024-06-30 22:00:00",
	} {
		want := utcMicros(t, utc)
		if got, err := td([]byte(wall)); err != nil || got != want {
			t.Errorf("text %s: %v %v, want %d", wall, got, err, want)
		}
		if got, err := bd(wall); err != nil || got != want {
			t.Errorf("binlog %s: %v %v, want %d", wall, got, err, want)
		}
		tm, _ := time.Parse("2006-01-02 15:04:05.999999", wall)
		if got, err := bd(tm); err != nil || got != want {
			t.Errorf("binlog time.Time %s: %v %v, want %d", wall, got, err, want)
		}
	}
	// The column and the decoders must agree on the options.
	plain, err := mysqlColumn("dt", "datetime(6)", "datetime", "", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TextDecoder(plain, opts); err == nil {
		t.Error("a timestamp DATETIME column decoded with a DatetimeZone: no error")
	}
	if _, err := BinlogDecoder(c, Options{}); err == nil {
		t.Error("a timestamptz DATETIME column decoded without a DatetimeZone: no error")
	}
}
