package postgres

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pglogrepl"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/internal/toolkit"
)

// positionPrefix is the versioned prefix of Position.String. Changing the
// encoding means a new version; old versions must stay decodable.
const positionPrefix = "pg.v1:"

// Position is a point in the WAL: the end LSN of a transaction (or of a
// heartbeat message), or, for the parts of a split transaction, its commit
// LSN + 1.
type Position struct {
	LSN pglogrepl.LSN
}

// String is the persisted form, "pg.v1:16/B374D848".
func (p Position) String() string {
	return fmt.Sprintf("%s%X/%X", positionPrefix, uint32(p.LSN>>32), uint32(p.LSN))
}

// Compare orders positions by LSN. other must be a postgres Position
// (value or pointer); anything else is a programming error and panics.
func (p Position) Compare(other capture.Position) int {
	o := asPosition(other)
	switch {
	case p.LSN < o.LSN:
		return -1
	case p.LSN > o.LSN:
		return 1
	}
	return 0
}

// BytesAfter is the WAL bytes from earlier up to p (capture.Distancer);
// ok is false when earlier is not a postgres Position.
func (p Position) BytesAfter(earlier capture.Position) (int64, bool) {
	var o Position
	switch e := earlier.(type) {
	case Position:
		o = e
	case *Position:
		if e == nil {
			return 0, false
		}
		o = *e
	default:
		return 0, false
	}
	if o.LSN >= p.LSN {
		return 0, true
	}
	return int64(p.LSN - o.LSN), true
}

func asPosition(p capture.Position) Position { return toolkit.AsPosition[Position](p, "postgres") }

// DecodePosition parses the form written by Position.String.
func DecodePosition(s string) (Position, error) {
	rest, err := toolkit.CutPositionPrefix(s, positionPrefix, "PostgreSQL", "<hi>/<lo>")
	if err != nil {
		return Position{}, err
	}
	hiText, loText, ok := strings.Cut(rest, "/")
	hi, err1 := strconv.ParseUint(hiText, 16, 32)
	lo, err2 := strconv.ParseUint(loText, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return Position{}, fmt.Errorf("decode position %q: malformed LSN (want hex <hi>/<lo>)", s)
	}
	return Position{LSN: pglogrepl.LSN(hi<<32 | lo)}, nil
}

// DecodePosition parses a position encoded by Position.String.
func (s *Source) DecodePosition(str string) (capture.Position, error) {
	return toolkit.PositionOf(DecodePosition(str))
}
