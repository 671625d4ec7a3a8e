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
	"github.com/jackc/pgx/v5/pgproto3"
	"golang.org/x/sync/errgroup"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/internal/toolkit"
	"github.com/floe-cdc/floe/capture/jitter"
	"github.com/floe-cdc/floe/schema"
)

// messagesSince is the first major version whose pgoutput streams logical
// messages (the "messages" option).
const messagesSince = 14

// Stream starts logical replication after StartInfo.From and sends one
// Batch per transaction (see the package doc) until ctx is done; it then
// returns ctx.Err(), once the server has released the slot (see
// awaitSlotReleased). It releases the exported snapshot if EndSnapshot was
// not called. Called once.
func (s *Source) Stream(ctx context.Context, out chan<- capture.Batch) error {
	if err := s.life.BeginStream(); err != nil {
		return err
	}
	s.mu.Lock()
	from := s.from
	byName := s.tables.ByID()
	exported := s.exported
	s.mu.Unlock()
	if !exported { // an ExportSnapshot's outlives the stream's start
		if err := s.EndSnapshot(ctx); err != nil {
			s.base.Log.Warn("release exported snapshot", "error", err)
		}
	}

	conn, err := s.connectReplication(ctx)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	pubList := strings.ReplaceAll(pgx.Identifier{s.cfg.PublicationName}.Sanitize(), "'", "''")
	args := []string{"proto_version '1'", "publication_names '" + pubList + "'"}
	messages := serverMajor(conn) >= messagesSince
	if messages {
		args = append(args, "messages 'true'") // heartbeats
	} else {
		s.base.Log.Warn("PostgreSQL before 14 does not stream logical messages: heartbeats arrive as empty transactions, and a stalled stream is noticed only when the connection breaks", "server_version", conn.ParameterStatus("server_version"))
	}
	err = pglogrepl.StartReplication(ctx, conn, s.cfg.SlotName, from.LSN, pglogrepl.StartReplicationOptions{
		Mode: pglogrepl.LogicalReplication, PluginArgs: args,
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("start replication on slot %s at %s: %w", s.cfg.SlotName, from, err)
	}
	s.base.Log.Info("streaming", "slot", s.cfg.SlotName, "publication", s.cfg.PublicationName, "position", from.String(),
		"walsender_pid", conn.PID(), "stall_timeout", stallTimeout(s.cfg, messages).String())

	st := &streamer{
		s: s, conn: conn, out: out, start: from.LSN, last: from.LSN,
		byName: byName, rels: map[uint32]*table{}, ignored: map[uint32]string{}, unreadable: map[uint32]unreadable{},
		ddlNotNull: map[uint32]map[int16]bool{},
		watch:      stallWatch{s: s, pid: conn.PID(), timeout: stallTimeout(s.cfg, messages)},
	}
	started := time.Now()
	st.watch.heard(started)
	st.activity.Store(started.UnixNano())
	s.cfg.Liveness.Started(0)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return st.run(gctx) })
	g.Go(func() error { s.heartbeat(gctx, &st.activity, messages); return nil })
	err = g.Wait()
	if ctx.Err() != nil {
		s.cfg.Liveness.Ended(nil)
	} else {
		s.cfg.Liveness.Ended(err)
	}
	if ctx.Err() != nil {
		// Report the last acknowledgement before leaving, so a restart
		// does not replay what is already durable.
		if serr := st.sendStatus(); serr != nil {
			s.base.Log.Debug("final standby status", "error", serr)
		}
		closeConn(conn)
		s.awaitSlotReleased(conn.PID())
		return ctx.Err()
	}
	return err
}

// slotReleaseTimeout bounds how long a stopped Stream waits for its
// walsender to release the slot.
const slotReleaseTimeout = 10 * time.Second

