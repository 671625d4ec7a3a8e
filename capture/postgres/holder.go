package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// StreamHolder describes the process that streams from the pipeline's
// replication slot ("replication slot floe_shop is active: walsender PID
// 4711, application floe, client 10.0.0.7, connected since ..."), or
// returns "" when the slot is not in use or does not exist. Tools that
// must not run beside a streaming pipeline (floe resnapshot) ask it.
func (s *Source) StreamHolder(ctx context.Context) (string, error) {
	var (
		pid       int64
		app, host *string
		since     *time.Time
	)
	err := s.queryRow(ctx, "read replication slot "+s.cfg.SlotName, `SELECT s.active_pid, a.application_name, host(a.client_addr), a.backend_start
		FROM pg_replication_slots s LEFT JOIN pg_stat_activity a ON a.pid = s.active_pid
		WHERE s.slot_name = $1 AND s.active`, []any{s.cfg.SlotName}, &pid, &app, &host, &since)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	who := fmt.Sprintf("replication slot %s is active: walsender PID %d", s.cfg.SlotName, pid)
	if app != nil && *app != "" {
		who += ", application " + *app
	}
	if host != nil {
		who += ", client " + *host
	}
	if since != nil {
		who += ", connected since " + since.UTC().Format(time.RFC3339)
	}
	return who, nil
}
