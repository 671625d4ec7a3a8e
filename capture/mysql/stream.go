package mysql

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/google/uuid"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/internal/toolkit"
	"github.com/floe-cdc/floe/capture/jitter"
	"github.com/floe-cdc/floe/schema"
)

// Stream reads the binlog after StartInfo.From and sends one Batch per
// transaction (see the package doc) until ctx is done; it then returns
// ctx.Err(). Called once.
func (s *Source) Stream(ctx context.Context, out chan<- capture.Batch) error {
	if err := s.life.BeginStream(); err != nil {
		return err
	}
	s.mu.Lock()
	from, flavor := s.from, s.flavor
	byName := s.tables.ByID()
	marks := maps.Clone(s.marks) // the stream forgets those it passed
	snapshotted, serverAt := s.snapshotted, s.serverAt
	s.mu.Unlock()
	if !besidePending(marks) {
		_ = s.EndSnapshot(ctx) // else the coordinator ends it (beside.go)
	}
	windows := besidePending(marks) && flavor == FlavorMySQL
	if windows {
		s.progress.advance(from) // window.go
		defer func() { s.progress.end(ctx.Err()) }()
	}

	// Closed before the syncer is (defers run last first): go-mysql's
	// goroutine may wait in prefetch.decode, and Close waits for it.
	stop := make(chan struct{})
	ahead := newPrefetch(stop)
	syncer := s.binlogSyncer(flavor, ahead)
	stalled := false
	defer func() {
		if stalled {
			// Closing kills the dump connection through a new connection
			// to the server, which a stalled server may keep waiting for
			// up to StallTimeout: do it aside, the caller reconnects now.
			go syncer.Close()
			return
		}
		syncer.Close()
	}()
	defer close(stop)
	bs, err := startSync(syncer, from)
	if err != nil {
		return s.streamError(from, err)
	}
	s.base.Log.Info("streaming", "flavor", flavor, "server_id", s.cfg.ServerID, "position", from.String(),
		"stall_timeout", s.cfg.StallTimeout.String())
	live := s.cfg.Liveness
	live.Started(s.cfg.HeartbeatInterval)
	lastEvent := time.Now()

	st := &streamer{s: s, out: out, cur: from, last: from, byName: byName,
		versions: map[string]*table{}, mapped: map[capture.TableID]bool{}, maps: map[uint64]*table{}, ignored: map[uint64]bool{}, decs: map[uint64]*rowDecoders{},
		lastDecs: map[*table]*rowDecoders{}, lastEmit: time.Now(), marks: marks, snapshotted: snapshotted, serverAt: serverAt, windows: windows}
	if from.Kind == KindFile {
		st.file = from.File
	}
	for {
		ev, err := bs.GetEvent(ctx)
		if err != nil {
			if ctx.Err() != nil {
				live.Ended(nil)
				return ctx.Err()
			}
			if silent := time.Since(lastEvent); silent >= s.cfg.StallTimeout && readTimedOut(err) {
				stalled = true
				err = &capture.StallError{Source: "MySQL at " + s.addr(), Silent: silent,
					Detail: fmt.Sprintf("no event and no heartbeat, which the server sends every %s when idle; %v", s.cfg.HeartbeatInterval, err)}
				live.Ended(err)
				return err
			}
			err = s.streamError(st.cur, err)
			live.Ended(err)
			return err
		}
		lastEvent = time.Now()
		live.Delivered(lastEvent)
		err = st.handle(ctx, ev)
		ahead.taken(ev)
		if err != nil {
			if ctx.Err() != nil {
				live.Ended(nil)
				return ctx.Err()
			}
			live.Ended(err)
			return err
		}
	}
}

