package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/internal/toolkit"
)

// ErrSlotMissing is matched (errors.Is) by every *SlotMissingError.
var ErrSlotMissing = errors.New("replication slot is missing")

// SlotMissingError reports that the stream must resume after Resume but
// the replication slot is gone, so the changes after Resume can no longer
// be read from the source.
type SlotMissingError struct {
	Slot   string
	Resume string
}

func (e *SlotMissingError) Error() string {
	return fmt.Sprintf("replication slot %q does not exist, so the changes after %s can no longer be read; "+
		"fix: stop floe, re-snapshot every captured table that holds a committed position (all of them, usually) with "+
		"`floe resnapshot --config FILE --table SCHEMA.TABLE` (repeat --table), and start floe again, which creates a new slot",
		e.Slot, e.Resume)
}

// Is makes errors.Is(err, ErrSlotMissing) true.
func (e *SlotMissingError) Is(target error) bool { return target == ErrSlotMissing }

// Start ensures the publication holds exactly the captured tables and
// that the slot exists, and reports where the stream starts.
//
//   - slot missing, req.Resume set: *SlotMissingError;
//   - slot missing, req.Snapshot: the slot is created with an exported
//     snapshot that the chunk readers import (Exact = true, From = the
//     slot's consistent point); the exporting connection stays open until
//     EndSnapshot;
//   - slot missing, neither: the slot is created without a snapshot;
//   - slot present: From = max(confirmed_flush_lsn, req.Resume), Exact =
//     false, chunk readers use fresh REPEATABLE READ transactions, or the
//     snapshot ExportSnapshot takes.
func (s *Source) Start(ctx context.Context, req capture.StartRequest) (capture.StartInfo, error) {
	if err := toolkit.BeginStart(ctx, &s.life, &s.tables, s.Discover); err != nil {
		return capture.StartInfo{}, err
	}
	var resume *Position
	if req.Resume != nil {
		p := asPosition(req.Resume)
		resume = &p
	}
	conn, err := s.connect(ctx)
	if err != nil {
		return capture.StartInfo{}, err
	}
	defer conn.Close(context.Background())

	tables := s.tables.List()
	if p := identityProblems(tables); len(p) > 0 {
		return capture.StartInfo{}, fmt.Errorf("start: %w", problemList(p))
	}
	if err := s.ensurePublication(ctx, conn, tables); err != nil {
		return capture.StartInfo{}, err
	}

	slot, err := s.readSlot(ctx, conn)
	if err != nil {
		return capture.StartInfo{}, err
	}
	info := capture.StartInfo{}
	switch {
	case slot != nil:
		from := slot.confirmed
		if resume != nil && resume.LSN > from {
			from = resume.LSN
		}
		s.from = Position{LSN: from}
		s.exact = false
		s.base.Log.Info("replication slot exists", "slot", s.cfg.SlotName, "confirmed_flush_lsn", slot.confirmed.String(), "position", s.from.String())
	case resume != nil:
		return capture.StartInfo{}, &SlotMissingError{Slot: s.cfg.SlotName, Resume: resume.String()}
	default:
		if err := s.createSlot(ctx, req.Snapshot); err != nil {
			return capture.StartInfo{}, err
		}
	}
	info.From, info.Exact = s.from, s.exact
	s.mu.Lock()
	s.snapAt = s.from
	s.readers = newReaderPool(s, toolkit.ChunkReaders)
	s.mu.Unlock()
	s.life.MarkStarted()
	return info, nil
}

// identityProblems reports captured tables whose replica identity would
// break the source's own UPDATE/DELETE once they are in a publication.
func identityProblems(tables []*table) []Problem {
	var out []Problem
	for _, t := range tables {
		switch {
		case t.replIdent == 'n':
			out = append(out, Problem{Field: "source.tables",
				Message: fmt.Sprintf("table %s has REPLICA IDENTITY NOTHING, so its updates and deletes cannot be replicated", t.id),
				Fix:     fmt.Sprintf("run ALTER TABLE %s REPLICA IDENTITY DEFAULT (with a primary key) or FULL", t.qname)})
		case !t.hasPK && t.replIdent == 'd':
			out = append(out, Problem{Field: "source.tables",
				Message: fmt.Sprintf("table %s has no primary key and REPLICA IDENTITY DEFAULT; adding it to the publication would make its UPDATE and DELETE fail", t.id),
				Fix:     fmt.Sprintf("run ALTER TABLE %s REPLICA IDENTITY FULL (or add a primary key)", t.qname)})
		}
	}
	return out
}

