package mysql

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/internal/toolkit"
)

// positionPrefix is the versioned prefix of Position.String. Changing the
// encoding means a new version; old versions must stay decodable.
const positionPrefix = "mysql.v1:"

// PositionKind says which of the three forms a Position has.
type PositionKind uint8

const (
	// KindMariaDB is a MariaDB GTID position: the last GTID of each
	// replication domain ("domain-server-seq", one per domain).
	KindMariaDB PositionKind = iota + 1
	// KindGTID is a MySQL GTID set ("uuid:1-N,...").
	KindGTID
	// KindFile is a binlog file and offset (MySQL with gtid_mode OFF).
	KindFile
)

// MariaGTID is one MariaDB GTID.
type MariaGTID struct {
	Domain, Server uint32
	Seq            uint64
}

func (g MariaGTID) String() string { return fmt.Sprintf("%d-%d-%d", g.Domain, g.Server, g.Seq) }

// Position is a point in the binlog: after a transaction's commit (XID)
// event, or, for a DDL, after its Query event. Exactly one form is set,
// as Kind says:
//
//	mysql.v1:mariadb:0-1-17,1-5-3    KindMariaDB (may be empty: "mysql.v1:mariadb:")
//	mysql.v1:gtid:<uuid>:1-17,...    KindGTID    (canonical, sorted, normalized)
//	mysql.v1:file:binlog.000003:4711 KindFile
//
// Resuming from a Position is exclusive: the stream continues with the
// first transaction not contained in it.
type Position struct {
	Kind PositionKind
	// Maria holds one GTID per domain, sorted by domain (KindMariaDB).
	Maria []MariaGTID
	// GTIDs is the executed set (KindGTID); never modified once in a Position.
	GTIDs *gomysql.MysqlGTIDSet
	// File and Offset are the binlog coordinates (KindFile).
	File   string
	Offset uint32
}

// String is the persisted form (see the type doc).
func (p Position) String() string {
	switch p.Kind {
	case KindMariaDB:
		parts := make([]string, len(p.Maria))
		for i, g := range p.Maria {
			parts[i] = g.String()
		}
		return positionPrefix + "mariadb:" + strings.Join(parts, ",")
	case KindGTID:
		s := ""
		if p.GTIDs != nil {
			s = p.GTIDs.String()
		}
		return positionPrefix + "gtid:" + s
	case KindFile:
		return fmt.Sprintf("%sfile:%s:%d", positionPrefix, p.File, p.Offset)
	}
	return positionPrefix + "invalid"
}

// Compare orders two positions of one stream.
//
//   - MariaDB: per domain by sequence number (a domain missing counts as
//     before every GTID of it); when some domains are ahead and others
//     behind — which one stream never produces — the sums of the
//     sequence numbers decide.
//   - MySQL GTID sets: by containment; sets that do not contain each
//     other are ordered by their number of transactions, then text.
//   - file: by the file's numeric extension, then by offset.
//
// other must be a mysql Position of the same kind (value or pointer);
// anything else is a programming error and panics.
func (p Position) Compare(other capture.Position) int {
	o := asPosition(other)
	if p.Kind != o.Kind {
		panic(fmt.Sprintf("mysql: cannot compare a %s position with a %s one", p.kindName(), o.kindName()))
	}
	switch p.Kind {
	case KindMariaDB:
		return compareMaria(p.Maria, o.Maria)
	case KindGTID:
		return compareGTIDSets(p.GTIDs, o.GTIDs)
	case KindFile:
		return gomysql.Position{Name: p.File, Pos: p.Offset}.Compare(gomysql.Position{Name: o.File, Pos: o.Offset})
	}
	return 0
}

func (p Position) kindName() string {
	switch p.Kind {
	case KindMariaDB:
		return "mariadb"
	case KindGTID:
		return "gtid"
	case KindFile:
		return "file"
	}
	return "invalid"
}

func asPosition(p capture.Position) Position { return toolkit.AsPosition[Position](p, "mysql") }