// binlogSyncer returns the binlog connection of Stream (not connected yet)
// for a server of flavor.
func (s *Source) binlogSyncer(flavor string, ahead *prefetch) *replication.BinlogSyncer {
	return replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID:  s.cfg.ServerID,
		Flavor:    flavor,
		Host:      s.cfg.Host,
		Port:      uint16(s.cfg.Port),
		User:      s.cfg.User,
		Password:  s.cfg.Password,
		Localhost: "floe",
		Charset:   "utf8mb4",
		// Not ParseTime: go-mysql builds a DATETIME's time.Time with
		// time.Date, which moves an invalid date that ALLOW_INVALID_DATES
		// let in ('2021-02-30') to a valid one; its text keeps it, and
		// mysqltype gives it the zero-date treatment.
		ParseTime:               false,
		UseDecimal:              false,
		TimestampStringLocation: time.UTC,
		RenderJSONAsMySQLText:   true,
		// The server sends a heartbeat event whenever it has sent nothing
		// for HeartbeatPeriod; every read (go-mysql arms the deadline as
		// each read starts, so time spent handing events downstream does
		// not count) must bring something within ReadTimeout. A dump
		// thread that stalls, or a connection that silently drops
		// everything, therefore fails the stream within StallTimeout.
		HeartbeatPeriod:  s.cfg.HeartbeatInterval,
		ReadTimeout:      s.cfg.StallTimeout,
		DisableRetrySync: true,
		// go-mysql reads and decodes events ahead into a channel of
		// EventCacheCount; the rows events in it are bounded by bytes
		// (prefetch.go). The coordinator's queue, bounded by bytes too,
		// buffers the decoded batches.
		EventCacheCount:     prefetchEvents,
		RowsEventDecodeFunc: ahead.decode,
		Logger:              s.base.Log.With("component", "binlog"),
		Option: func(c *client.Conn) error {
			// Sessions of the dump connection read TIMESTAMP defaults in UTC too.
			_, err := c.Execute("SET time_zone = '+00:00'")
			return err
		},
	})
}

// startSync starts syncer's binlog dump after from.
func startSync(syncer *replication.BinlogSyncer, from Position) (*replication.BinlogStreamer, error) {
	switch from.Kind {
	case KindFile:
		return syncer.StartSync(gomysql.Position{Name: from.File, Pos: from.Offset})
	case KindMariaDB:
		set, err := gomysql.ParseMariadbGTIDSet(positionBody(from))
		if err != nil {
			return nil, err
		}
		return syncer.StartSyncGTID(set)
	case KindGTID:
		return syncer.StartSyncGTID(from.GTIDs.Clone())
	default:
		return nil, fmt.Errorf("invalid start position %s", from)
	}
}

// positionBody is the GTID list of a MariaDB position ("0-1-5,1-2-3").
func positionBody(p Position) string {
	parts := make([]string, len(p.Maria))
	for i, g := range p.Maria {
		parts[i] = g.String()
	}
	return strings.Join(parts, ",")
}

// erSlaveSameID is MariaDB's ER_SLAVE_SAME_ID, the error the server sends
// a binlog reader it drops because another one connected with the same
// server id (MySQL sends ER_MASTER_FATAL_ERROR_READING_BINLOG instead).
const erSlaveSameID = 4052

// streamError explains binlog failures the user can act on.
func (s *Source) streamError(at Position, err error) error {
	var me *gomysql.MyError
	if errors.As(err, &me) {
		msg := strings.ToLower(me.Message)
		switch {
		case me.Code == erSlaveSameID || strings.Contains(msg, "same server"): // 1236 with "same server"; MariaDB 10.x: 4052
			return Problem{Field: "source.server-id",
				Message: fmt.Sprintf("another replica uses server id %d: %s", s.cfg.ServerID, me.Message),
				Fix:     "give this pipeline a source.server-id no other replica or pipeline uses"}
		case me.Code == gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG &&
			(strings.Contains(msg, "purged") || strings.Contains(msg, "could not find") || strings.Contains(msg, "not find first log")):
			return fmt.Errorf("binlog stream at %s: %s: %w", at, me.Message, &PurgedError{Resume: at.String(), Tables: s.tables.Names()})
		case me.Code == gomysql.ER_ACCESS_DENIED_ERROR || me.Code == gomysql.ER_SPECIFIC_ACCESS_DENIED_ERROR:
			return Problem{Field: "source.username",
				Message: fmt.Sprintf("user %q may not read the binlog: %s", s.cfg.User, me.Message),
				Fix:     fmt.Sprintf("run GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '%s'", s.cfg.User)}
		}
	}
	if errors.Is(err, gomysql.ErrBadConn) {
		return fmt.Errorf("binlog stream at %s: %w", at, err) // the connection broke
	}
	return fmt.Errorf("binlog stream at %s: %w (if another replica or pipeline registered server id %d, give this one a different source.server-id)", at, err, s.cfg.ServerID)
}

