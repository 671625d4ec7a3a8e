package checkpoint

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/memsource"
	"github.com/floe-cdc/floe/schema"
)

// tableSource is the in-memory source (capture/memsource) reduced to a
// capture.Source and a capture.Snapshotter, so that the coordinator finds
// no other ability unless a test's wrapper adds it; its tables are
// (id bigint PRIMARY KEY, v text). It counts chunk reads, can fail one,
// and can give one key of table c a second, later image in its chunk (a
// route key that is not unique at the source).
type tableSource struct {
	t   *testing.T
	db  *memsource.DB
	mem *memsource.Source
	// names are the tables, in discovery order.
	names []string

	mu     sync.Mutex
	reads  map[string]int // "table/chunk" -> times read
	failOn string         // "table/chunk" whose read fails
	holdOn string         // "table/chunk" whose read waits for its context to end
	dupKey int64          // key of c read twice; 0: none

	readDelay time.Duration // each ReadChunk takes at least this long
	inRead    int           // ReadChunk calls in progress
	maxInRead int           // the most ReadChunk calls in progress at once
}

var _ capture.Snapshotter = (*tableSource)(nil)

func newTableSource(t *testing.T) *tableSource {
	return &tableSource{t: t, db: memsource.NewDB("s"), reads: map[string]int{}}
}

// addTable creates table name holding ids 1..n (see setRows).
func (s *tableSource) addTable(name string, n int64, suffix string) {
	_, err := s.db.Exec("CREATE TABLE " + name + " (id bigint PRIMARY KEY, v text)")
	require.NoError(s.t, err)
	s.names = append(s.names, name)
	s.mem = memsource.New(s.db, memsource.Config{Tables: s.names, OnReadChunk: s.onRead})
	s.setRows(name, n, suffix)
}

// setRows makes table name hold ids 1..n with values name+id+suffix, in
// one transaction.
func (s *tableSource) setRows(name string, n int64, suffix string) {
	tx := s.db.Begin()
	require.NoError(s.t, tx.Exec("DELETE FROM "+name))
	for k := int64(1); k <= n; k++ {
		require.NoError(s.t, tx.Exec(fmt.Sprintf("INSERT INTO %s VALUES (%d, '%s%d%s')", name, k, name, k, suffix)))
	}
	_, err := tx.Commit()
	require.NoError(s.t, err)
}

func (s *tableSource) onRead(id capture.TableID, ch capture.Chunk) error {
	name := fmt.Sprintf("%s/%d", id.Name, ch.Index)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads[name]++
	if s.failOn == name {
		return fmt.Errorf("injected read failure")
	}
	return nil
}

// chunkReads returns how often each chunk ("table/chunk") was read.
func (s *tableSource) chunkReads() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.reads {
		out[k] = v
	}
	return out
}

func (s *tableSource) resetReads() {
	s.mu.Lock()
	s.reads = map[string]int{}
	s.mu.Unlock()
}

func (s *tableSource) Discover(ctx context.Context) ([]capture.TableInfo, error) {
	return s.mem.Discover(ctx)
}

func (s *tableSource) Start(ctx context.Context, req capture.StartRequest) (capture.StartInfo, error) {
	return s.mem.Start(ctx, req)
}

func (s *tableSource) Stream(ctx context.Context, out chan<- capture.Batch) error {
	return s.mem.Stream(ctx, out)
}

func (s *tableSource) Ack(pos capture.Position) { s.mem.Ack(pos) }

func (s *tableSource) DecodePosition(str string) (capture.Position, error) {
	return memsource.DecodePosition(str)
}

func (s *tableSource) Close() error { return s.mem.Close() }

func (s *tableSource) PlanChunks(ctx context.Context, id capture.TableID, n int) ([]capture.Chunk, error) {
	return s.mem.PlanChunks(ctx, id, n)
}

func (s *tableSource) ReadChunk(ctx context.Context, id capture.TableID, ch capture.Chunk) (capture.Batch, error) {
	s.mu.Lock()
	hold := s.holdOn == fmt.Sprintf("%s/%d", id.Name, ch.Index)
	s.inRead++
	s.maxInRead = max(s.maxInRead, s.inRead)
	delay := s.readDelay
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inRead--
		s.mu.Unlock()
	}()
	time.Sleep(delay)
	if hold { // a read that hangs (a silent connection) until it is cancelled
		<-ctx.Done()
		return capture.Batch{}, ctx.Err()
	}
	b, err := s.mem.ReadChunk(ctx, id, ch)
	s.mu.Lock()
	dup := s.dupKey
	s.mu.Unlock()
	if err != nil || dup == 0 || id.Name != "c" {
		return b, err
	}
	for i, c := range b.Changes {
		if c.After[0] == dup {
			again := c
			again.After = schema.Row{dup, "last image of " + strconv.FormatInt(dup, 10)}
			b.Changes = append(b.Changes[:i+1:i+1], append([]capture.Change{again}, b.Changes[i+1:]...)...)
			break
		}
	}
	return b, nil
}

func (s *tableSource) EndSnapshot(ctx context.Context) error { return s.mem.EndSnapshot(ctx) }
