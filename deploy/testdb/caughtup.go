package testdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// WaitSlotCaughtUp waits until logical replication slot slot, read as
// the database dsn names, has confirmed a marker written now: a
// floe.sync logical message (capture/postgres SyncPrefix), which has a
// floe run commit every table up to it at once rather than after its idle
// interval. Floe acknowledges only what every table committed, so then
// everything written before the call is in Iceberg.
//
// The marker must come after the slot's start point: a slot that finds
// its consistent point later starts past the marker and would look caught
// up before its snapshot is done. confirmed_flush_lsn stays NULL until
// that point is found, so the wait for it comes first.
//
// run, when not nil, is the floe run being waited for: its exit ends the
// wait with an error. timeout bounds the wait for the slot, then the wait
// for progress, not the catch-up: while the slot's confirmed position
// moves (a long backlog on a loaded machine) the wait goes on; a slot that
// stays put for timeout means floe is stuck.
func WaitSlotCaughtUp(ctx context.Context, dsn, slot string, timeout time.Duration, run *Process) error {
	var exited <-chan struct{}
	if run != nil {
		exited = run.Exited
	}
	// pause waits d; run's exit or ctx's end ends the wait with an error.
	pause := func(d time.Duration) error {
		select {
		case <-exited:
			return fmt.Errorf("floe run stopped early: %v", run.Err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	deadline := time.Now().Add(timeout)
	for {
		var exists bool
		if err := conn.QueryRow(ctx, `SELECT count(*) > 0 FROM pg_replication_slots WHERE slot_name = $1 AND confirmed_flush_lsn IS NOT NULL`, slot).Scan(&exists); err != nil {
			return fmt.Errorf("look for the replication slot: %w", err)
		}
		if exists {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("floe did not create replication slot %s within %s", slot, timeout)
		}
		if err := pause(100 * time.Millisecond); err != nil {
			return err
		}
	}
	var marker string
	if err := conn.QueryRow(ctx, `SELECT pg_logical_emit_message(false, 'floe.sync', 'caught up?')::text`).Scan(&marker); err != nil {
		return fmt.Errorf("write catch-up marker: %w", err)
	}
	deadline = time.Now().Add(timeout)
	var confirmed string
	for time.Now().Before(deadline) {
		var done bool
		var at *string
		err := conn.QueryRow(ctx, `SELECT coalesce(confirmed_flush_lsn >= $1::pg_lsn, false), confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $2`,
			marker, slot).Scan(&done, &at)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("read slot position: %w", err)
		}
		if done {
			return nil
		}
		if at != nil && *at != confirmed {
			confirmed, deadline = *at, time.Now().Add(timeout)
		}
		if err := pause(500 * time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("floe did not catch up with %s: its slot stayed at %s for %s", marker, confirmed, timeout)
}
