package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/floe-cdc/floe/capture"
)

// Liveness of the replication stream.
//
// An idle walsender sends nothing while Floe keeps replying to it, so the
// stream's silence alone says nothing. Floe therefore writes a heartbeat
// (a non-transactional logical message, heartbeatPrefix) whenever it has
// emitted nothing for HeartbeatInterval: a healthy stream delivers it
// within moments, idle or not. When the stream has delivered nothing for
// StallTimeout while Floe waited for it, Floe asks the server: the
// walsender's pg_stat_replication.sent_lsn is read at StallTimeout/2 and
// at StallTimeout of silence. A walsender that moved meanwhile is working
// through WAL that yields nothing for Floe (a long transaction of other
// tables) and the wait starts over; one that did not move, or a server
// that does not answer within probeTimeout, is a stall: the walsender is
// terminated (best effort) and Stream fails with a capture.StallError,
// which the caller treats as a lost connection. A stall is thus detected
// within StallTimeout + probeTimeout of the last message.
//
// Time spent handing batches downstream (backpressure) is not silence.

// heartbeatPrefix is the logical message prefix of Floe's heartbeats.
const heartbeatPrefix = "floe.heartbeat"

// heartbeatSQL writes a non-transactional logical message; it reaches the
// stream as a Message whose LSN can be acknowledged even when no captured
// table changes. $1 is heartbeatContent.
const heartbeatSQL = "SELECT pg_logical_emit_message(false, '" + heartbeatPrefix + "', $1)"

// probeTimeout bounds one question to the server about a silent stream.
const probeTimeout = 5 * time.Second

// heartbeatContent is a heartbeat's message body: "v1 <slot> <unix nanos
// of the moment before it was written>". Other pipelines' heartbeats
// reach the stream too; the slot tells Floe's own apart.
func heartbeatContent(slot string, at time.Time) string {
	return "v1 " + slot + " " + strconv.FormatInt(at.UnixNano(), 10)
}

// parseHeartbeat returns the time a heartbeat of slot was written, and
// false for any other message.
func parseHeartbeat(slot string, m *pglogrepl.LogicalDecodingMessage) (time.Time, bool) {
	if m.Prefix != heartbeatPrefix {
		return time.Time{}, false
	}
	f := strings.Fields(string(m.Content))
	if len(f) != 3 || f[0] != "v1" || f[1] != slot {
		return time.Time{}, false
	}
	ns, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}

// heartbeat writes a heartbeat message whenever no batch was emitted for
// HeartbeatInterval, and once at once when the stream starts owing a
// delivery (after a reconnect): its arrival settles what the lost stream
// owed. Each written heartbeat is owed until the stream delivers it.
// Failures are logged and retried on the next beat.
func (s *Source) heartbeat(ctx context.Context, activity *atomic.Int64, messages bool) {
	interval := s.cfg.HeartbeatInterval
	live := s.cfg.Liveness
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	now := messages && live.Status(time.Now()).Behind > 0
	for {
		if !now {
			wait := time.Until(time.Unix(0, activity.Load()).Add(interval))
			timer := time.NewTimer(max(wait, time.Millisecond))
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
			if time.Since(time.Unix(0, activity.Load())) < interval {
				continue
			}
		}
		now = false
		activity.Store(time.Now().UnixNano())
		if conn == nil {
			c, err := s.connect(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("heartbeat connect failed", "error", err)
				}
				continue
			}
			conn = c
		}
		at := time.Now()
		hctx, cancel := context.WithTimeout(ctx, max(interval, probeTimeout))
		_, err := conn.Exec(hctx, heartbeatSQL, heartbeatContent(s.cfg.SlotName, at))
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("heartbeat failed", "error", err)
			}
			conn.Close(context.Background())
			conn = nil
			continue
		}
		if messages {
			live.Owe(at)
		}
	}
}

