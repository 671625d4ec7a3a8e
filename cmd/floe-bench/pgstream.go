package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/floe-cdc/floe/capture/postgres"
)

// Apply writes the workload through one connection, one round trip per
// transaction, and ends with a marker transaction that updates one row of
// every table; Marker is read inside it, so it is before that
// transaction's end and after every change of the workload.
func (p *pgSource) Apply(ctx context.Context, w workload) (applyResult, error) {
	c, err := pgx.Connect(ctx, p.db.AdminDSN(pgDatabase))
	if err != nil {
		return applyResult{}, fmt.Errorf("connect: %w", err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	var res applyResult
	exec := func(sql string) error {
		_, err := c.Exec(ctx, sql)
		return err
	}
	start, err := applyWorkload(ctx, w, pgTables, p.ranges, pgSeries, exec, p.txnSQL, &res)
	if err != nil {
		return res, err
	}
	res.Marker, err = markerTxn(ctx, c, func(tx pgx.Tx) error {
		for _, t := range pgTables {
			if _, err := tx.Exec(ctx, fmt.Sprintf("UPDATE %s SET %s WHERE id = %d", t.name, t.set, p.ranges[t.name].lo)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("marker transaction: %w", err)
	}
	res.committed(len(pgTables))
	res.Elapsed = time.Since(start)
	return res, nil
}

// markerTxn runs body in a transaction on c and returns the WAL insert
// position read in it after body: before the transaction's end and after
// the end of every transaction committed before it.
func markerTxn(ctx context.Context, c *pgx.Conn, body func(pgx.Tx) error) (pos, error) {
	var marker pos
	err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if err := body(tx); err != nil {
			return err
		}
		var lsn string
		if err := tx.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&lsn); err != nil {
			return err
		}
		var err error
		marker, err = parseLSN(lsn)
		return err
	})
	return marker, err
}

// txnSQL is one workload transaction on t (see workloadTxn).
func (p *pgSource) txnSQL(t benchTable, m txnMix) string {
	del, ins, upd := workloadTxn(t, p.ranges[t.name], p.rng, m, pgSeries)
	return "BEGIN; " + del + "; " + ins + "; " + upd + "; COMMIT"
}

// pgSeries is PostgreSQL's row generator for ids lo..hi (column g).
func pgSeries(lo, hi int64) string { return fmt.Sprintf("generate_series(%d::bigint, %d) g", lo, hi) }

// RawDecode is the baseline decoder: it streams pgoutput from the raw
// slot, parses each message (to find transaction ends) and drops it,
// until the transaction that ends after marker.
func (p *pgSource) RawDecode(ctx context.Context, name string, marker pos, collect bool) (decodeResult, error) {
	start := time.Now()
	conn, err := pgconn.Connect(ctx, p.db.AdminDSN(pgDatabase)+"&replication=database")
	if err != nil {
		return decodeResult{}, fmt.Errorf("replication connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	err = pglogrepl.StartReplication(ctx, conn, name, 0, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names '" + rawPublication + "'"},
	})
	if err != nil {
		return decodeResult{}, fmt.Errorf("start replication on %s: %w", name, err)
	}
	t := newRawTally[uint32](marker, collect, start)
	w := &walReader{conn: conn, slot: name, nextStatus: time.Now().Add(5 * time.Second)}
	for {
		data, err := w.next(ctx)
		if err != nil {
			return t.res, err
		}
		lm, err := pglogrepl.Parse(data)
		if err != nil {
			return t.res, fmt.Errorf("parse pgoutput: %w", err)
		}
		switch lm := lm.(type) {
		case *pglogrepl.RelationMessage:
			t.names[lm.RelationID] = lm.RelationName
		case *pglogrepl.InsertMessage:
			t.change(1, lm.RelationID)
		case *pglogrepl.UpdateMessage:
			t.change(1, lm.RelationID)
		case *pglogrepl.DeleteMessage:
			t.change(1, lm.RelationID)
		case *pglogrepl.CommitMessage:
			w.last = lm.TransactionEndLSN
			if t.commit(pos(lm.TransactionEndLSN), lm.CommitTime) {
				return t.res, nil
			}
		}
	}
}

// walReader receives the pgoutput messages of a replication connection's
// slot. It answers the server's keepalives and, every 5 s, tells the
// server last (the end of the last transaction read) as written.
type walReader struct {
	conn       *pgconn.PgConn
	slot       string
	last       pglogrepl.LSN
	nextStatus time.Time
}

// next returns the next pgoutput message (XLogData's WAL data).
func (w *walReader) next(ctx context.Context) ([]byte, error) {
	for {
		if time.Now().After(w.nextStatus) {
			if err := w.status(ctx); err != nil {
				return nil, err
			}
		}
		msg, err := w.conn.ReceiveMessage(ctx)
		if err != nil {
			return nil, fmt.Errorf("receive from %s: %w", w.slot, err)
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			return nil, fmt.Errorf("replication on %s: %s", w.slot, m.Message)
		case *pgproto3.CopyData:
			cd, err := postgres.ParseCopyData(m.Data)
			if err != nil {
				return nil, err
			}
			if cd.Kind == pglogrepl.XLogDataByteID {
				return cd.XLogData.WALData, nil
			}
			if cd.Kind == pglogrepl.PrimaryKeepaliveMessageByteID && cd.Keepalive.ReplyRequested {
				if err := w.status(ctx); err != nil {
					return nil, err
				}
			}
		}
	}
}

// status sends a standby status update with last as the written position.
func (w *walReader) status(ctx context.Context) error {
	w.nextStatus = time.Now().Add(5 * time.Second)
	if err := pglogrepl.SendStandbyStatusUpdate(ctx, w.conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: w.last}); err != nil {
		return fmt.Errorf("standby status: %w", err)
	}
	return nil
}

// parseLSN parses PostgreSQL's text form of an LSN.
func parseLSN(s string) (pos, error) {
	l, err := pglogrepl.ParseLSN(s)
	if err != nil {
		return 0, fmt.Errorf("parse lsn %q: %w", s, err)
	}
	return pos(l), nil
}

// stopped reports whether ch is closed (a nil ch never is).
func stopped(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// sleepUntil waits until t or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