// ensurePublication creates the publication for the tables, or sets an
// existing one's table list to exactly them (leaving it untouched when it
// already holds exactly them, so an administrator may create it).
func (s *Source) ensurePublication(ctx context.Context, conn *pgx.Conn, tables []*table) error {
	names := make([]string, len(tables))
	want := make([]uint32, len(tables))
	for i, t := range tables {
		names[i], want[i] = t.qname, t.oid
	}
	pub := pgx.Identifier{s.cfg.PublicationName}.Sanitize()
	viaRoot := anyPartitioned(tables) // see partitions.go
	var allTables, hasViaRoot bool
	err := conn.QueryRow(ctx, `SELECT puballtables, pubviaroot FROM pg_publication WHERE pubname = $1`, s.cfg.PublicationName).Scan(&allTables, &hasViaRoot)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		with := ""
		if viaRoot {
			with = " WITH (publish_via_partition_root = true)"
		}
		if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE PUBLICATION %s FOR TABLE %s%s", pub, strings.Join(names, ", "), with)); err != nil {
			return s.publicationError("create", err)
		}
		s.base.Log.Info("created publication", "publication", s.cfg.PublicationName, "tables", len(names), "via_partition_root", viaRoot)
		return nil
	case err != nil:
		return fmt.Errorf("read publication %s: %w", s.cfg.PublicationName, err)
	case allTables:
		return Problem{Field: "source.publication.name",
			Message: fmt.Sprintf("publication %q exists and is FOR ALL TABLES", s.cfg.PublicationName),
			Fix:     "name a different publication, or drop this one so Floe can create it for the captured tables"}
	}
	if viaRoot && !hasViaRoot {
		// Before any table is added: a partition's change must never be
		// published as the partition's own while its parent is captured.
		if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER PUBLICATION %s SET (publish_via_partition_root = true)", pub)); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "42501" {
				return Problem{Field: "source.publication.name",
					Message: fmt.Sprintf("a partitioned table is captured, and user %q cannot set publish_via_partition_root on publication %q: %s", s.cfg.User, s.cfg.PublicationName, pgErr.Message),
					Fix:     fmt.Sprintf("have the publication's owner run ALTER PUBLICATION %s SET (publish_via_partition_root = true)", pub)}
			}
			return s.publicationError("alter", err)
		}
		s.base.Log.Info("set publish_via_partition_root", "publication", s.cfg.PublicationName)
	}
	rows, err := conn.Query(ctx, `SELECT r.prrelid FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid WHERE p.pubname = $1`, s.cfg.PublicationName)
	if err != nil {
		return fmt.Errorf("read tables of publication %s: %w", s.cfg.PublicationName, err)
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[uint32])
	if err != nil {
		return fmt.Errorf("read tables of publication %s: %w", s.cfg.PublicationName, err)
	}
	slices.Sort(have)
	slices.Sort(want)
	if slices.Equal(have, want) {
		return nil
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER PUBLICATION %s SET TABLE %s", pub, strings.Join(names, ", "))); err != nil {
		return s.publicationError("alter", err)
	}
	s.base.Log.Info("set publication tables", "publication", s.cfg.PublicationName, "tables", len(names))
	return nil
}

// publicationError explains a missing privilege on the publication or
// the tables; other errors are wrapped.
func (s *Source) publicationError(verb string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" {
		return Problem{Field: "source.username",
			Message: fmt.Sprintf("user %q cannot %s publication %q: %s", s.cfg.User, verb, s.cfg.PublicationName, pgErr.Message),
			Fix:     "make the user own the captured tables and the publication, or have their owner run CREATE PUBLICATION for exactly the captured tables beforehand"}
	}
	return fmt.Errorf("%s publication %s: %w", verb, s.cfg.PublicationName, err)
}

type slotInfo struct {
	confirmed pglogrepl.LSN
}

// readSlot returns the slot's state, or nil when it does not exist.
func (s *Source) readSlot(ctx context.Context, conn *pgx.Conn) (*slotInfo, error) {
	var (
		plugin, slotType string
		database         *string
		confirmed        *string
	)
	err := conn.QueryRow(ctx, `SELECT coalesce(plugin, ''), slot_type, database, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`,
		s.cfg.SlotName).Scan(&plugin, &slotType, &database, &confirmed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read replication slot %s: %w", s.cfg.SlotName, err)
	}
	if slotType != "logical" || plugin != "pgoutput" || database == nil || *database != s.cfg.Database {
		db := "<none>"
		if database != nil {
			db = *database
		}
		return nil, Problem{Field: "source.slot.name",
			Message: fmt.Sprintf("replication slot %q exists but is a %s slot for plugin %q in database %q, not a pgoutput slot in %q", s.cfg.SlotName, slotType, plugin, db, s.cfg.Database),
			Fix:     "name a different slot in source.slot.name"}
	}
	if confirmed == nil {
		return nil, fmt.Errorf("replication slot %s has no confirmed position", s.cfg.SlotName)
	}
	lsn, err := pglogrepl.ParseLSN(*confirmed)
	if err != nil {
		return nil, fmt.Errorf("replication slot %s: %w", s.cfg.SlotName, err)
	}
	return &slotInfo{confirmed: lsn}, nil
}

