package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
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
// StallTimeout/2 and again at StallTimeout while Floe waited for it, Floe
// looks at its walsender on a separate connection (see advancing): one
// that works meanwhile (its sent_lsn moves, or it is busy rather than
// waiting) is going through WAL that yields nothing for Floe, such as a
// long transaction of other tables, and the wait starts over. Without this
// a long silent stretch of WAL would look like a stall, and reconnecting
// to the same WAL would repeat it forever. Nor is it a stall when the
// walsender waits for WAL while the oldest heartbeat not yet delivered
// ends beyond what the server has flushed: a walsender decodes flushed WAL
// only, a heartbeat (like any commit under synchronous_commit = off) is
// flushed by the WAL writer, later, which takes seconds on a loaded
// machine, and reconnecting cannot make it readable sooner; the wait
// starts over, for as long as the server does not flush (lag then grows
// and the metrics show it). A walsender that does not work,
// is gone, or a server that does not answer within probeTimeout means a
// stall, unless a message arrived while Floe looked: the looks take time,
// and a walsender that has just sent what it had waits for WAL again, so
// the stream reads once more, for stallRecheck, before it decides. On a
// stall the walsender is terminated (best effort, to free the slot) and
// Stream fails with a capture.StallError, which the caller treats as a
// lost connection. A stall is detected StallTimeout after the last
// message, later by up to 2 x probeTimeout + stallRecheck when the server
// answers slowly.
//
// Time spent handing batches downstream (backpressure) is not silence.

// heartbeatPrefix is the logical message prefix of Floe's heartbeats.
const heartbeatPrefix = "floe.heartbeat"

// heartbeatSQL writes a non-transactional logical message; it reaches the
// stream as a Message whose LSN can be acknowledged even when no captured
// table changes. $1 is heartbeatContent.
const heartbeatSQL = "SELECT pg_logical_emit_message(false, '" + heartbeatPrefix + "', $1)::text"

// heartbeatTxSQL writes a transactional logical message, for servers whose
// pgoutput has no "messages" option (PostgreSQL 13): the message itself is
// not sent, but the transaction it makes is, as an empty Begin/Commit
// (pgoutput skips empty transactions only since 15), and its commit
// becomes the empty Batch. Its content cannot settle a debt, so Liveness
// is not owed for it.
const heartbeatTxSQL = "SELECT pg_logical_emit_message(true, '" + heartbeatPrefix + "', $1)::text"

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
					s.base.Log.Warn("heartbeat connect failed", "error", err)
				}
				continue
			}
			conn = c
		}
		at := time.Now()
		hctx, cancel := context.WithTimeout(ctx, max(interval, probeTimeout))
		beat := heartbeatSQL
		if !messages {
			beat = heartbeatTxSQL
		}
		var end string
		err := conn.QueryRow(hctx, beat, heartbeatContent(s.cfg.SlotName, at)).Scan(&end)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				s.base.Log.Warn("heartbeat failed", "error", err)
			}
			conn.Close(context.Background())
			conn = nil
			continue
		}
		if messages {
			live.Owe(at)
			if lsn, err := pglogrepl.ParseLSN(end); err == nil {
				s.beats.written(at, lsn)
			}
		}
	}
}

// maxOwedBeats bounds owedBeats: during a long stall the oldest debts are
// the ones that decide.
const maxOwedBeats = 64

// owedBeats are the heartbeats written and not yet delivered, oldest
// first, each with the WAL position its record ends at. Heartbeats are
// written one at a time and delivered in WAL order, so delivering one
// settles every heartbeat written at or before it. Safe for concurrent
// use (the heartbeat goroutine writes, the receiving one delivers).
type owedBeats struct {
	mu        sync.Mutex
	beats     []owedBeat
	delivered time.Time // the newest heartbeat delivered
}

type owedBeat struct {
	at  time.Time
	end pglogrepl.LSN
}

