package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/internal/toolkit"
)

// ErrBinlogPurged is matched (errors.Is) by every *PurgedError.
var ErrBinlogPurged = errors.New("binlog purged past the saved position")

// PurgedError reports that the stream must resume after Resume but the
// server no longer has the binlog from there, so the changes after Resume
// are lost to capture. Tables are the captured tables; each one whose
// committed position is at or before Resume must be snapshotted again.
type PurgedError struct {
	Resume string
	Oldest string // the oldest position the server still has, if known
	Tables []string
}

func (e *PurgedError) Error() string {
	msg := fmt.Sprintf("the server's binlog no longer holds the changes after %s", e.Resume)
	if e.Oldest != "" {
		msg += fmt.Sprintf(" (its oldest binlog starts at %s)", e.Oldest)
	}
	return msg + fmt.Sprintf("; fix: stop floe, re-snapshot the tables committed at or before that position (all captured ones if unsure: %s) "+
		"with `floe resnapshot --config FILE --table DATABASE.TABLE` (repeat --table), and start floe again; keep binlogs longer "+
		"(binlog_expire_logs_seconds / expire_logs_days) so a stopped pipeline can resume", strings.Join(e.Tables, ", "))
}

// Is makes errors.Is(err, ErrBinlogPurged) true.
func (e *PurgedError) Is(target error) bool { return target == ErrBinlogPurged }

// Start reports where the stream starts. MySQL has no exported snapshot,
// so Exact is always false: chunks are read later and converge by replay.
//
//   - req.Resume nil: From = the server's current position (MariaDB
//     gtid_binlog_pos, MySQL gtid_executed, or SHOW MASTER STATUS);
//   - req.Resume set: From = req.Resume, after checking the server still
//     has the binlog after it (*PurgedError otherwise) and that it has the
//     form the server uses now.
func (s *Source) Start(ctx context.Context, req capture.StartRequest) (capture.StartInfo, error) {
	if err := toolkit.BeginStart(ctx, &s.life, &s.tables, s.Discover); err != nil {
		return capture.StartInfo{}, err
	}
	c, err := s.conn(ctx)
	if err != nil {
		return capture.StartInfo{}, err
	}
	defer c.Close()
	cur, err := s.currentPosition(ctx, c)
	if err != nil {
		return capture.StartInfo{}, fmt.Errorf("start: %w", err)
	}
	from := cur
	if req.Resume != nil {
		from = asPosition(req.Resume)
		if from.Kind != cur.Kind {
			return capture.StartInfo{}, fmt.Errorf("start: the saved position %s is a %s position but the server now uses %s positions (was gtid_mode changed?); fix: re-snapshot the captured tables",
				from, from.kindName(), cur.kindName())
		}
		if err := s.checkPurged(ctx, c, from); err != nil {
			return capture.StartInfo{}, err
		}
	}
	s.mu.Lock()
	s.from, s.serverAt = from, cur
	s.mu.Unlock()
	s.life.MarkStarted()
	s.base.Log.Info("source started", "flavor", s.Flavor(), "position", from.String(), "server_position", cur.String())
	return capture.StartInfo{From: from, Exact: false}, nil
}

// currentPosition reads the server's current binlog position.
func (s *Source) currentPosition(ctx context.Context, c *sql.Conn) (Position, error) {
	s.mu.Lock()
	flavor, gtid := s.flavor, s.gtidMode
	s.mu.Unlock()
	switch {
	case flavor == FlavorMariaDB:
		var pos string
		if err := c.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos").Scan(&pos); err != nil {
			return Position{}, fmt.Errorf("read gtid_binlog_pos: %w", err)
		}
		gs, err := parseMaria(pos)
		if err != nil {
			return Position{}, fmt.Errorf("read gtid_binlog_pos: %w", err)
		}
		return Position{Kind: KindMariaDB, Maria: gs}, nil
	case gtid:
		var set string
		if err := c.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_executed").Scan(&set); err != nil {
			return Position{}, fmt.Errorf("read gtid_executed: %w", err)
		}
		g, err := gomysql.ParseMysqlGTIDSet(strings.ReplaceAll(set, "\n", ""))
		if err != nil {
			return Position{}, fmt.Errorf("parse gtid_executed %q: %w", set, err)
		}
		return Position{Kind: KindGTID, GTIDs: g.(*gomysql.MysqlGTIDSet)}, nil
	}
	file, off, err := masterStatus(ctx, c)
	if err != nil {
		return Position{}, err
	}
	return Position{Kind: KindFile, File: file, Offset: off}, nil
}