// Ack records pos as durable downstream. MySQL keeps no replica state on
// the server, so nothing is sent; acks never move backwards.
func (s *Source) Ack(pos capture.Position) {
	p := asPosition(pos)
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	if s.acked == nil || p.Compare(*s.acked) > 0 {
		s.acked = &p
	}
}

// Acked returns the last acknowledged position (nil before the first).
func (s *Source) Acked() capture.Position {
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	if s.acked == nil {
		return nil
	}
	return *s.acked
}

// streamer is the state of one binlog session.
type streamer struct {
	s    *Source
	out  chan<- capture.Batch
	cur  Position // after the last complete transaction seen (captured or not)
	last Position // position of the last batch emitted (or From)
	file string   // current binlog file (file positions)

	// byName holds each captured table's current layout version: the
	// discovered one until a TABLE_MAP states another (see tablemap.go).
	byName map[capture.TableID]*table
	// versions are the layout versions rebuilt from TABLE_MAP events, by
	// tableMapKey (the discovered layout when they agree with it).
	versions map[string]*table
	// mapped holds the tables a TABLE_MAP event was seen for this session.
	mapped  map[capture.TableID]bool
	maps    map[uint64]*table       // TABLE_MAP id -> captured table, valid layout
	ignored map[uint64]bool         // TABLE_MAP ids of tables not captured
	decs    map[uint64]*rowDecoders // TABLE_MAP id -> decoders for its labels
	// lastDecs are each table's decoders of its last TABLE_MAP, reused
	// while the labels stay the same.
	lastDecs map[*table]*rowDecoders

	txn      *txnState
	lastEmit time.Time
	// marks are the chunk watermarks of tables whose snapshot chunks may
	// hold changes the stream has not passed yet; a table's entry goes
	// once the stream is past its latest watermark.
	marks map[capture.TableID]*chunkMarks
	// snapshotted are the tables whose chunks this session read, all after
	// serverAt, the server's position at Start (see statementChanges).
	snapshotted map[capture.TableID]bool
	serverAt    Position
	// windows is set while chunks read in watermark windows may wait for
	// the stream's progress (window.go).
	windows  bool
	checksum bool // events end with a CRC32 (the format description says)
	// txnChanges is the number of changes of the last transaction
	// emitted (at most changesHint): the capacity a transaction's changes
	// start with, rather than growing one append at a time.
	txnChanges int
}

// changesHint bounds streamer.txnChanges: a large transaction after a
// small one grows its slice as before; a small one after a large one
// reserves no more than this.
const changesHint = 256

type txnState struct {
	final Position // GTID kinds: the position once this transaction commits
	// sid, tag and gno are a MySQL transaction's GTID (final.Kind
	// KindGTID), for own.
	sid     uuid.UUID
	tag     gomysql.Tag
	gno     int64
	hasGTID bool
	begun   bool                              // inside BEGIN ... COMMIT (MariaDB: a non-standalone GTID event)
	part    toolkit.Part                      // changes not yet emitted
	parts   int                               // parts already emitted with More
	barrier bool                              // a DDL of a captured table: emitted as a Barrier
	layouts map[capture.TableID]*schema.Table // layouts a DDL left (capture.Batch.Layouts)
	dropped []capture.TableID                 // captured tables a DDL dropped (capture.Batch.Dropped)
	added   []capture.TableID                 // new tables a DDL created (capture.Batch.Added)
	commit  time.Time                         // MySQL immediate commit timestamp, when known
}

// own is the transaction itself, what the chunk watermarks are asked
// whether they hold (notAfter): for MySQL a GTID set of its GTID alone (a
// watermark with a hole may hold it without holding every transaction
// before it, or hold those without it); otherwise final. It is built when
// asked, which only a table with chunk watermarks does.
func (txn *txnState) own() Position {
	if txn.final.Kind != KindGTID {
		return txn.final
	}
	set := gomysql.NewMysqlGTIDSet()
	set.AddGTIDWithTag(txn.sid, txn.tag, txn.gno)
	return Position{Kind: KindGTID, GTIDs: &set}
}