// written records a heartbeat written at at, ending at end. One the
// stream already delivered (it can arrive before its writer returns) is
// not owed.
func (o *owedBeats) written(at time.Time, end pglogrepl.LSN) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !at.After(o.delivered) || len(o.beats) >= maxOwedBeats {
		return
	}
	o.beats = append(o.beats, owedBeat{at: at, end: end})
}

// deliver settles the heartbeats written at or before at.
func (o *owedBeats) deliver(at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if at.After(o.delivered) {
		o.delivered = at
	}
	n := 0
	for n < len(o.beats) && !o.beats[n].at.After(at) {
		n++
	}
	o.beats = append(o.beats[:0], o.beats[n:]...)
}

// oldest returns where the oldest owed heartbeat ends; false when none is
// owed.
func (o *owedBeats) oldest() (pglogrepl.LSN, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.beats) == 0 {
		return 0, false
	}
	return o.beats[0].end, true
}

// stallWatch measures how long the stream has been silent while Floe
// waited for it, and decides when that silence is a stall (see above).
// Used by the receiving goroutine only.
type stallWatch struct {
	s       *Source
	pid     uint32        // the walsender's backend PID
	timeout time.Duration // 0: off
	since   time.Time     // start of the current silence
	first   *walsender    // the walsender seen at timeout/2 of this silence
}

// walsender is what the server shows of Floe's walsender: its sent_lsn
// (pg_stat_replication; NULL unless the role has pg_read_all_stats) and
// its wait event (pg_stat_activity, which shows a role its own sessions).
type walsender struct {
	sent      *pglogrepl.LSN
	waitEvent string
	// flushed is the server's flush position (its replay position on a
	// standby): WAL a walsender may decode.
	flushed pglogrepl.LSN
	err     error
}

// unflushed reports whether a silent walsender is rightly waiting: it
// waits for WAL (a heartbeat cannot be in flight while it is still being
// decoded or sent), and the heartbeat owed longest ends beyond what the
// server has flushed, so no walsender could have read it yet.
func unflushed(beatEnd pglogrepl.LSN, ws walsender) bool {
	return ws.err == nil && ws.waitEvent == "WalSenderWaitForWAL" && ws.flushed != 0 && beatEnd > ws.flushed
}

// heard restarts the silence at at: the server sent something, or a batch
// was handed downstream (time spent waiting on the consumer is not
// silence).
func (w *stallWatch) heard(at time.Time) {
	w.since, w.first = at, nil
}

// check is called whenever a wait for the server timed out. It returns a
// *capture.StallError when the looks at the walsender say the stream has
// stalled (the caller reads once more, since something may have arrived
// while it looked, then calls stalled), or ctx's error.
func (w *stallWatch) check(ctx context.Context) error {
	if w.timeout <= 0 {
		return nil
	}
	silent := time.Since(w.since)
	if silent < w.timeout/2 {
		return nil
	}
	if w.first == nil {
		ws := w.s.lookAt(ctx, w.pid)
		w.first = &ws
		return nil
	}
	if silent < w.timeout {
		return nil
	}
	second := w.s.lookAt(ctx, w.pid)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	working, detail := advancing(*w.first, second)
	if working {
		w.s.base.Log.Debug("stream silent, but the walsender works", "walsender_pid", w.pid, "detail", detail,
			"silent", silent.Round(time.Millisecond).String())
		w.heard(time.Now())
		return nil
	}
	beat, owed := w.s.beats.oldest()
	if owed && unflushed(beat, second) {
		w.s.base.Log.Debug("stream silent: the server has not flushed the WAL of the heartbeat yet", "walsender_pid", w.pid,
			"heartbeat_end", beat.String(), "flushed", second.flushed.String(), "silent", silent.Round(time.Millisecond).String())
		w.heard(time.Now())
		return nil
	}
	detail = fmt.Sprintf("walsender PID %d %s", w.pid, detail)
	if owed {
		// What the looks saw, for whoever reads the log after a stall.
		detail += fmt.Sprintf("; first look: wait event %q, flushed %s; second: flushed %s; the oldest heartbeat owed ends at %s",
			w.first.waitEvent, w.first.flushed, second.flushed, beat)
	}
	if behind := w.s.cfg.Liveness.Behind(); behind > 0 {
		detail = fmt.Sprintf("a heartbeat written %s ago has not arrived; %s", behind.Round(100*time.Millisecond), detail)
	}
	return &capture.StallError{Source: "PostgreSQL at " + w.s.addr(), Silent: silent, Detail: detail}
}

