package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// testSchema covers every common PostgreSQL type, a composite key, a UUID
// key, TOASTed values (STORAGE EXTERNAL keeps them out of line) and NULLs.
const testSchema = `
CREATE TYPE mood AS ENUM ('happy', 'sad', 'ok');
CREATE TABLE accounts (
  id bigint PRIMARY KEY,
  name text NOT NULL,
  balance numeric(18,4),
  ratio double precision,
  small smallint,
  flag boolean,
  born date,
  wake time,
  seen timestamp,
  changed timestamptz,
  ref uuid,
  doc jsonb,
  tags text[],
  nums int[],
  addr inet,
  mac macaddr,
  span interval,
  cash money,
  feeling mood,
  blob bytea,
  big text
);
ALTER TABLE accounts ALTER COLUMN big SET STORAGE EXTERNAL;
CREATE TABLE events (
  tenant text NOT NULL,
  seq bigint NOT NULL,
  kind varchar(20),
  amount real,
  payload json,
  PRIMARY KEY (tenant, seq)
);
CREATE TABLE notes (
  id uuid PRIMARY KEY,
  body text,
  code char(4),
  cnt int
);
CREATE TABLE scratch (id int PRIMARY KEY, v text);
`

// seedSQL fills the tables; n scales the row counts (accounts n, events
// n*5/4, notes n*3/8, scratch 100).
func seedSQL(n int) []string {
	return []string{
		fmt.Sprintf(`INSERT INTO accounts
SELECT g, 'name ' || g || ' ✓', (g * 12.3456)::numeric(18,4), g / 7.0, (g %% 30000)::smallint, g %% 2 = 0,
  date '2000-01-01' + (g %% 9000), time '00:00' + (g %% 86400) * interval '1 second',
  timestamp '2020-01-01' + g * interval '1 minute', timestamptz '2021-06-01 00:00+00' + g * interval '1 second',
  md5(g::text)::uuid, jsonb_build_object('g', g, 'even', g %% 2 = 0), ARRAY['t' || (g %% 5), NULL, 'x,y"z'],
  ARRAY[g, -g], ('10.0.' || (g %% 256) || '.' || (g %% 200))::inet, '08:00:2b:01:02:03',
  (g %% 100) * interval '1 hour 3 seconds', (g %% 1000) * 1.25, (ARRAY['happy','sad','ok'])[1 + g %% 3]::mood,
  decode(md5(g::text), 'hex'), CASE WHEN g %% 97 = 0 THEN repeat(md5(g::text), 100) END
FROM generate_series(1, %d) g`, n),
		fmt.Sprintf(`INSERT INTO events SELECT 't' || (g %% 4), g, 'k' || (g %% 10), g * 0.5, json_build_object('n', g)
FROM generate_series(1, %d) g`, n*5/4),
		fmt.Sprintf(`INSERT INTO notes SELECT md5('n' || g)::uuid, CASE WHEN g %% 3 = 0 THEN NULL ELSE 'body ' || g END, 'c' || (g %% 100), g
FROM generate_series(1, %d) g`, n*3/8),
		`INSERT INTO scratch SELECT g, 'v' || g FROM generate_series(1, 100) g`,
	}
}

// workload applies a random mix of transactions: inserts with NULLs,
// updates that leave TOAST unchanged and that change it, deletes, primary
// key changes, multi-table transactions and an occasional truncate.
type workload struct {
	dsn     string
	conn    *pgx.Conn
	rng     *rand.Rand
	n       int   // seeded accounts
	nextID  int64 // next fresh account id
	nextSeq int64
	txns    int
}

func newWorkload(ctx context.Context, t *testing.T, e *pipelineEnv, n int, seed uint64) *workload {
	c, err := pgx.Connect(ctx, e.pg.AdminDSN(e.db))
	if err != nil {
		t.Fatal(err)
	}
	w := &workload{dsn: e.pg.AdminDSN(e.db), conn: c, rng: rand.New(rand.NewPCG(seed, 7)), n: n, nextID: 5_000_000 + int64(seed)*1_000_000, nextSeq: 1 << 40}
	t.Cleanup(func() { w.conn.Close(context.Background()) })
	return w
}

// reconnect replaces a connection that a cancelled query closed (pgx closes
// the connection when a context ends mid-query).
func (w *workload) reconnect(ctx context.Context) error {
	if !w.conn.IsClosed() {
		return nil
	}
	c, err := pgx.Connect(ctx, w.dsn)
	if err != nil {
		return err
	}
	w.conn = c
	return nil
}