// handle processes one binlog event.
func (st *streamer) handle(ctx context.Context, ev *replication.BinlogEvent) error {
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		st.file = string(e.NextLogName)
	case *replication.FormatDescriptionEvent:
		st.checksum = e.ChecksumAlgorithm == replication.BINLOG_CHECKSUM_ALG_CRC32
		return st.headerPassed(ctx, ev.Header)
	case *replication.PreviousGTIDsEvent:
		return st.headerPassed(ctx, ev.Header)
	case *replication.ExecuteLoadQueryEvent:
		return st.loadQuery(ctx, ev)
	case *replication.MariadbGTIDEvent:
		st.txn = &txnState{hasGTID: true, begun: !e.IsStandalone(),
			final: Position{Kind: KindMariaDB, Maria: addMaria(st.cur.Maria, MariaGTID{Domain: e.GTID.DomainID, Server: e.GTID.ServerID, Seq: e.GTID.SequenceNumber})}}
	case *replication.GTIDEvent:
		return st.mysqlGTID(e, gomysql.Tag{})
	case *replication.GtidTaggedLogEvent:
		return st.mysqlGTID(&e.GTIDEvent, e.Tag)
	case *replication.QueryEvent:
		return st.query(ctx, ev.Header, e)
	case *replication.TableMapEvent:
		return st.tableMap(ctx, e)
	case *replication.RowsEvent:
		if ev.Header.EventType == replication.PARTIAL_UPDATE_ROWS_EVENT {
			return errors.New("binlog holds a partial JSON update (binlog_row_value_options=PARTIAL_JSON); fix: SET GLOBAL binlog_row_value_options='' so updates carry full images")
		}
		return st.rows(ctx, ev.Header, e)
	case *replication.XIDEvent:
		return st.commit(ctx, ev.Header)
	case *replication.TransactionPayloadEvent:
		for _, inner := range e.Events {
			if err := st.handle(ctx, inner); err != nil {
				return err
			}
		}
	default:
		switch ev.Header.EventType {
		case replication.HEARTBEAT_EVENT, replication.HEARTBEAT_LOG_EVENT_V2:
			if st.txn == nil && st.cur.Compare(st.last) > 0 {
				return st.emit(ctx, capture.Batch{Position: st.cur, CommitTime: time.Now().UTC()})
			}
		}
	}
	return nil
}

// headerPassed notes, in a stream of file positions with chunks waiting
// in watermark windows, that the stream has read everything up to the
// end of h, a header event of a binlog file (its format description or
// previous-GTIDs event, not the artificial ones the server sends first,
// whose LogPos is 0). After a rotation the server's position, and so a
// window's watermark, is there, and no transaction may follow for a
// while: the window's chunk then waits no longer for one.
func (st *streamer) headerPassed(ctx context.Context, h *replication.EventHeader) error {
	if !st.windows || st.txn != nil || st.cur.Kind != KindFile || h.LogPos == 0 {
		return nil
	}
	pos := Position{Kind: KindFile, File: st.file, Offset: h.LogPos}
	if pos.Compare(st.cur) <= 0 {
		return nil
	}
	st.s.progress.advance(pos) // window.go
	if st.s.woken(pos) && pos.Compare(st.last) > 0 {
		return st.emit(ctx, capture.Batch{Position: pos, CommitTime: time.Now().UTC()})
	}
	return nil
}

func (st *streamer) mysqlGTID(e *replication.GTIDEvent, tag gomysql.Tag) error {
	sid, err := uuid.FromBytes(e.SID)
	if err != nil {
		return fmt.Errorf("binlog GTID event: %w", err)
	}
	var set *gomysql.MysqlGTIDSet
	if st.cur.GTIDs != nil {
		set = st.cur.GTIDs.Clone().(*gomysql.MysqlGTIDSet)
	} else {
		e := gomysql.NewMysqlGTIDSet()
		set = &e
	}
	set.AddGTIDWithTag(sid, tag, e.GNO)
	st.txn = &txnState{hasGTID: true, final: Position{Kind: KindGTID, GTIDs: set}, sid: sid, tag: tag, gno: e.GNO}
	if e.ImmediateCommitTimestamp > 0 {
		st.txn.commit = time.UnixMicro(int64(e.ImmediateCommitTimestamp)).UTC()
	}
	return nil
}

