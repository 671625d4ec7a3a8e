package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
)

// shopSchema is the demo's source: three tables of common PostgreSQL
// types (an enum, jsonb, an array, uuid, numeric, a TOASTed text), a
// composite key, and a few thousand rows for the snapshot.
const shopSchema = `
CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled');
CREATE TABLE customers (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  email varchar(200),
  created_at timestamptz NOT NULL DEFAULT now(),
  profile jsonb,
  notes text
);
CREATE TABLE orders (
  id bigserial PRIMARY KEY,
  customer_id bigint NOT NULL,
  status order_status NOT NULL DEFAULT 'new',
  total numeric(12,2) NOT NULL,
  placed_on date NOT NULL DEFAULT current_date,
  tags text[],
  ref uuid NOT NULL DEFAULT gen_random_uuid()
);
CREATE TABLE line_items (
  order_id bigint NOT NULL,
  line_no int NOT NULL,
  sku varchar(32) NOT NULL,
  qty smallint NOT NULL,
  price numeric(10,2) NOT NULL,
  PRIMARY KEY (order_id, line_no)
);
INSERT INTO customers (name, email, profile, notes)
  SELECT 'customer ' || g, 'c' || g || '@example.com', jsonb_build_object('tier', g % 3),
         CASE WHEN g % 50 = 0 THEN repeat(md5(g::text), 400) END
  FROM generate_series(1, 2000) g;
INSERT INTO orders (customer_id, total, tags)
  SELECT 1 + g % 2000, (g % 1000) + 0.99, ARRAY['web', 'promo' || (g % 7)]
  FROM generate_series(1, 5000) g;
INSERT INTO line_items
  SELECT o, l, 'SKU-' || (o * 7 + l) % 997, 1 + l, 9.99 * l FROM generate_series(1, 5000) o, generate_series(1, 3) l;
`

// shopTables are the demo tables, handed to the demo's user after
// shopSchema created them as the superuser.
var shopTables = []string{"customers", "orders", "line_items"}

type workloadStats struct{ txns, inserts, updates, deletes int }

// shopWorkload runs small shop transactions until ctx ends: new orders
// with their lines, orders that move on, a customer with a large
// (TOASTed) note that changes only its email, deleted lines, and orders
// renumbered (a primary-key change).
func shopWorkload(ctx context.Context, dsn string) (workloadStats, error) {
	var st workloadStats
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return st, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rng := rand.New(rand.NewPCG(1, 2))
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	// ctx only says when to stop, between transactions: a transaction
	// cancelled mid-flight may still commit on the server after this
	// returns, behind the position the demo then waits for.
	txCtx := context.WithoutCancel(ctx)
	for {
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-tick.C:
		}
		if err := pgx.BeginFunc(txCtx, conn, func(tx pgx.Tx) error { return shopTxn(txCtx, tx, rng, &st) }); err != nil {
			return st, err
		}
		st.txns++
	}
}

// shopTxn is one transaction of the workload, counted into st.
func shopTxn(ctx context.Context, tx pgx.Tx, rng *rand.Rand, st *workloadStats) error {
	switch n := rng.IntN(10); {
	case n < 4: // a new order with its lines
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO orders (customer_id, total, tags) VALUES ($1, $2, $3) RETURNING id`,
			1+rng.IntN(2000), fmt.Sprintf("%d.%02d", rng.IntN(500), rng.IntN(100)), []string{"app"}).Scan(&id); err != nil {
			return err
		}
		for l := 1; l <= 1+rng.IntN(3); l++ {
			if _, err := tx.Exec(ctx, `INSERT INTO line_items VALUES ($1, $2, $3, $4, $5)`,
				id, l, fmt.Sprintf("SKU-%d", rng.IntN(997)), 1+rng.IntN(5), "4.50"); err != nil {
				return err
			}
			st.inserts++
		}
		st.inserts++
		return nil
	case n < 7: // an order moves on
		tag, err := tx.Exec(ctx, `UPDATE orders SET status = 'paid', total = total + 1 WHERE id = $1`, 1+rng.IntN(5000))
		st.updates += int(tag.RowsAffected())
		return err
	case n < 8: // a customer with a large (TOASTed) note changes only its email
		tag, err := tx.Exec(ctx, `UPDATE customers SET email = 'new' || id || '@example.com' WHERE id = $1`, 50*(1+rng.IntN(40)))
		st.updates += int(tag.RowsAffected())
		return err
	case n < 9: // a line item is removed
		tag, err := tx.Exec(ctx, `DELETE FROM line_items WHERE order_id = $1 AND line_no = 3`, 1+rng.IntN(5000))
		st.deletes += int(tag.RowsAffected())
		return err
	default: // an order is cancelled and renumbered (a primary-key change)
		tag, err := tx.Exec(ctx, `UPDATE orders SET id = id + 1000000, status = 'cancelled' WHERE id = $1`, 1+rng.IntN(5000))
		st.updates += int(tag.RowsAffected())
		return err
	}
}
