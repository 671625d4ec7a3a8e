package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// RecordVersion is the version of the table records this build writes.
// Version 1 records (which also held the table's position and snapshot
// plan, never read) are still read; their other fields are ignored.
const RecordVersion = 2

// lockTimeout bounds how long Open waits for another process's lock.
const lockTimeout = time.Second

// bucketTables holds one record per source table, keyed "schema.table".
// (State dirs of older builds also hold a "meta" bucket with the last
// acknowledged position; nothing reads it.)
var bucketTables = []byte("tables")

// Store is an open state directory. Its methods are safe for concurrent use.
type Store struct {
	dir string
	db  *bolt.DB
}

// TableState is what the state dir records of one source table.
type TableState struct {
	// Checkpoint is the number of the last checkpoint that committed (or
	// advanced) the table's Iceberg table.
	Checkpoint int64
}

type tableRecord struct {
	Version    int   `json:"v"`
	Checkpoint int64 `json:"checkpoint"`
}

// Open creates dir if needed and opens dir/state.db, taking an exclusive
// lock. If another process (or another Store in this process) holds the
// directory, it fails after about one second.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state dir: %w", err)
	}
	path := filepath.Join(dir, "state.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("state dir %s is in use by another floe process", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("open state db %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketTables)
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("init state db %s: %w", path, err)
	}
	return &Store{dir: dir, db: db}, nil
}

// Close releases the lock and closes the file. Safe to call more than once.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close state db: %w", err)
	}
	return nil
}

// PutTables records the checkpoint that committed each of several tables,
// in one transaction: either all are stored or none.
func (s *Store) PutTables(tables map[string]TableState) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTables)
		for id, st := range tables {
			if err := b.Put([]byte(id), encodeTable(st)); err != nil {
				return fmt.Errorf("table %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write table states: %w", err)
	}
	return nil
}

// Tables returns the record of every table, by id ("schema.table").
func (s *Store) Tables() (map[string]TableState, error) {
	out := map[string]TableState{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTables).ForEach(func(k, v []byte) error {
			st, err := decodeTable(v)
			if err != nil {
				return fmt.Errorf("table %s: %w", k, err)
			}
			out[string(k)] = st
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read table states: %w", err)
	}
	return out, nil
}

// DeleteTables forgets the records of the given tables (absent ones are
// ignored), in one transaction.
func (s *Store) DeleteTables(ids ...string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTables)
		for _, id := range ids {
			if err := b.Delete([]byte(id)); err != nil {
				return fmt.Errorf("table %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete table states: %w", err)
	}
	return nil
}

// Dir is the state directory.
func (s *Store) Dir() string { return s.dir }

func encodeTable(st TableState) []byte {
	return mustJSON(tableRecord{Version: RecordVersion, Checkpoint: st.Checkpoint})
}

// decodeTable reads a table record of version 1 or 2.
func decodeTable(b []byte) (TableState, error) {
	var r tableRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return TableState{}, fmt.Errorf("decode record: %w", err)
	}
	if r.Version != 1 && r.Version != RecordVersion {
		return TableState{}, fmt.Errorf("decode record: unsupported version %d (this build reads 1 and %d)", r.Version, RecordVersion)
	}
	return TableState{Checkpoint: r.Checkpoint}, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode state record: %v", err)) // ints only: cannot fail
	}
	return b
}