// stalled ends the walsender of a stream check judged stalled (best
// effort, to free the slot), once nothing arrived after the looks either.
func (w *stallWatch) stalled() {
	w.s.terminateWalsender(w.pid)
}

// idleWaits are the wait events of a walsender that has nothing to do
// (waiting for WAL or for the main loop's latch) or cannot send to Floe;
// any other state (no wait event: on CPU; reading WAL; spilling) is work.
var idleWaits = map[string]bool{"WalSenderWaitForWAL": true, "WalSenderMain": true, "WalSenderWriteData": true, "ClientWrite": true}

// advancing decides from two looks at the walsender, a silence of
// StallTimeout/2 apart, whether it is working through WAL that yields
// nothing for Floe (a long transaction of other tables) rather than stuck,
// and says what was seen. Its sent_lsn moving decides when the role may
// see it; otherwise a walsender that was neither idle nor blocked on Floe
// at the second look is taken to work. A walsender that is gone or a
// server that does not answer is stuck.
func advancing(first, second walsender) (bool, string) {
	switch {
	case second.err != nil:
		return false, "could not be checked: " + second.err.Error()
	case first.err != nil:
		return false, "could not be checked: " + first.err.Error()
	case first.sent != nil && second.sent != nil:
		if *second.sent > *first.sent {
			return true, "sent_lsn advanced to " + second.sent.String()
		}
		return false, "stayed at sent_lsn " + second.sent.String()
	case second.waitEvent == "" || !idleWaits[second.waitEvent]:
		return true, fmt.Sprintf("is busy (wait event %q)", second.waitEvent)
	}
	return false, fmt.Sprintf("stayed in wait event %s (grant the role pg_read_all_stats to let Floe read its sent_lsn)", second.waitEvent)
}

// errNoWalsender reports a walsender the server no longer lists.
var errNoWalsender = errors.New("the server lists no such walsender")

// lookAt looks at walsender pid for the stall check (Source.inspect).
func (s *Source) lookAt(ctx context.Context, pid uint32) walsender {
	if s.inspect != nil {
		return s.inspect(ctx, pid)
	}
	return s.inspectWalsender(ctx, pid)
}

// inspectWalsender looks at walsender pid, within probeTimeout.
func (s *Source) inspectWalsender(ctx context.Context, pid uint32) walsender {
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	conn, err := s.connect(pctx)
	if err != nil {
		return walsender{err: err}
	}
	defer conn.Close(context.Background())
	var sent, wait *string
	var flushed string
	err = conn.QueryRow(pctx, `SELECT r.sent_lsn::text, a.wait_event,
			(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_flush_lsn() END)::text
		FROM pg_stat_activity a LEFT JOIN pg_stat_replication r ON r.pid = a.pid WHERE a.pid = $1`, int64(pid)).Scan(&sent, &wait, &flushed)
	if errors.Is(err, pgx.ErrNoRows) {
		return walsender{err: errNoWalsender}
	}
	if err != nil {
		return walsender{err: fmt.Errorf("read pg_stat_activity: %w", err)}
	}
	var ws walsender
	if sent != nil {
		lsn, err := pglogrepl.ParseLSN(*sent)
		if err != nil {
			return walsender{err: fmt.Errorf("parse sent_lsn %q: %w", *sent, err)}
		}
		ws.sent = &lsn
	}
	if wait != nil {
		ws.waitEvent = *wait
	}
	if ws.flushed, err = pglogrepl.ParseLSN(flushed); err != nil {
		return walsender{err: fmt.Errorf("parse flush position %q: %w", flushed, err)}
	}
	return ws
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
		s.base.Log.Debug("terminate stalled walsender", "walsender_pid", pid, "error", err)
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
