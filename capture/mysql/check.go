package mysql

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"

	driver "github.com/go-sql-driver/mysql"

	"github.com/floe-cdc/floe/capture"
)

// Check connects and reports every problem that would stop capture, each
// with the configuration field it concerns and the fix: connection and
// authentication, log_bin, binlog_format=ROW, binlog_row_image=FULL,
// binlog_row_metadata=FULL (MariaDB >= 10.5 / MySQL >= 8.0.1; needed to
// decode row events with the layout they were written in), the REPLICATION SLAVE and REPLICATION CLIENT
// privileges, a server-id clash with the server or another replica, GTID
// mode, table patterns and keys. It returns nil when all is well.
func (s *Source) Check(ctx context.Context) []Problem {
	c, err := s.conn(ctx)
	if err != nil {
		return capture.ConnectProblems(err, "check source.hostname, source.port and that MySQL/MariaDB is running")
	}
	defer c.Close()
	var problems []Problem
	add := func(field, fix, format string, args ...any) {
		problems = append(problems, Problem{Field: field, Message: fmt.Sprintf(format, args...), Fix: fix})
	}
	// fail reports a query of the check that failed; a connection the
	// server closed under it is said as such (with Err, for the caller to
	// tell it from a misconfiguration), not blamed on privileges.
	fail := func(what, fix string, err error) {
		if errors.Is(err, driver.ErrInvalidConn) || errors.Is(err, sqldriver.ErrBadConn) {
			fix = fmt.Sprintf("the server at %s closed the connection during the check; check that it is running (its error log says why it closed it), then run again", s.addr())
		}
		problems = append(problems, Problem{Field: "source", Message: fmt.Sprintf("%s: %v", what, err), Fix: fix, Err: err})
	}

	vars, err := globalVars(ctx, c, "log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata",
		"server_id", "gtid_mode", "binlog_row_value_options")
	if err != nil {
		fail("read server variables", "check that the user may read server variables", err)
	} else {
		if !isOn(vars["log_bin"]) {
			add("source", "start the server with log_bin (and binlog_format=ROW, binlog_row_image=FULL), then restart it",
				"the binary log is off (log_bin=%s) at %s; change capture needs it", vars["log_bin"], s.addr())
		} else {
			if f := vars["binlog_format"]; !strings.EqualFold(f, "ROW") {
				add("source", "SET GLOBAL binlog_format=ROW (and in the server's option file); existing sessions keep the old format until they reconnect",
					"binlog_format is %s, row-based capture needs ROW", f)
			}
			if f, ok := vars["binlog_row_image"]; ok && !strings.EqualFold(f, "FULL") {
				add("source", "SET GLOBAL binlog_row_image=FULL (and in the server's option file)",
					"binlog_row_image is %s; Floe needs FULL images (every column before and after each change)", f)
			}
			if f, ok := vars["binlog_row_metadata"]; ok && !strings.EqualFold(f, "FULL") {
				add("source", "SET GLOBAL binlog_row_metadata=FULL (and in the server's option file)",
					"binlog_row_metadata is %s; Floe needs FULL to decode each row event with the layout it was written in and to follow schema changes", f)
			}
			if f := vars["binlog_row_value_options"]; strings.Contains(strings.ToUpper(f), "PARTIAL_JSON") {
				add("source", "SET GLOBAL binlog_row_value_options=''", "binlog_row_value_options is %s; partial JSON updates carry no full image", f)
			}
		}
		if id, _ := strconv.ParseUint(vars["server_id"], 10, 32); id == uint64(s.cfg.ServerID) {
			add("source.server-id", "choose a source.server-id different from the server's own server_id",
				"source.server-id %d is the server's own server_id", s.cfg.ServerID)
		}
		if s.Flavor() == FlavorMySQL && !strings.EqualFold(vars["gtid_mode"], "ON") {
			s.base.Log.Info("gtid_mode is not ON: positions are binlog file and offset; a table snapshotted while Floe runs is read beside the stream given the LOCK TABLES privilege on its database (a brief read lock per chunk), before the stream without it",
				"gtid_mode", vars["gtid_mode"])
		}
	}

	problems = append(problems, s.checkGrants(ctx, c)...)
	problems = append(problems, s.checkReplicas(ctx, c)...)

	_, tp, err := s.discover(ctx, c)
	if err != nil {
		fail("discover tables", "check that the user may read information_schema.TABLES and COLUMNS", err)
	}
	return append(problems, tp...)
}

func isOn(v string) bool { return strings.EqualFold(v, "ON") || v == "1" }

// globalVars reads the named global variables; absent ones are left out.
func globalVars(ctx context.Context, c *sql.Conn, names ...string) (map[string]string, error) {
	quoted := make([]string, len(names))
	args := make([]any, len(names))
	for i, n := range names {
		quoted[i], args[i] = "?", n
	}
	rows, err := c.QueryContext(ctx, "SHOW GLOBAL VARIABLES WHERE Variable_name IN ("+strings.Join(quoted, ", ")+")", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[strings.ToLower(k)] = v
	}
	return out, rows.Err()
}