// awaitSlotReleased waits until walsender pid, whose connection a stopped
// Stream has closed, no longer holds the slot. The server ends the
// walsender a moment after the connection closes, on a busy machine
// long enough for a Stream started at once (a restart, the resume of
// the conformance tests) to be refused the slot: "replication slot ...
// is active for PID ...". A failed check, or a walsender still there
// after slotReleaseTimeout, is only logged: the next Stream's start then
// fails, and its caller retries.
func (s *Source) awaitSlotReleased(pid uint32) {
	ctx, cancel := context.WithTimeout(context.Background(), slotReleaseTimeout)
	defer cancel()
	conn, err := s.connect(ctx)
	if err != nil {
		s.base.Log.Debug("check that the stopped stream released its slot", "slot", s.cfg.SlotName, "error", err)
		return
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for {
		var held bool
		err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active_pid = $2)`,
			s.cfg.SlotName, int32(pid)).Scan(&held)
		switch {
		case err != nil:
			s.base.Log.Debug("check that the stopped stream released its slot", "slot", s.cfg.SlotName, "error", err)
			return
		case !held:
			return
		}
		select {
		case <-ctx.Done():
			s.base.Log.Warn("the stopped stream's walsender still holds the replication slot; a stream started now waits for it",
				"slot", s.cfg.SlotName, "walsender_pid", pid, "waited", slotReleaseTimeout.String())
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// serverMajor returns the server's major version, 0 if unknown.
func serverMajor(conn *pgconn.PgConn) int {
	v := conn.ParameterStatus("server_version")
	end := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(v)
	}
	n, _ := strconv.Atoi(v[:end])
	return n
}

// Ack marks everything at or before pos as durable downstream; the next
// standby status update reports it as written, flushed and applied. Acks
// never move the position backwards. Safe for concurrent use.
func (s *Source) Ack(pos capture.Position) {
	lsn := uint64(asPosition(pos).LSN)
	for {
		cur := s.acked.Load()
		if lsn <= cur || s.acked.CompareAndSwap(cur, lsn) {
			return
		}
	}
}

// Close releases the snapshot resources. A running Stream closes its own
// connection when its context ends. Safe to call more than once.
func (s *Source) Close() error {
	if !s.life.BeginClose() {
		return nil
	}
	return s.EndSnapshot(context.Background())
}

// streamer is the state of one replication session.
type streamer struct {
	s     *Source
	conn  *pgconn.PgConn
	out   chan<- capture.Batch
	start pglogrepl.LSN // batches at or before it are skipped
	last  pglogrepl.LSN // position of the last batch emitted
	// synced is the WAL end of the last Sync batch emitted for a keepalive.
	synced pglogrepl.LSN

	byName     map[capture.TableID]*table
	rels       map[uint32]*table     // relation id -> captured table
	ignored    map[uint32]string     // relation ids of tables not captured
	unreadable map[uint32]unreadable // relation ids whose changes are OpUnreadable (relation)
	// ddlNotNull is, per relation id of a captured table, each column's
	// NOT NULL (by attnum) in the last DDL message of the stream that
	// named the table: its nullability at that position, which the next
	// Relation message takes instead of the catalog's now (a replay may
	// predate a later SET or DROP NOT NULL). Every ALTER TABLE emits a
	// message, so it holds until the next one.
	ddlNotNull map[uint32]map[int16]bool

	txn        *txnState
	nextStatus time.Time
	sentLSN    uint64       // the LSN of the last standby status sent
	sentAt     time.Time    // when it was sent
	activity   atomic.Int64 // unix nanos of the last emitted batch (or heartbeat)
	watch      stallWatch
	// endAt is when the server's WAL end was last given to Liveness.
	endAt time.Time
	// txnChanges is the number of changes of the last transaction
	// emitted (at most changesHint): the capacity a transaction's changes
	// start with, rather than growing one append at a time.
	txnChanges int
}

// changesHint bounds streamer.txnChanges: a large transaction after a
// small one grows its slice as before; a small one after a large one
// reserves no more than this.
const changesHint = 256

// serverEnd gives Liveness the server's WAL end, from a message that
// arrived at now: at every keepalive, and from data messages at most once
// a second (it costs a lock and an allocation, which a message each would
// add to the hot path).
func (st *streamer) serverEnd(end pglogrepl.LSN, keepalive bool, now time.Time) {
	if keepalive || now.Sub(st.endAt) >= time.Second {
		st.endAt = now
		st.s.cfg.Liveness.ServerEnd(Position{LSN: end})
	}
}

type txnState struct {
	finalLSN   pglogrepl.LSN
	commitTime time.Time
	part       toolkit.Part // changes not yet emitted
	split      bool         // a part was emitted
	skip       bool
	// layouts are the layouts DDL messages of this transaction left
	// (renamed columns), not yet emitted: on a Barrier batch before the
	// transaction's next change (see barrier), or with its commit.
	layouts map[capture.TableID]*schema.Table
}

// run reads the replication stream until ctx is done or it fails.
//
// The wait for the server is bounded by a read deadline on the
// connection, moved only when it has passed (or the next status update
// is due before it), and ctx's end moves it to now: a context with a
// deadline for every message would cost a timer and a cancellation
// watch per message. A read that times out, even in the middle of a
// message, resumes where it stopped.
func (st *streamer) run(ctx context.Context) error {
	st.nextStatus = time.Now().Add(st.s.cfg.StatusInterval)
	nc := st.conn.Conn()
	stop := context.AfterFunc(ctx, func() { _ = nc.SetReadDeadline(time.Now()) })
	defer func() {
		stop()
		_ = nc.SetReadDeadline(time.Time{})
	}()
	var wake time.Time // the read deadline set on nc
	for {
		// A new acknowledgement is reported within ackReportDelay, not
		// only every StatusInterval: the slot then releases WAL sooner and
		// a restart replays less.
		now := time.Now()
		fresh := st.s.acked.Load() > st.sentLSN
		if !now.Before(st.nextStatus) || (fresh && now.Sub(st.sentAt) >= ackReportDelay) {
			if err := st.sendStatus(); err != nil {
				return err
			}
		}
		// Wake at least every ackReportDelay: an ack that arrives while
		// this loop waits for the server is then reported promptly.
		if !now.Before(wake) || st.nextStatus.Before(wake) {
			wake = st.nextStatus
			if soon := now.Add(ackReportDelay); soon.Before(wake) {
				wake = soon
			}
			if err := nc.SetReadDeadline(wake); err != nil {
				return fmt.Errorf("set replication read deadline: %w", err)
			}
			// ctx may have ended before the deadline was set.
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		msg, err := st.conn.ReceiveMessage(context.Background())
		if err != nil && pgconn.Timeout(err) && ctx.Err() == nil {
			stall := st.watch.check(ctx)
			if stall == nil {
				continue
			}
			if errors.Is(stall, ctx.Err()) {
				return stall
			}
			// The looks at the walsender took a while, and what it sent
			// meanwhile (having sent it, it waits) is unread: one more
			// short read decides.
			wake = time.Now().Add(stallRecheck)
			if err := nc.SetReadDeadline(wake); err != nil {
				return fmt.Errorf("set replication read deadline: %w", err)
			}
			if msg, err = st.conn.ReceiveMessage(context.Background()); err != nil && pgconn.Timeout(err) && ctx.Err() == nil {
				st.watch.stalled()
				return stall
			}
			if err == nil {
				st.s.base.Log.Debug("stream silent, but a message arrived while the walsender was looked at", "walsender_pid", st.watch.pid)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("receive replication message: %w", err)
		}
		// One clock reading per message serves every record of it: four
		// were 5 % of the CPU of the bench's PostgreSQL catch-up.
		heardAt := time.Now()
		st.watch.heard(heardAt)
		st.s.cfg.Liveness.Heard(heardAt)
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			cd, err := ParseCopyData(m.Data)
			if err != nil {
				return err
			}
			if ka := cd.Keepalive; cd.Kind == pglogrepl.PrimaryKeepaliveMessageByteID {
				st.serverEnd(ka.ServerWALEnd, true, heardAt)
				if ka.ReplyRequested {
					if err := st.sync(ctx, ka.ServerWALEnd); err != nil {
						return err
					}
					if err := st.sendStatus(); err != nil {
						return err
					}
				}
			}
			if xld := cd.XLogData; cd.Kind == pglogrepl.XLogDataByteID {
				st.serverEnd(xld.ServerWALEnd, false, heardAt)
				if err := st.handle(ctx, xld.WALData); err != nil {
					return err
				}
			}
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("replication stream: %w", pgconn.ErrorResponseToPgError(m))
		case *pgproto3.CopyDone:
			return errors.New("replication stream: server ended the stream")
		}
	}
}

// SyncPrefix is the prefix of a logical message that asks Floe to commit
// every table up to the message and acknowledge it at once. The LSN that
//
//	SELECT pg_logical_emit_message(false, 'floe.sync', 'any text')
//
// returns is the one the slot's confirmed_flush_lsn reaches once
// everything committed before the message is in Iceberg.
const SyncPrefix = "floe.sync"

// sync answers a keepalive that asks for a reply: the walsender has sent
// everything up to walEnd and waits for it to be confirmed (at shutdown it
// waits for exactly that before it exits). Outside a transaction every
// change before walEnd has been emitted, so an empty Sync batch at walEnd
// lets the consumer commit its quiet tables there and acknowledge it.
//
// walEnd may be the position of the last batch (nothing was written after
// its transaction): the Sync batch then repeats that position. One Sync
// is emitted per walEnd, however often the walsender asks.
func (st *streamer) sync(ctx context.Context, walEnd pglogrepl.LSN) error {
	if st.txn != nil || walEnd < st.last || walEnd <= st.synced || uint64(walEnd) <= st.s.acked.Load() {
		return nil
	}
	st.last, st.synced = walEnd, walEnd
	return st.emit(ctx, capture.Batch{Position: Position{LSN: walEnd}, CommitTime: time.Now().UTC(), Sync: true})
}

// sendStatus reports the last acknowledged LSN as written, flushed and
// applied (0 before the first ack, which the server ignores).
func (st *streamer) sendStatus() error {
	lsn := pglogrepl.LSN(st.s.acked.Load())
	err := pglogrepl.SendStandbyStatusUpdate(context.Background(), st.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: lsn, WALFlushPosition: lsn, WALApplyPosition: lsn,
	})
	if err != nil {
		return fmt.Errorf("send standby status: %w", err)
	}
	st.sentLSN, st.sentAt = uint64(lsn), time.Now()
	st.nextStatus = time.Now().Add(st.s.cfg.StatusInterval)
	return nil
}

// stallRecheck is how long the stream reads once more before a silence
// the walsender's looks judged a stall is taken for one: a message that
// arrived during the looks is already on the connection.
const stallRecheck = 100 * time.Millisecond

// ackReportDelay bounds how long a new acknowledgement waits before a
// standby status update reports it.
const ackReportDelay = 200 * time.Millisecond

// emit sends b downstream, keeping the standby status flowing while the
// consumer applies backpressure.
func (st *streamer) emit(ctx context.Context, b capture.Batch) error {
	jitter.At(jitter.SourceEmit)
	for {
		timer := time.NewTimer(max(time.Until(st.nextStatus), time.Millisecond))
		select {
		case st.out <- b:
			timer.Stop()
			now := time.Now()
			st.activity.Store(now.UnixNano())
			st.watch.heard(now)
			return nil
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
			if err := st.sendStatus(); err != nil {
				return err
			}
		}
	}
}

// handle processes one pgoutput message.
func (st *streamer) handle(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	msg, err := parseMessage(data)
	if err != nil {
		return fmt.Errorf("parse pgoutput message %q: %w", data[0], err)
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		return st.relation(ctx, m)
	case *pglogrepl.BeginMessage:
		if st.txn != nil {
			return fmt.Errorf("pgoutput: begin of %s inside an open transaction", m.FinalLSN)
		}
		st.txn = &txnState{finalLSN: m.FinalLSN, commitTime: m.CommitTime.UTC(), skip: m.FinalLSN < st.start}
		return nil
	case *pglogrepl.CommitMessage:
		txn := st.txn
		st.txn = nil
		if txn == nil {
			return fmt.Errorf("pgoutput: commit at %s without begin", m.CommitLSN)
		}
		for rel, u := range st.unreadable {
			if u.untilCommit {
				delete(st.unreadable, rel)
			}
		}
		if txn.skip || m.TransactionEndLSN <= st.last {
			return nil
		}
		if len(txn.part.Changes) > 0 {
			st.txnChanges = min(len(txn.part.Changes), changesHint)
		}
		st.last = m.TransactionEndLSN
		return st.emit(ctx, capture.Batch{Changes: txn.part.Changes, Position: Position{LSN: m.TransactionEndLSN}, CommitTime: m.CommitTime.UTC(),
			Barrier: len(txn.layouts) > 0, Layouts: txn.layouts})
	case *pglogrepl.LogicalDecodingMessage:
		if m.Prefix == DDLPrefix {
			return st.ddl(ctx, m)
		}
		written, ours := parseHeartbeat(st.s.cfg.SlotName, m)
		if ours {
			st.s.cfg.Liveness.Delivered(written)
			st.s.beats.deliver(written)
		} else {
			written = time.Now()
		}
		if m.Transactional || st.txn != nil || m.LSN <= st.last {
			return nil
		}
		st.last = m.LSN
		return st.emit(ctx, capture.Batch{Position: Position{LSN: m.LSN}, CommitTime: written.UTC(), Sync: m.Prefix == SyncPrefix})
	case *pglogrepl.InsertMessage:
		return st.change(ctx, m.RelationID, capture.OpInsert, func(t *table) (capture.Change, error) {
			after, err := decodeTuple(t, m.Tuple)
			if err != nil {
				return capture.Change{Raw: rawTuple(t, m.Tuple)}, err
			}
			return capture.Change{Op: capture.OpInsert, After: after}, nil
		})
	case *pglogrepl.UpdateMessage:
		return st.change(ctx, m.RelationID, capture.OpUpdate, func(t *table) (capture.Change, error) {
			ch, err := decodeUpdate(t, m)
			if err != nil {
				ch.Raw = rawTuple(t, m.NewTuple)
			}
			return ch, err
		})
	case *pglogrepl.DeleteMessage:
		return st.change(ctx, m.RelationID, capture.OpDelete, func(t *table) (capture.Change, error) {
			return decodeDelete(t, m)
		})
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			if err := st.change(ctx, id, capture.OpTruncate, func(*table) (capture.Change, error) {
				return capture.Change{Op: capture.OpTruncate}, nil
			}); err != nil {
				return err
			}
		}
		return nil
	}
	return nil // Type and Origin messages carry nothing Floe needs
}

// change decodes one row change (op) of relation rel with build and adds
// it to the open transaction, emitting a part first when the transaction
// has reached MaxBatchChanges, and after it when the part has reached
// MaxBatchBytes. A value the column's decoder rejects does
// not end the stream: the change carries the error (capture.Change.Err)
// and the consumer decides whether it needs it.
func (st *streamer) change(ctx context.Context, rel uint32, op capture.Op, build func(*table) (capture.Change, error)) error {
	txn := st.txn
	if txn == nil {
		return fmt.Errorf("pgoutput: row change outside a transaction")
	}
	t, ok := st.rels[rel]
	if !ok {
		if _, known := st.ignored[rel]; known {
			return nil
		}
		return fmt.Errorf("pgoutput: change for relation %d before its Relation message", rel)
	}
	if txn.skip {
		return nil
	}
	if len(txn.layouts) > 0 {
		if err := st.barrier(ctx); err != nil {
			return err
		}
	}
	var ch capture.Change
	if u, ok := st.unreadable[rel]; ok {
		ch = capture.Change{Table: t.id, Op: capture.OpUnreadable, Err: u.err}
	} else {
		var err error
		ch, err = build(t)
		if err != nil {
			var bad *schema.ValueError
			if !errors.As(err, &bad) {
				return fmt.Errorf("decode change of %s in transaction %s: %w", t.id, txn.finalLSN, err)
			}
			ch = capture.Change{Op: op, Err: err, Raw: ch.Raw}
		}
		ch.Table, ch.Schema = t.id, t.layout
	}
	lim := toolkit.PartLimits{MaxChanges: st.s.cfg.MaxBatchChanges, MaxBytes: st.s.cfg.MaxBatchBytes, Hint: st.txnChanges}
	return txn.part.Add(ch, lim, func(changes []capture.Change) error { return st.emitPart(ctx, txn, changes) })
}

// emitPart emits changes, the open transaction's so far, as a part
// (More set) with a provisional position: after every earlier
// transaction, not after this one's final position.
func (st *streamer) emitPart(ctx context.Context, txn *txnState, changes []capture.Change) error {
	part := capture.Batch{Changes: changes, Position: Position{LSN: txn.finalLSN + 1}, CommitTime: txn.commitTime, More: true}
	txn.split = true
	return st.emit(ctx, part)
}
