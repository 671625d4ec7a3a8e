package testdb

import (
	"context"
	"errors"
	"syscall"
)

// Halt stops the PostgreSQL server at once, as a crash would (immediate
// shutdown, SIGQUIT), and keeps its data directory and port so that
// Resume can start it again: an outage of the source.
func (p *Postgres) Halt() error {
	if p.cmd == nil {
		return errors.New("postgres is not running")
	}
	stopServer(p.cmd, p.done, syscall.SIGQUIT)
	p.cmd = nil
	return nil
}

// Resume starts a halted PostgreSQL server again on the same port and data
// and waits until it accepts connections (crash recovery included).
func (p *Postgres) Resume(ctx context.Context) error {
	if p.cmd != nil {
		return errors.New("postgres is running")
	}
	return p.launch(ctx)
}

// Halt shuts the MariaDB server down (SIGTERM, a normal shutdown that
// ends every connection) and keeps its data directory and port so that
// Resume can start it again: an outage of the source.
func (m *MariaDB) Halt() error {
	if m.cmd == nil {
		return errors.New("mariadb is not running")
	}
	stopServer(m.cmd, m.done, syscall.SIGTERM)
	m.cmd = nil
	return nil
}

// Resume starts a halted MariaDB server again on the same port and data
// and waits until it accepts connections.
func (m *MariaDB) Resume(ctx context.Context) error {
	if m.cmd != nil {
		return errors.New("mariadb is running")
	}
	return m.launch(ctx)
}