// query handles BEGIN, COMMIT and statements (DDL) of a Query event.
func (st *streamer) query(ctx context.Context, h *replication.EventHeader, e *replication.QueryEvent) error {
	stmt := strings.TrimSpace(string(e.Query))
	switch strings.ToUpper(stmt) {
	case "BEGIN", "START TRANSACTION":
		if st.txn == nil {
			st.txn = &txnState{}
		}
		st.txn.begun = true
		return nil
	case "COMMIT", "ROLLBACK":
		return st.commit(ctx, h)
	}
	if st.txn == nil {
		st.txn = &txnState{}
	}
	changes, err := st.ddl(ctx, h, string(e.Schema), stmt)
	if err != nil {
		return err
	}
	changes = append(changes, st.statementChanges(h, string(e.Schema), stmt)...)
	for _, ch := range changes {
		if err := st.add(ctx, h, ch); err != nil {
			return err
		}
	}
	if st.txn.begun {
		return nil // a statement inside a transaction; the XID commits it
	}
	return st.commit(ctx, h)
}

// tableMap records which captured table a TABLE_MAP id stands for, after
// checking the event's columns against the discovered layout.
func (st *streamer) tableMap(ctx context.Context, e *replication.TableMapEvent) error {
	id := capture.TableID{Schema: string(e.Schema), Name: string(e.Table)}
	t, ok := st.byName[id]
	if !ok {
		st.ignored[e.TableID] = true
		delete(st.maps, e.TableID)
		return nil
	}
	if len(e.ColumnName) > 0 {
		next, err := st.layoutVersion(ctx, t, e)
		if err != nil {
			return err
		}
		t = next
	} else if diff := layoutDiff(t, e); diff != "" {
		return fmt.Errorf("the layout of %s changed: the binlog at %s has %s, and without binlog_row_metadata=FULL Floe cannot follow the change; set it, then re-snapshot the table with floe resnapshot", id, st.cur, diff)
	}
	d, err := st.s.decoders(t, e, st.lastDecs[t])
	if err != nil {
		return fmt.Errorf("schema change on %s is not supported yet: the binlog at %s has %v; restore the table's previous layout, or re-snapshot the table after the change", id, st.cur, err)
	}
	delete(st.ignored, e.TableID)
	st.maps[e.TableID] = t
	st.decs[e.TableID], st.lastDecs[t] = d, d
	return nil
}

// rows turns one rows event into changes with full images.
func (st *streamer) rows(ctx context.Context, h *replication.EventHeader, e *replication.RowsEvent) error {
	t, ok := st.maps[e.TableID]
	if !ok {
		if st.ignored[e.TableID] {
			return nil
		}
		return fmt.Errorf("binlog rows event for table id %d before its TABLE_MAP event", e.TableID)
	}
	dec := st.decs[e.TableID].dec
	if st.txn == nil {
		st.txn = &txnState{}
	}
	for _, skipped := range e.SkippedColumns {
		if len(skipped) > 0 {
			return fmt.Errorf("binlog rows event of %s lacks columns (binlog_row_image is not FULL); fix: SET GLOBAL binlog_row_image=FULL", t.id)
		}
	}
	// One array holds the event's rows, which are applied together. It is
	// the event's alone: a slab the streamer kept across events would keep
	// the values of all its rows alive, applied or not (2 GiB of 50 MiB
	// values in the bench's largevalues scenario).
	slab := make(toolkit.RowSlab, len(e.Rows)*len(dec))
	decode := func(raw []any, keyOnly bool) (schema.Row, error) {
		if len(raw) != len(dec) {
			return nil, fmt.Errorf("row of %s has %d values, the layout %d columns", t.id, len(raw), len(dec))
		}
		row := slab.Next(len(raw))
		for i, v := range raw {
			if v == nil || (keyOnly && !slices.Contains(t.layout.Key, i)) {
				continue
			}
			val, err := dec[i](v)
			if err != nil {
				err = withRowKey(t, err, func(k int) []byte { return binlogText(raw[k]) })
				return nil, fmt.Errorf("decode %s.%s at %s: %w", t.id, t.layout.Columns[i].Name, st.cur, err)
			}
			row[i] = val
		}
		return row, nil
	}
	changes, err := rowChanges(t, e, decode)
	if err != nil {
		return fmt.Errorf("binlog event %s of %s: %w", h.EventType, t.id, err)
	}
	for _, ch := range changes {
		if err := st.add(ctx, h, ch); err != nil {
			return err
		}
	}
	return nil
}

