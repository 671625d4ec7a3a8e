package testdb

import (
	"context"
	"syscall"
)

// Halt stops the PostgreSQL server at once, as a crash would (immediate
// shutdown, SIGQUIT), and keeps its data directory and port so that
// Resume can start it again: an outage of the source.
func (p *Postgres) Halt() error { return p.halt("postgres", syscall.SIGQUIT) }

// Resume starts a halted PostgreSQL server again on the same port and data
// and waits until it accepts connections (crash recovery included).
func (p *Postgres) Resume(ctx context.Context) error { return p.resume(ctx, "postgres", p.launch) }

// Halt shuts the MariaDB server down (SIGTERM, a normal shutdown that
// ends every connection) and keeps its data directory and port so that
// Resume can start it again: an outage of the source.
func (m *MariaDB) Halt() error { return m.halt("mariadb", syscall.SIGTERM) }

// Resume starts a halted MariaDB server again on the same port and data
// and waits until it accepts connections.
func (m *MariaDB) Resume(ctx context.Context) error { return m.resume(ctx, "mariadb", m.launch) }
