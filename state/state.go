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

// RecordVersion is the version of every JSON record this package writes.
const RecordVersion = 1

// lockTimeout bounds how long Open waits for another process's lock.
const lockTimeout = time.Second

var (
	bucketTables = []byte("tables")
	bucketMeta   = []byte("meta")
	keyAcked     = []byte("acked_position")
)

// Store is an open state directory. Its methods are safe for concurrent use.
type Store struct {
	dir string
	db  *bolt.DB
}

// TableState is the cached progress of one sink table.
type TableState struct {
	// Position is the capture.Position encoding of the table's last committed batch.
	Position string
	// Checkpoint is the number of the table's last committed checkpoint.
	Checkpoint int64
	// Snapshot is the capture.SnapshotPlan encoding while the table's
	// initial snapshot is in progress, "" otherwise.
	Snapshot string
}

type tableRecord struct {
	Version    int    `json:"v"`
	Position   string `json:"position"`
	Checkpoint int64  `json:"checkpoint"`
	Snapshot   string `json:"snapshot,omitempty"`
}

type ackedRecord struct {
	Version  int    `json:"v"`
	Position string `json:"position"`
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
		for _, b := range [][]byte{bucketTables, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
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

// Table returns the cached state of table id, and false if none is cached.
func (s *Store) Table(id string) (TableState, bool, error) {
	var (
		st    TableState
		found bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketTables).Get([]byte(id))
		if v == nil {
			return nil
		}
		found = true
		var err error
		st, err = decodeTable(v)
		return err
	})
	if err != nil {
		return TableState{}, false, fmt.Errorf("read state of table %s: %w", id, err)
	}
	return st, found, nil
}

// PutTables stores the states of several tables in one transaction:
// either all are stored or none.
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

// Tables returns the cached state of every table, by id.
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

// DeleteTables forgets the cached state of the given tables (absent ones
// are ignored), in one transaction.
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

// AckedPosition returns the last position stored by PutAckedPosition, or
// "" if none was.
func (s *Store) AckedPosition() (string, error) {
	var pos string
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyAcked)
		if v == nil {
			return nil
		}
		var err error
		pos, err = decodeAcked(v)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("read acked position: %w", err)
	}
	return pos, nil
}

// PutAckedPosition records pos as the last position acknowledged to the source.
func (s *Store) PutAckedPosition(pos string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyAcked, encodeAcked(pos))
	})
	if err != nil {
		return fmt.Errorf("write acked position: %w", err)
	}
	return nil
}

func encodeTable(st TableState) []byte {
	return mustJSON(tableRecord{Version: RecordVersion, Position: st.Position, Checkpoint: st.Checkpoint, Snapshot: st.Snapshot})
}

func decodeTable(b []byte) (TableState, error) {
	var r tableRecord
	if err := unmarshalVersioned(b, &r, func() int { return r.Version }); err != nil {
		return TableState{}, err
	}
	return TableState{Position: r.Position, Checkpoint: r.Checkpoint, Snapshot: r.Snapshot}, nil
}

func encodeAcked(pos string) []byte {
	return mustJSON(ackedRecord{Version: RecordVersion, Position: pos})
}

func decodeAcked(b []byte) (string, error) {
	var r ackedRecord
	if err := unmarshalVersioned(b, &r, func() int { return r.Version }); err != nil {
		return "", err
	}
	return r.Position, nil
}

func unmarshalVersioned(b []byte, into any, version func() int) error {
	if err := json.Unmarshal(b, into); err != nil {
		return fmt.Errorf("decode record: %w", err)
	}
	if v := version(); v != RecordVersion {
		return fmt.Errorf("decode record: unsupported version %d (this build reads %d)", v, RecordVersion)
	}
	return nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode state record: %v", err)) // strings and ints only: cannot fail
	}
	return b
}