// masterStatus returns the binlog file and offset being written.
func masterStatus(ctx context.Context, c *sql.Conn) (string, uint32, error) {
	var lastErr error
	for _, q := range []string{"SHOW BINARY LOG STATUS", "SHOW MASTER STATUS"} {
		rows, err := c.QueryContext(ctx, q)
		if err != nil {
			lastErr = err
			continue
		}
		vals, err := firstRow(rows)
		if err != nil {
			return "", 0, fmt.Errorf("%s: %w", q, err)
		}
		if len(vals) < 2 {
			return "", 0, fmt.Errorf("%s returned no row: is log_bin ON?", q)
		}
		var off uint32
		if _, err := fmt.Sscan(vals[1], &off); err != nil {
			return "", 0, fmt.Errorf("%s: bad position %q", q, vals[1])
		}
		return vals[0], off, nil
	}
	return "", 0, fmt.Errorf("read binlog status: %w", lastErr)
}

// firstRow returns the first row of rows as strings (nil when empty).
func firstRow(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		return nil, rows.Err()
	}
	raw := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	out := make([]string, len(cols))
	for i, r := range raw {
		out[i] = r.String
	}
	return out, rows.Err()
}

// binlogFiles lists the server's binlog files, oldest first.
func binlogFiles(ctx context.Context, c *sql.Conn) ([]string, error) {
	rows, err := showRows(ctx, c, "SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("list binlogs: %w", err)
	}
	var files []string
	for _, row := range rows {
		files = append(files, row["log_name"])
	}
	return files, nil
}

// checkPurged returns a *PurgedError when the server no longer has the
// binlog after from.
func (s *Source) checkPurged(ctx context.Context, c *sql.Conn, from Position) error {
	purged := func(oldest string) error {
		return &PurgedError{Resume: from.String(), Oldest: oldest, Tables: s.tables.Names()}
	}
	switch from.Kind {
	case KindMariaDB:
		files, err := binlogFiles(ctx, c)
		if err != nil || len(files) == 0 {
			return err
		}
		var start sql.NullString
		if err := c.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, 4)", files[0]).Scan(&start); err != nil {
			s.base.Log.Warn("cannot read the oldest binlog's GTID position; a purged binlog is detected when streaming starts", "error", err)
			return nil
		}
		oldest, err := parseMaria(start.String)
		if err != nil {
			return nil
		}
		for _, g := range oldest {
			seq, ok := uint64(0), false
			for _, h := range from.Maria {
				if h.Domain == g.Domain {
					seq, ok = h.Seq, true
				}
			}
			if !ok || seq < g.Seq {
				return purged(Position{Kind: KindMariaDB, Maria: oldest}.String())
			}
		}
	case KindGTID:
		var set string
		if err := c.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_purged").Scan(&set); err != nil {
			return fmt.Errorf("read gtid_purged: %w", err)
		}
		g, err := gomysql.ParseMysqlGTIDSet(strings.ReplaceAll(set, "\n", ""))
		if err != nil {
			return fmt.Errorf("parse gtid_purged %q: %w", set, err)
		}
		if from.GTIDs != nil && !from.GTIDs.Contain(g) {
			return purged("")
		}
	case KindFile:
		files, err := binlogFiles(ctx, c)
		if err != nil {
			return err
		}
		for _, f := range files {
			if f == from.File {
				return nil
			}
		}
		oldest := ""
		if len(files) > 0 {
			oldest = Position{Kind: KindFile, File: files[0], Offset: 4}.String()
		}
		return purged(oldest)
	}
	return nil
}

// CurrentPosition returns the server's current binlog position: every
// transaction committed before the call is at or before it.
func (s *Source) CurrentPosition(ctx context.Context) (capture.Position, error) {
	c, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return toolkit.PositionOf(s.currentPosition(ctx, c))
}
