package postgres

import (
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestClassifyPgConnectError pins the problem each refusal of a connection
// becomes, with the user's values filled in (quoted where the message
// quotes them) and the server's reason kept verbatim.
func TestClassifyPgConnectError(t *testing.T) {
	s := &Source{cfg: Config{}}
	s.cfg.Host, s.cfg.Port, s.cfg.User, s.cfg.Database = "db.example", 5433, `Flo"e`, "shop{addr}"
	const reason = "no pg_hba.conf entry {user}"
	cases := []struct {
		code, field, message, fix string
	}{
		{"28P01", "source.password", `password authentication failed for user "Flo\"e" at db.example:5433`, "check source.username and source.password"},
		{"28000", "source.username", `server rejected user "Flo\"e" at db.example:5433: ` + reason,
			"allow the user in pg_hba.conf (for database and for replication connections) or correct source.username"},
		{"3D000", "source.database", `database "shop{addr}" does not exist at db.example:5433`, "correct source.database or create the database"},
		{"42501", "source.username", `user "Flo\"e" may not open a replication connection: ` + reason, `run ALTER ROLE "Flo""e" REPLICATION`},
		{"53300", "source", "no free connection slot at db.example:5433: " + reason, "raise max_connections / max_wal_senders or close idle connections"},
	}
	for _, c := range cases {
		p, ok := s.classifyPgConnectError(&pgconn.PgError{Code: c.code, Message: reason})
		if !ok || p.Field != c.field || p.Message != c.message || p.Fix != c.fix {
			t.Errorf("%s: got %v %+v\nwant field %q message %q fix %q", c.code, ok, p, c.field, c.message, c.fix)
		}
	}
	if p, ok := s.classifyPgConnectError(&pgconn.PgError{Code: "XX000", Message: reason}); ok {
		t.Errorf("XX000 classified as %+v", p)
	}
}