// checkGrants reports missing REPLICATION SLAVE / REPLICATION CLIENT
// (MariaDB 10.5+ names: BINLOG MONITOR, REPLICATION SLAVE) privileges.
func (s *Source) checkGrants(ctx context.Context, c *sql.Conn) []Problem {
	rows, err := c.QueryContext(ctx, "SHOW GRANTS FOR CURRENT_USER()")
	if err != nil {
		return []Problem{{Field: "source.username", Message: fmt.Sprintf("read the user's grants: %v", err), Fix: "check that the user may run SHOW GRANTS"}}
	}
	defer rows.Close()
	var grants []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return []Problem{{Field: "source.username", Message: fmt.Sprintf("read the user's grants: %v", err)}}
		}
		grants = append(grants, strings.ToUpper(g))
	}
	global := ""
	for _, g := range grants {
		if strings.Contains(g, " ON *.* ") {
			global += g + " "
		}
	}
	has := func(p string) bool {
		return strings.Contains(global, "ALL PRIVILEGES") || strings.Contains(global, p)
	}
	var missing []string
	if !has("REPLICATION SLAVE") && !has("REPLICATION REPLICA") {
		missing = append(missing, "REPLICATION SLAVE")
	}
	if !has("REPLICATION CLIENT") && !has("BINLOG MONITOR") {
		missing = append(missing, "REPLICATION CLIENT")
	}
	if len(missing) == 0 {
		return nil
	}
	return []Problem{{Field: "source.username",
		Message: fmt.Sprintf("user %q lacks the %s privilege(s) needed to read the binlog", s.cfg.User, strings.Join(missing, " and ")),
		Fix:     fmt.Sprintf("run GRANT %s ON *.* TO '%s'@'<host>'", strings.Join(missing, ", "), s.cfg.User)}}
}

// replica is one row of the server's replica list.
type replica struct{ serverID, host string }

// replicas lists the replicas registered with the server: SHOW REPLICAS
// (MySQL 8.0.22+, which needs REPLICATION SLAVE) or SHOW SLAVE HOSTS
// (MariaDB, which needs REPLICATION MASTER ADMIN since 10.5.2). The error
// is the last statement's, e.g. access denied.
func (s *Source) replicas(ctx context.Context, c *sql.Conn) ([]replica, error) {
	queries := []string{"SHOW SLAVE HOSTS"}
	if s.Flavor() == FlavorMySQL {
		queries = []string{"SHOW REPLICAS", "SHOW SLAVE HOSTS"}
	}
	var err error
	for _, q := range queries {
		var rows []map[string]string
		if rows, err = showRows(ctx, c, q); err != nil {
			continue
		}
		out := make([]replica, 0, len(rows))
		for _, row := range rows {
			out = append(out, replica{serverID: row["server_id"], host: row["host"]})
		}
		return out, nil
	}
	return nil, err
}

// showRows runs q (a SHOW statement) on c and returns its rows, each a
// map from the lower-cased column name to the value (NULL is ""). A row
// that cannot be read is "read <q>: ..."; other errors are the driver's.
func showRows(ctx context.Context, c *sql.Conn, q string) ([]map[string]string, error) {
	rows, err := c.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []map[string]string
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("read %s: %w", q, err)
		}
		row := make(map[string]string, len(cols))
		for i, col := range cols {
			row[strings.ToLower(col)] = vals[i].String
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// checkReplicas reports another registered replica using our server id,
// on MariaDB: MariaDB ends a binlog dump when another replica registers
// with its server id, so floe run would disconnect it. MySQL (5.6+) tells
// dump threads apart by replica UUID, which go-mysql sets afresh for every
// connection: there a registered replica with our id is harmless, and
// most often the dump thread of this pipeline's own run that was just
// killed, which the server keeps until its next write fails. A user who
// may not list the replicas is not reported here; see CheckExclusive.
func (s *Source) checkReplicas(ctx context.Context, c *sql.Conn) []Problem {
	if s.Flavor() != FlavorMariaDB {
		return nil
	}
	list, err := s.replicas(ctx, c)
	if err != nil {
		return nil
	}
	var problems []Problem
	id := strconv.FormatUint(uint64(s.cfg.ServerID), 10)
	for _, r := range list {
		if r.serverID == id {
			problems = append(problems, Problem{Field: "source.server-id",
				Message: fmt.Sprintf("a replica (host %q) is already connected with server id %d; two binlog readers with one server id disconnect each other", r.host, s.cfg.ServerID),
				Fix:     "stop the other reader (another floe run of this pipeline?), or give this pipeline a different source.server-id"})
		}
	}
	return problems
}

// CheckExclusive is what floe check adds to Check about the replica
// server id: when the user may not list the server's replicas (MariaDB
// 10.5.2+ needs REPLICATION MASTER ADMIN for SHOW SLAVE HOSTS) while some
// are connected (status Slaves_connected), it cannot tell whether one of
// them uses source.server-id, and says so. Check already reports a
// replica it sees using the id. It changes nothing.
func (s *Source) CheckExclusive(ctx context.Context) []Problem {
	c, err := s.conn(ctx)
	if err != nil {
		return capture.ConnectProblems(err, "check source.hostname, source.port and that MySQL/MariaDB is running")
	}
	defer c.Close()
	if s.Flavor() == FlavorMySQL {
		return nil // see checkReplicas: MySQL tells readers with one id apart
	}
	_, listErr := s.replicas(ctx, c)
	if listErr == nil {
		return nil
	}
	var name string
	var connected int
	if err := c.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Slaves_connected'").Scan(&name, &connected); err != nil || connected == 0 {
		return nil // no replica at all (or a server without the counter: nothing to go on)
	}
	return []Problem{{Field: "source.server-id",
		Message: fmt.Sprintf("%d replica(s) are connected to %s and user %q may not list them (%v), so floe check cannot tell whether one uses server id %d; two binlog readers with one server id disconnect each other",
			connected, s.addr(), s.cfg.User, listErr, s.cfg.ServerID),
		Fix: fmt.Sprintf("GRANT REPLICATION MASTER ADMIN ON *.* TO '%s'@'<host>' so that floe check can list the replicas (SHOW SLAVE HOSTS), or make sure no other reader uses source.server-id %d", s.cfg.User, s.cfg.ServerID)}}
}