// stallWatch measures how long the stream has been silent while Floe
// waited for it, and decides when that silence is a stall (see above).
// Used by the receiving goroutine only.
type stallWatch struct {
	s       *Source
	pid     uint32        // the walsender's backend PID
	timeout time.Duration // 0: off
	since   time.Time     // start of the current silence
	first   *sentSample   // sent_lsn read at timeout/2 of this silence
}

// sentSample is one reading of the walsender's sent_lsn.
type sentSample struct {
	lsn pglogrepl.LSN
	err error
}

// heard restarts the silence: the server sent something, or a batch was
// handed downstream (time spent waiting on the consumer is not silence).
func (w *stallWatch) heard() {
	w.since, w.first = time.Now(), nil
}

// check is called whenever a wait for the server timed out. It returns a
// *capture.StallError when the stream has stalled.
func (w *stallWatch) check(ctx context.Context) error {
	if w.timeout <= 0 {
		return nil
	}
	silent := time.Since(w.since)
	if silent < w.timeout/2 {
		return nil
	}
	if w.first == nil {
		lsn, err := w.s.sentLSN(ctx, w.pid)
		w.first = &sentSample{lsn: lsn, err: err}
		return nil
	}
	if silent < w.timeout {
		return nil
	}
	lsn, err := w.s.sentLSN(ctx, w.pid)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil && w.first.err == nil && lsn > w.first.lsn {
		w.s.log.Debug("stream silent, but the walsender advances", "walsender_pid", w.pid,
			"sent_lsn", lsn.String(), "silent", silent.Round(time.Millisecond).String())
		w.heard()
		return nil
	}
	detail := fmt.Sprintf("walsender PID %d", w.pid)
	switch {
	case err != nil:
		detail += fmt.Sprintf(" could not be checked: %v", err)
	case w.first.err != nil:
		detail += fmt.Sprintf(" could not be checked: %v", w.first.err)
	default:
		detail += fmt.Sprintf(" stayed at sent_lsn %s", lsn)
	}
	if behind := w.s.cfg.Liveness.Behind(); behind > 0 {
		detail = fmt.Sprintf("a heartbeat written %s ago has not arrived; %s", behind.Round(100*time.Millisecond), detail)
	}
	w.s.terminateWalsender(w.pid)
	return &capture.StallError{Source: "PostgreSQL at " + w.s.addr(), Silent: silent, Detail: detail}
}

// errNoWalsender reports a walsender that pg_stat_replication no longer lists.
var errNoWalsender = errors.New("pg_stat_replication has no such walsender")

// sentLSN reads the sent_lsn of walsender pid, within probeTimeout.
func (s *Source) sentLSN(ctx context.Context, pid uint32) (pglogrepl.LSN, error) {
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	conn, err := s.connect(pctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var sent *string
	err = conn.QueryRow(pctx, "SELECT sent_lsn::text FROM pg_stat_replication WHERE pid = $1", int64(pid)).Scan(&sent)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, errNoWalsender
	}
	if err != nil {
		return 0, fmt.Errorf("read pg_stat_replication: %w", err)
	}
	if sent == nil {
		return 0, nil
	}
	return pglogrepl.ParseLSN(*sent)
}

// terminateWalsender asks the server to end walsender pid, which Floe is
// about to abandon, so that the slot is free for the next connection
// sooner than wal_sender_timeout would free it. Best effort.
func (s *Source) terminateWalsender(pid uint32) {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	conn, err := s.connect(ctx)
	if err != nil {
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend($1)", int64(pid)); err != nil {
		s.log.Debug("terminate stalled walsender", "walsender_pid", pid, "error", err)
	}
}

// stallTimeout is the stall timeout in force: none before PostgreSQL 14,
// whose streams carry no heartbeats.
func stallTimeout(cfg Config, messages bool) time.Duration {
	if !messages {
		return 0
	}
	return cfg.StallTimeout
}

// closeConn closes the replication connection, waiting at most
// probeTimeout for the server to take the goodbye (a stalled peer may
// never read it).
func closeConn(conn *pgconn.PgConn) {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	_ = conn.Close(ctx)
}
