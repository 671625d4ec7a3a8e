package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	driver "github.com/go-sql-driver/mysql"
)

// StreamHolder describes the binlog reader registered with the pipeline's
// replica server id ("server id 4711 is registered by a binlog reader,
// host floe, port 0"), or returns "" when none is. Tools that must not run
// beside a streaming pipeline (floe resnapshot) ask it.
//
// It reads SHOW SLAVE HOSTS. A user without the privilege for that
// (MariaDB 10.5+: REPLICATION MASTER ADMIN) still sees its own binlog
// dump threads in the process list; any of those counts as the holder,
// since its server id cannot be told.
func (s *Source) StreamHolder(ctx context.Context) (string, error) {
	c, err := s.conn(ctx)
	if err != nil {
		return "", err
	}
	defer c.Close()
	who, err := s.registeredReplica(ctx, c)
	var me *driver.MySQLError
	if errors.As(err, &me) && (me.Number == 1227 || me.Number == 1045 || me.Number == 1142) { // access denied
		return s.ownDumpThread(ctx, c)
	}
	return who, err
}

// registeredReplica looks for the pipeline's server id in SHOW SLAVE HOSTS.
func (s *Source) registeredReplica(ctx context.Context, c *sql.Conn) (string, error) {
	rows, err := showRows(ctx, c, "SHOW SLAVE HOSTS")
	if err != nil {
		return "", err
	}
	want := strconv.FormatUint(uint64(s.cfg.ServerID), 10)
	for _, row := range rows {
		if row["server_id"] == want {
			return fmt.Sprintf("server id %s is registered by a binlog reader (host %q, port %s)", want, row["host"], row["port"]), nil
		}
	}
	return "", nil
}

// ownDumpThread looks for binlog dump threads of the source's user.
func (s *Source) ownDumpThread(ctx context.Context, c *sql.Conn) (string, error) {
	var id int64
	var host string
	err := c.QueryRowContext(ctx, `SELECT ID, HOST FROM information_schema.PROCESSLIST
		WHERE COMMAND LIKE 'Binlog Dump%' AND USER = SUBSTRING_INDEX(CURRENT_USER(), '@', 1) ORDER BY ID LIMIT 1`).Scan(&id, &host)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the process list: %w", err)
	}
	return fmt.Sprintf("binlog dump thread %d of user %q from %s is running (without the privilege for SHOW SLAVE HOSTS its server id cannot be read; grant REPLICATION MASTER ADMIN to tell pipelines apart)", id, s.cfg.User, host), nil
}