// rowChanges turns the images of rows event e of table t into changes,
// each image decoded by decode (keyOnly: only the key columns). A value
// decode rejects (a *schema.ValueError) does not fail the event: its
// change carries the error and the row as the binlog holds it
// (capture.Change.Raw: the new image, a delete's old one), and no
// images; except in an old image whose key decodes, which is then given
// as key-only (BeforeKeyOnly), so that a delete, or an update that
// corrects the row, still applies.
func rowChanges(t *table, e *replication.RowsEvent, decode func(raw []any, keyOnly bool) (schema.Row, error)) ([]capture.Change, error) {
	n := len(e.Rows)
	if e.Type() == replication.EnumRowsEventTypeUpdate {
		n /= 2 // before and after images
	}
	out := make([]capture.Change, 0, n)
	dead := func(op capture.Op, err error, raw []any) error {
		var verr *schema.ValueError
		if !errors.As(err, &verr) {
			return err
		}
		out = append(out, capture.Change{Table: t.id, Op: op, Schema: t.layout, Err: err, Raw: rawBinlogRow(t, raw)})
		return nil
	}
	switch e.Type() {
	case replication.EnumRowsEventTypeInsert, replication.EnumRowsEventTypeDelete:
		op := capture.OpInsert
		if e.Type() == replication.EnumRowsEventTypeDelete {
			op = capture.OpDelete
		}
		for _, raw := range e.Rows {
			row, err := decode(raw, false)
			keyOnly := false
			if err != nil && op == capture.OpDelete {
				row, keyOnly, err = oldKey(raw, err, decode)
			}
			if err != nil {
				if err := dead(op, err, raw); err != nil {
					return nil, err
				}
				continue
			}
			ch := capture.Change{Table: t.id, Op: op, Schema: t.layout, After: row}
			if op == capture.OpDelete {
				ch.Before, ch.After, ch.BeforeKeyOnly = row, nil, keyOnly
			}
			out = append(out, ch)
		}
	case replication.EnumRowsEventTypeUpdate:
		if len(e.Rows)%2 != 0 {
			return nil, fmt.Errorf("%d images, want pairs", len(e.Rows))
		}
		for i := 0; i < len(e.Rows); i += 2 {
			after, err := decode(e.Rows[i+1], false)
			var before schema.Row
			keyOnly := false
			if err == nil {
				if before, err = decode(e.Rows[i], false); err != nil {
					before, keyOnly, err = oldKey(e.Rows[i], err, decode)
				}
			}
			if err != nil {
				if err := dead(capture.OpUpdate, err, e.Rows[i+1]); err != nil {
					return nil, err
				}
				continue
			}
			out = append(out, capture.Change{Table: t.id, Op: capture.OpUpdate, Schema: t.layout, Before: before, BeforeKeyOnly: keyOnly, After: after})
		}
	default:
		return nil, errors.New("not a rows event Floe knows")
	}
	return out, nil
}

// oldKey decodes the key columns of an old image raw whose full decode
// failed with err: the key-only image when err is a *schema.ValueError
// and the key decodes, else err.
func oldKey(raw []any, err error, decode func(raw []any, keyOnly bool) (schema.Row, error)) (schema.Row, bool, error) {
	var verr *schema.ValueError
	if !errors.As(err, &verr) {
		return nil, false, err
	}
	row, kerr := decode(raw, true)
	if kerr != nil {
		return nil, false, err
	}
	return row, true, nil
}

