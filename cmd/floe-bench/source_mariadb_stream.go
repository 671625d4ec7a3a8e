package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/floe-cdc/floe/capture/mysql"
)

// Apply writes the workload through one connection, one round trip per
// transaction (a multi-statement START TRANSACTION ... COMMIT), and ends
// with a marker transaction that updates one row of every table. Marker is
// the marker transaction's GTID sequence minus one: every workload
// transaction is at or before it, the marker after it. A paced load
// (Rate > 0) also records, per transaction, when its COMMIT returned: the
// binlog's own timestamps have a resolution of one second.
func (s *mariaSource) Apply(ctx context.Context, w workload) (applyResult, error) {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return applyResult{}, fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	var res applyResult
	paced := w.Rate > 0
	exec := func(q string) error {
		if _, err := c.ExecContext(ctx, q); err != nil {
			return err
		}
		if !paced {
			return nil
		}
		at := time.Now()
		seq, err := lastSeq(ctx, c)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.commitAt[uint64(seq)] = at
		s.mu.Unlock()
		return nil
	}
	start, err := applyWorkload(ctx, w, myTables, s.ranges, mariaSeries, exec, s.txnSQL, &res)
	if err != nil {
		return res, err
	}
	marker := []string{"START TRANSACTION"}
	for _, t := range myTables {
		marker = append(marker, fmt.Sprintf("UPDATE %s SET %s WHERE id = %d", t.name, t.set, s.ranges[t.name].lo))
	}
	if err := exec(strings.Join(append(marker, "COMMIT"), "; ")); err != nil {
		return res, fmt.Errorf("marker transaction: %w", err)
	}
	if res.Marker, err = markerSeq(ctx, c); err != nil {
		return res, fmt.Errorf("marker transaction: %w", err)
	}
	res.committed(len(myTables))
	res.Elapsed = time.Since(start)
	return res, nil
}

// lastSeq is the GTID sequence number of the connection's last
// transaction.
func lastSeq(ctx context.Context, c *sql.Conn) (pos, error) {
	var gtid string
	if err := c.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&gtid); err != nil {
		return 0, fmt.Errorf("read last_gtid: %w", err)
	}
	p, err := mysql.DecodePosition("mysql.v1:mariadb:" + gtid)
	if err != nil {
		return 0, err
	}
	return mariaSeq(p.Maria)
}

// txnSQL is one workload transaction on t (see workloadTxn).
func (s *mariaSource) txnSQL(t benchTable, m txnMix) string {
	del, ins, upd := workloadTxn(t, s.ranges[t.name], s.rng, m, mariaSeries)
	return "START TRANSACTION; " + del + "; " + ins + "; " + upd + "; COMMIT"
}

// mariaSeries is MariaDB's row generator for ids lo..hi (the Sequence
// engine's table, column seq).
func mariaSeries(lo, hi int64) string { return fmt.Sprintf("seq_%d_to_%d", lo, hi) }

// RawDecode is the baseline decoder: a bare go-mysql BinlogSyncer (with
// floe's decoding options) reading the binlog from the cursor's GTID
// position, decoding every rows event and dropping it, until the
// transaction whose GTID sequence is after marker has committed.
func (s *mariaSource) RawDecode(ctx context.Context, name string, marker pos, collect bool) (decodeResult, error) {
	s.mu.Lock()
	from, ok := s.cursors[name]
	s.mu.Unlock()
	if !ok {
		return decodeResult{}, fmt.Errorf("no raw cursor %s", name)
	}
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	start := time.Now()
	set, err := gomysql.ParseMariadbGTIDSet(from)
	if err != nil {
		return decodeResult{}, fmt.Errorf("parse cursor position %q: %w", from, err)
	}
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: myRawServerID, Flavor: gomysql.MariaDBFlavor, Host: "127.0.0.1", Port: uint16(s.m.Port),
		User: myUser, Password: myPassword, Localhost: "floe-bench", Charset: "utf8mb4",
		TimestampStringLocation: time.UTC, RenderJSONAsMySQLText: true, DisableRetrySync: true,
		Logger: slog.New(slog.DiscardHandler),
	})
	defer syncer.Close()
	bs, err := syncer.StartSyncGTID(set)
	if err != nil {
		return decodeResult{}, fmt.Errorf("start binlog sync after %q: %w", from, err)
	}
	var (
		t   = newRawTally[uint64](marker, collect, start)
		seq uint64
	)
	for {
		ev, err := bs.GetEvent(ctx)
		if err != nil {
			return t.res, fmt.Errorf("read binlog: %w", err)
		}
		switch e := ev.Event.(type) {
		case *replication.MariadbGTIDEvent:
			seq, t.cur = e.GTID.SequenceNumber, txnInfo{}
			continue
		case *replication.TableMapEvent:
			t.names[e.TableID] = string(e.Table)
			continue
		case *replication.RowsEvent:
			n := len(e.Rows)
			if e.Type() == replication.EnumRowsEventTypeUpdate {
				n /= 2
			}
			t.change(n, e.TableID)
			continue
		case *replication.XIDEvent:
		case *replication.QueryEvent:
			if !strings.EqualFold(strings.TrimSpace(string(e.Query)), "COMMIT") {
				continue
			}
		default:
			continue
		}
		// A transaction committed.
		var at time.Time
		if collect {
			at = s.commitTime(seq, ev.Header.Timestamp)
		}
		if t.commit(pos(seq), at) {
			return t.res, nil
		}
	}
}

// commitTime is when the transaction with GTID sequence seq committed:
// when its COMMIT returned (a paced load records it), else ts, the
// binlog's timestamp (one-second resolution).
func (s *mariaSource) commitTime(seq uint64, ts uint32) time.Time {
	s.mu.Lock()
	at, ok := s.commitAt[seq]
	s.mu.Unlock()
	if !ok {
		at = time.Unix(int64(ts), 0)
	}
	return at
}