func compareMaria(a, b []MariaGTID) int {
	seq := func(gs []MariaGTID, domain uint32) (uint64, bool) {
		for _, g := range gs {
			if g.Domain == domain {
				return g.Seq, true
			}
		}
		return 0, false
	}
	less, more := false, false
	var sumA, sumB uint64
	for _, g := range a {
		sumA += g.Seq
		if s, ok := seq(b, g.Domain); !ok || g.Seq > s {
			more = true
		} else if g.Seq < s {
			less = true
		}
	}
	for _, g := range b {
		sumB += g.Seq
		if _, ok := seq(a, g.Domain); !ok {
			less = true
		}
	}
	switch {
	case less && !more:
		return -1
	case more && !less:
		return 1
	case !less && !more:
		return 0
	}
	switch {
	case sumA < sumB:
		return -1
	case sumA > sumB:
		return 1
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

func compareGTIDSets(a, b *gomysql.MysqlGTIDSet) int {
	if a == nil {
		e := gomysql.NewMysqlGTIDSet()
		a = &e
	}
	if b == nil {
		e := gomysql.NewMysqlGTIDSet()
		b = &e
	}
	ab, ba := b.Contain(a), a.Contain(b)
	switch {
	case ab && ba:
		return 0
	case ab:
		return -1
	case ba:
		return 1
	}
	if ca, cb := gtidCount(a), gtidCount(b); ca != cb {
		if ca < cb {
			return -1
		}
		return 1
	}
	return strings.Compare(a.String(), b.String())
}

// gtidCount is the number of transactions in s.
func gtidCount(s *gomysql.MysqlGTIDSet) int64 {
	var n int64
	for _, tags := range *s {
		for _, ivs := range tags {
			for _, iv := range ivs {
				n += iv.Stop - iv.Start
			}
		}
	}
	return n
}

// DecodePosition parses the form written by Position.String.
func DecodePosition(s string) (Position, error) {
	rest, err := toolkit.CutPositionPrefix(s, positionPrefix, "MySQL", "mariadb:|gtid:|file:...")
	if err != nil {
		return Position{}, err
	}
	kind, body, _ := strings.Cut(rest, ":")
	switch kind {
	case "mariadb":
		gs, err := parseMaria(body)
		if err != nil {
			return Position{}, fmt.Errorf("decode position %q: %w", s, err)
		}
		return Position{Kind: KindMariaDB, Maria: gs}, nil
	case "gtid":
		set, err := gomysql.ParseMysqlGTIDSet(body)
		if err != nil {
			return Position{}, fmt.Errorf("decode position %q: malformed GTID set: %v", s, err)
		}
		return Position{Kind: KindGTID, GTIDs: set.(*gomysql.MysqlGTIDSet)}, nil
	case "file":
		i := strings.LastIndexByte(body, ':')
		if i <= 0 {
			return Position{}, fmt.Errorf("decode position %q: malformed file position (want file:<name>:<offset>)", s)
		}
		off, err := strconv.ParseUint(body[i+1:], 10, 32)
		if err != nil {
			return Position{}, fmt.Errorf("decode position %q: malformed offset %q", s, body[i+1:])
		}
		return Position{Kind: KindFile, File: body[:i], Offset: uint32(off)}, nil
	}
	return Position{}, fmt.Errorf("decode position %q: unknown kind %q (want mariadb, gtid or file)", s, kind)
}

// parseMaria parses a MariaDB GTID list ("0-1-17,1-5-3"; "" is empty),
// keeping the highest sequence number per domain, sorted by domain.
func parseMaria(s string) ([]MariaGTID, error) {
	var out []MariaGTID
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		f := strings.Split(strings.TrimSpace(part), "-")
		if len(f) != 3 {
			return nil, fmt.Errorf("malformed MariaDB GTID %q (want domain-server-seq)", part)
		}
		d, err1 := strconv.ParseUint(f[0], 10, 32)
		sv, err2 := strconv.ParseUint(f[1], 10, 32)
		q, err3 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("malformed MariaDB GTID %q (want domain-server-seq)", part)
		}
		out = addMaria(out, MariaGTID{Domain: uint32(d), Server: uint32(sv), Seq: q})
	}
	return out, nil
}

// addMaria returns gs with g as its domain's GTID (when g is not behind
// the one there), sorted by domain. gs is not modified.
func addMaria(gs []MariaGTID, g MariaGTID) []MariaGTID {
	out := slices.Clone(gs)
	for i, h := range out {
		if h.Domain == g.Domain {
			if g.Seq >= h.Seq {
				out[i] = g
			}
			return out
		}
	}
	out = append(out, g)
	slices.SortFunc(out, func(a, b MariaGTID) int { return int(int64(a.Domain) - int64(b.Domain)) })
	return out
}

// DecodePosition parses a position encoded by Position.String.
func (s *Source) DecodePosition(str string) (capture.Position, error) {
	return toolkit.PositionOf(DecodePosition(str))
}