// step runs one transaction.
func (w *workload) step(ctx context.Context) error {
	if err := w.reconnect(ctx); err != nil {
		return err
	}
	id := 1 + w.rng.IntN(w.n)
	err := pgx.BeginFunc(ctx, w.conn, func(tx pgx.Tx) error {
		var stmts []string
		switch k := w.rng.IntN(20); {
		case k < 4: // non-key update; a TOASTed big stays unchanged
			stmts = append(stmts, fmt.Sprintf(`UPDATE accounts SET balance = balance + 1, changed = now() WHERE id = %d`, id))
			stmts = append(stmts, fmt.Sprintf(`UPDATE accounts SET flag = NOT flag WHERE id = %d`, 97*(1+w.rng.IntN(w.n/97))))
		case k < 5: // a new TOASTed value
			stmts = append(stmts, fmt.Sprintf(`UPDATE accounts SET big = repeat(md5(random()::text), 120) WHERE id = %d`, 97*(1+w.rng.IntN(w.n/97))))
		case k < 8: // inserts, one with NULLs everywhere
			w.nextID += 2
			stmts = append(stmts,
				fmt.Sprintf(`INSERT INTO accounts (id, name) VALUES (%d, 'null row')`, w.nextID),
				fmt.Sprintf(`INSERT INTO accounts (id, name, balance, tags, nums, big) VALUES (%d, 'fresh', -0.0001, '{}', '{NULL}', repeat('é', 3000))`, w.nextID+1))
		case k < 10: // deletes
			stmts = append(stmts, fmt.Sprintf(`DELETE FROM accounts WHERE id = %d`, id),
				fmt.Sprintf(`DELETE FROM events WHERE tenant = 't%d' AND seq = %d`, id%4, id))
		case k < 12: // primary-key changes, one of a TOASTed row
			w.nextID += 2
			stmts = append(stmts, fmt.Sprintf(`UPDATE accounts SET id = %d WHERE id = %d`, w.nextID, id),
				fmt.Sprintf(`UPDATE accounts SET id = %d, name = name || '!' WHERE id = %d`, w.nextID+1, 97*(1+w.rng.IntN(w.n/97))),
				fmt.Sprintf(`UPDATE events SET tenant = 'moved' WHERE tenant = 't%d' AND seq = %d`, (id+1)%4, id+1))
		case k < 16: // a multi-table transaction
			w.nextSeq++
			stmts = append(stmts,
				fmt.Sprintf(`INSERT INTO events VALUES ('t9', %d, NULL, NULL, NULL)`, w.nextSeq),
				fmt.Sprintf(`UPDATE events SET amount = amount * 2, payload = '{"u":1}' WHERE tenant = 't%d' AND seq = %d`, (id+2)%4, id+2),
				fmt.Sprintf(`UPDATE notes SET cnt = cnt + 1, body = NULL WHERE id = md5('n' || %d)::uuid`, id%(w.n*3/8)+1),
				fmt.Sprintf(`DELETE FROM notes WHERE id = md5('n' || %d)::uuid`, (id+5)%(w.n*3/8)+1),
				fmt.Sprintf(`UPDATE accounts SET name = 'multi ' || %d WHERE id = %d`, w.txns, id))
		case k < 19: // several updates of one key in one transaction
			stmts = append(stmts,
				fmt.Sprintf(`UPDATE events SET kind = 'a' WHERE tenant = 't%d' AND seq = %d`, id%4, id),
				fmt.Sprintf(`UPDATE events SET kind = 'b' WHERE tenant = 't%d' AND seq = %d`, id%4, id),
				fmt.Sprintf(`UPDATE scratch SET v = v || '.' WHERE id = %d`, 1+id%100))
		default: // truncate and refill the scratch table
			stmts = append(stmts, `TRUNCATE scratch`, fmt.Sprintf(`INSERT INTO scratch SELECT g, 'r%d-' || g FROM generate_series(1, 100) g`, w.txns))
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	})
	if err == nil {
		w.txns++
	}
	return err
}

// run applies steps until ctx is done. ctx is checked between
// transactions only (see untilStopped).
func (w *workload) run(ctx context.Context) error {
	return untilStopped(ctx, w.step)
}

// inBackground calls step (then sleeps pause) until the returned stop
// is called; stop waits for the step in flight and returns the error that
// ended the loop, if any. Calling stop again returns the same.
func inBackground(step func(context.Context) error, pause time.Duration) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- untilStopped(ctx, func(ctx context.Context) error {
			if err := step(ctx); err != nil {
				return err
			}
			time.Sleep(pause)
			return nil
		})
	}()
	var once sync.Once
	var err error
	return func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
}

// untilStopped calls step until stop is done. Each step runs to its end
// on a context that stop does not cancel: a statement cancelled while in
// flight returns at once on the client but may still commit on the server
// afterwards, after a test has read the position it waits for (and the
// comparison with the source then fails for the wrong reason).
func untilStopped(stop context.Context, step func(context.Context) error) error {
	ctx := context.WithoutCancel(stop)
	for stop.Err() == nil {
		if err := step(ctx); err != nil {
			return err
		}
	}
	if errors.Is(stop.Err(), context.Canceled) || errors.Is(stop.Err(), context.DeadlineExceeded) {
		return nil
	}
	return stop.Err()
}

// bulk runs one transaction that inserts rows events rows and then updates
// all of them (so one transaction holds 2*rows changes).
func (w *workload) bulk(ctx context.Context, tenant string, rows int) error {
	if err := w.reconnect(ctx); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, w.conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO events SELECT '%s', g, 'bulk', g, json_build_object('b', g) FROM generate_series(1, %d) g`, tenant, rows)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE events SET amount = amount + 1 WHERE tenant = '%s' AND seq %% 2 = 0`, tenant))
		return err
	})
}
