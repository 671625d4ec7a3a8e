package postgres

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pglogrepl"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/capturetest"
)

func TestPositionGolden(t *testing.T) {
	lsns := []pglogrepl.LSN{0, 1, 0x16B374D848, 0xFFFFFFFF, 0x100000000, 0xFFFFFFFFFFFFFFFF}
	var b strings.Builder
	for _, l := range lsns {
		s := Position{LSN: l}.String()
		b.WriteString(s + "\n")
		back, err := DecodePosition(s)
		if err != nil {
			t.Fatalf("DecodePosition(%q): %v", s, err)
		}
		if back.LSN != l {
			t.Errorf("DecodePosition(%q) = %v, want %v", s, back.LSN, l)
		}
	}
	capturetest.Golden(t, filepath.Join("testdata", "position.golden"), b.String(), *update)
}

func TestDecodePositionErrors(t *testing.T) {
	tests := []struct {
		in, errPart string
	}{
		{"pg.v2:0/1", `unsupported version "pg.v2"`},
		{"mysql.v1:abc", "not a PostgreSQL position"},
		{"16/B374D848", "not a PostgreSQL position"},
		{"pg.v1:16", "malformed LSN"},
		{"pg.v1:16/", "malformed LSN"},
		{"pg.v1:/1", "malformed LSN"},
		{"pg.v1:1G/0", "malformed LSN"},
		{"pg.v1:100000000/0", "malformed LSN"},
		{"pg.v1:-1/0", "malformed LSN"},
	}
	for _, tc := range tests {
		_, err := DecodePosition(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.errPart) {
			t.Errorf("DecodePosition(%q) error = %v, want it to contain %q", tc.in, err, tc.errPart)
		}
	}
}

func TestPositionCompare(t *testing.T) {
	a, b := Position{LSN: 10}, Position{LSN: 20}
	tests := []struct {
		x, y Position
		want int
	}{{a, b, -1}, {b, a, 1}, {a, a, 0}}
	for _, tc := range tests {
		if got := tc.x.Compare(tc.y); got != tc.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tc.x, tc.y, got, tc.want)
		}
	}
	if got := a.Compare(&b); got != -1 {
		t.Errorf("Compare with *Position = %d, want -1", got)
	}
}

func TestAckNeverMovesBackwards(t *testing.T) {
	s := &Source{}
	s.Ack(Position{LSN: 100})
	s.Ack(Position{LSN: 50})
	if got := s.acked.Load(); got != 100 {
		t.Fatalf("acked = %d after Ack(100), Ack(50); want 100", got)
	}
	s.Ack(Position{LSN: 150})
	if got := s.acked.Load(); got != 150 {
		t.Fatalf("acked = %d, want 150", got)
	}
}

// TestPositionBytesAfter: the WAL bytes between two positions, across the
// 4 GiB boundary of the text form's halves; 0 for an earlier end; not a
// distance to another source's position.
func TestPositionBytesAfter(t *testing.T) {
	end := Position{LSN: 0x2_0000_0010}
	n, ok := end.BytesAfter(Position{LSN: 0x1_FFFF_FFF0})
	require.True(t, ok)
	require.Equal(t, int64(0x20), n)
	n, ok = end.BytesAfter(&Position{LSN: 0x2_0000_0020})
	require.True(t, ok)
	require.Zero(t, n)
	_, ok = end.BytesAfter(nil)
	require.False(t, ok)
	var _ capture.Distancer = end
}

// TestTableIdentityFormat pins the identity strings commits record
// (floe.source-table): a changed format would reset every table on
// upgrade.
func TestTableIdentityFormat(t *testing.T) {
	if got := tableIdentity(16384, 16390, nil); got != "pg.v1:rel=16384/pub=16390" {
		t.Errorf("plain table: %q", got)
	}
	leaves := "16400,16410,16420"
	if got, want := tableIdentity(16384, 16390, &leaves), "pg.v1:rel=16384/pub=16390/leaves=b29350fc37ab2f71"; got != want {
		t.Errorf("partitioned table: %q, want %q", got, want)
	}
	other := "16400,16410"
	if tableIdentity(16384, 16390, &other) == tableIdentity(16384, 16390, &leaves) {
		t.Error("a detached partition must change the identity")
	}
}