// createSlot creates the slot; with export it keeps the replication
// connection (and so the exported snapshot) open for the chunk readers.
func (s *Source) createSlot(ctx context.Context, export bool) error {
	rconn, err := s.connectReplication(ctx)
	if err != nil {
		return err
	}
	action := "NOEXPORT_SNAPSHOT"
	if export {
		action = "EXPORT_SNAPSHOT"
	}
	res, err := pglogrepl.CreateReplicationSlot(ctx, rconn, s.cfg.SlotName, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: action})
	snapTime := time.Now().UTC()
	if err != nil {
		rconn.Close(context.Background())
		return fmt.Errorf("create replication slot %s: %w", s.cfg.SlotName, err)
	}
	lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		rconn.Close(context.Background())
		return fmt.Errorf("create replication slot %s: consistent point: %w", s.cfg.SlotName, err)
	}
	s.from = Position{LSN: lsn}
	s.exact = export
	s.base.Log.Info("created replication slot", "slot", s.cfg.SlotName, "position", s.from.String(), "snapshot", res.SnapshotName)
	if !export {
		return rconn.Close(ctx)
	}
	s.mu.Lock()
	s.snapConn, s.snapName, s.snapTime = rconn, res.SnapshotName, snapTime
	s.mu.Unlock()
	return nil
}

var _ capture.SnapshotExporter = (*Source)(nil)

// ExportSnapshot takes the snapshot that chunks are read under when the
// slot already exists: it creates a TEMPORARY logical slot with an
// exported snapshot and returns its consistent point R. The chunk readers
// import that snapshot, so each table's rows are exactly those of every
// transaction that ends at or before R, and ReadChunk's batches carry R.
// The temporary slot only serves the export: it is never streamed, and
// it goes with its connection at EndSnapshot (or when the process dies).
// It needs one free replication slot (max_replication_slots) for that
// long. See capture.SnapshotExporter.
func (s *Source) ExportSnapshot(ctx context.Context) (capture.Position, error) {
	if !s.life.Started() {
		return nil, capture.ErrNotStarted
	}
	s.mu.Lock()
	busy := s.snapConn != nil
	s.mu.Unlock()
	if busy {
		return nil, errors.New("export snapshot: a snapshot is already exported")
	}
	rconn, err := s.connectReplication(ctx)
	if err != nil {
		return nil, err
	}
	name := tempSlotName(s.cfg.SlotName)
	res, err := pglogrepl.CreateReplicationSlot(ctx, rconn, name, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Temporary: true, Mode: pglogrepl.LogicalReplication, SnapshotAction: "EXPORT_SNAPSHOT"})
	snapTime := time.Now().UTC()
	if err != nil {
		rconn.Close(context.Background())
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "53400" {
			return nil, Problem{Field: "source",
				Message: fmt.Sprintf("no free replication slot for the temporary slot that exports the snapshot: %s", pgErr.Message),
				Fix:     "raise max_replication_slots (and max_wal_senders) by one and restart PostgreSQL, or drop an unused slot"}
		}
		return nil, fmt.Errorf("create temporary replication slot %s to export a snapshot: %w", name, err)
	}
	lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		rconn.Close(context.Background())
		return nil, fmt.Errorf("temporary replication slot %s: consistent point: %w", name, err)
	}
	at := Position{LSN: lsn}
	s.mu.Lock()
	old := s.readers
	s.snapConn, s.snapName, s.snapTime, s.exact, s.snapAt, s.exported = rconn, res.SnapshotName, snapTime, true, at, true
	s.readers = newReaderPool(s, toolkit.ChunkReaders)
	s.mu.Unlock()
	if old != nil {
		old.end()
	}
	s.base.Log.Info("exported a snapshot through a temporary slot", "slot", name, "position", at.String(), "snapshot", res.SnapshotName)
	return at, nil
}

// tempSlotName names the temporary slot of one export: the slot's name,
// cut to leave room, and a random suffix, so that two exports never
// collide.
func tempSlotName(slot string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	if len(slot) > 48 {
		slot = slot[:48]
	}
	return slot + "_snap_" + hex.EncodeToString(b[:])
}