// add appends ch to the open transaction's part, emitting the part
// first when it holds MaxBatchChanges changes, and after ch when it has
// reached MaxBatchBytes (toolkit.Part.Add).
func (st *streamer) add(ctx context.Context, h *replication.EventHeader, ch capture.Change) error {
	txn := st.txn
	if len(st.marks) > 0 && st.marks[ch.Table] != nil {
		var own Position
		switch {
		case st.cur.Kind == KindFile:
			// The row event's end: a window's low watermark, read while
			// no transaction of the table could commit (lockwindow.go),
			// has each of the table's transactions wholly before or
			// wholly after it.
			own = Position{Kind: KindFile, File: st.file, Offset: h.LogPos}
		case !txn.hasGTID:
			return fmt.Errorf("binlog transaction at %s:%d has no GTID event, but %s's snapshot chunks carry GTID watermarks", st.file, h.LogPos, ch.Table)
		default:
			own = txn.own()
		}
		var keep bool
		var err error
		if ch, keep, err = st.reconcileBeside(ctx, own, ch); err != nil || !keep {
			return err
		}
	}
	lim := toolkit.PartLimits{MaxChanges: st.s.cfg.MaxBatchChanges, MaxBytes: st.s.cfg.MaxBatchBytes, Hint: st.txnChanges}
	return txn.part.Add(ch, lim, func(changes []capture.Change) error { return st.emitPart(ctx, h, txn, changes) })
}

// emitPart emits changes, the open transaction's so far, as a part
// (More set) with a provisional position: after every earlier
// transaction and not after this one's final position.
func (st *streamer) emitPart(ctx context.Context, h *replication.EventHeader, txn *txnState, changes []capture.Change) error {
	pos := txn.final
	if !txn.hasGTID || st.cur.Kind == KindFile { // with gtid_mode OFF each transaction has an anonymous GTID event
		pos = Position{Kind: KindFile, File: st.file, Offset: h.LogPos}
	}
	part := capture.Batch{Changes: changes, Position: pos, CommitTime: st.commitTime(h), More: true}
	txn.parts++
	return st.emit(ctx, part)
}

func (st *streamer) commitTime(h *replication.EventHeader) time.Time {
	if st.txn != nil && !st.txn.commit.IsZero() {
		return st.txn.commit
	}
	return time.Unix(int64(h.Timestamp), 0).UTC()
}

// commit ends the open transaction at the event h: it becomes the current
// position, and its changes (if any) one Batch. A transaction without
// captured changes is only emitted, as an empty Batch, when nothing was
// emitted for HeartbeatInterval, so that an idle capture still advances.
func (st *streamer) commit(ctx context.Context, h *replication.EventHeader) error {
	txn := st.txn
	st.txn = nil
	if txn == nil {
		txn = &txnState{}
	}
	pos := txn.final
	switch {
	case st.cur.Kind == KindFile:
		pos = Position{Kind: KindFile, File: st.file, Offset: h.LogPos}
	case !txn.hasGTID:
		return fmt.Errorf("binlog transaction ending at %s:%d has no GTID event", st.file, h.LogPos)
	}
	st.cur = pos
	if st.windows {
		st.s.progress.advance(pos) // window.go
	}
	if pos.Compare(st.last) <= 0 {
		return nil // at or before where the stream started
	}
	at := time.Now()
	woken := st.s.woken(pos) // beside.go
	if len(txn.part.Changes) == 0 && txn.parts == 0 && !txn.barrier && at.Sub(st.lastEmit) < st.s.cfg.HeartbeatInterval && !woken {
		return nil
	}
	ct := time.Unix(int64(h.Timestamp), 0).UTC()
	if !txn.commit.IsZero() {
		ct = txn.commit
	}
	if len(txn.part.Changes) > 0 {
		st.txnChanges = min(len(txn.part.Changes), changesHint)
	}
	return st.emit(ctx, capture.Batch{Changes: txn.part.Changes, Position: pos, CommitTime: ct, Barrier: txn.barrier, Layouts: txn.layouts,
		Dropped: txn.dropped, Added: txn.added})
}

// emit sends b downstream.
func (st *streamer) emit(ctx context.Context, b capture.Batch) error {
	jitter.At(jitter.SourceEmit)
	select {
	case st.out <- b:
	case <-ctx.Done():
		return ctx.Err()
	}
	if !b.More {
		st.last = asPosition(b.Position)
	}
	st.lastEmit = time.Now()
	return nil
}

// readTimedOut reports a binlog read that hit its deadline (go-mysql
// keeps only the text of the network error inside ErrBadConn).
func readTimedOut(err error) bool {
	return errors.Is(err, gomysql.ErrBadConn) && strings.Contains(err.Error(), "i/o timeout")
}
