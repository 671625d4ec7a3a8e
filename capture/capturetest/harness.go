package capturetest

import (
	"testing"
	"time"

	"github.com/floe-cdc/floe/capture"
)

// Harness adapts one source implementation to the suite.
type Harness interface {
	// Setup returns a fresh, empty database (PostgreSQL: a database whose
	// tables live in schema public; MySQL: a database) owned by the test.
	// Everything it creates is released by t.Cleanup.
	Setup(t *testing.T) Env
}

// Env is one test's database. Its methods fail the test (t.Fatal, with
// the t given to Setup) instead of returning errors.
type Env interface {
	// Exec runs each statement in its own transaction (autocommit).
	Exec(stmts ...string)
	// Tx runs the statements in one transaction.
	Tx(stmts ...string)
	// Begin opens a transaction on its own connection, so that several
	// can be open at once. It is rolled back at cleanup if still open.
	Begin() OpenTx
	// NewSource returns a new, not yet started Source capturing the named
	// tables of this database (plain names, no schema; a name that is no
	// table must make Discover fail). Sources of one Env share their
	// replication state (PostgreSQL: the slot), as a restarted pipeline
	// does; each gets its own client identity where the server needs one
	// (MySQL: server id). The source is closed at cleanup.
	NewSource(opts Options, tables ...string) capture.Source
	// Table returns the TableID the source reports for the named table.
	Table(name string) capture.TableID
	// Caps says what the source documents about itself.
	Caps() Caps
}

// OpenTx is a transaction in progress. Its methods fail the test on error.
type OpenTx interface {
	Exec(stmts ...string)
	Commit()
	Rollback()
}

// Options are the source settings a test needs to control.
type Options struct {
	// MaxBatchChanges splits larger transactions (0: the source default).
	MaxBatchChanges int
	// MaxBatchBytes splits transactions by the size of their changes
	// (capture.Change.Size; 0: the source default).
	MaxBatchBytes int
	// HeartbeatInterval is how long an idle stream waits before it emits
	// an empty batch (0: long enough that no test sees one).
	HeartbeatInterval time.Duration
}

// Caps is what a source documents it may do differently.
type Caps struct {
	// PartialBefore: deletes and key-changing updates may carry a key-only
	// Before (BeforeKeyOnly set), and updates that keep the key may carry
	// no Before (PostgreSQL REPLICA IDENTITY DEFAULT). Without it every
	// update and delete must carry the full old row.
	PartialBefore bool
	// IdleHeartbeat: a database where nothing at all commits still yields
	// empty batches every HeartbeatInterval (PostgreSQL writes heartbeat
	// messages). Without it, empty batches are only required when
	// transactions on tables that are not captured move the position.
	IdleHeartbeat bool
	// FollowsLayoutChanges: after a schema change of a captured table the
	// stream goes on with changes in the new layout (a Barrier batch
	// first), and refuses a change that filled existing rows it cannot
	// see. Without it a layout change stops the stream with an error.
	FollowsLayoutChanges bool
}

// Run runs the whole suite against h, one subtest per behaviour.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e Env)
	}{
		{"Discover", testDiscover},
		{"Snapshot", testSnapshot},
		{"SnapshotConverges", testSnapshotConverges},
		{"StreamRowChanges", testStreamRowChanges},
		{"MultiTableTransaction", testMultiTable},
		{"LargeTransaction", testLargeTransaction},
		{"LargeValues", testLargeValues},
		{"InterleavedTransactions", testInterleaved},
		{"Truncate", testTruncate},
		{"Resume", testResume},
		{"ResumeAfterSplit", testResumeAfterSplit},
		{"Cancel", testCancel},
		{"Positions", testPositions},
		{"ReadRows", testReadRows},
		{"Heartbeat", testHeartbeat},
		{"SchemaChange", testSchemaChange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h.Setup(t)) })
	}
}

// waitTimeout bounds every wait for a batch.
const waitTimeout = 30 * time.Second

// HarnessFunc is a Harness made of its Setup function.
type HarnessFunc func(t *testing.T) Env

// Setup calls f.
func (f HarnessFunc) Setup(t *testing.T) Env { return f(t) }

// Heartbeat returns HeartbeatInterval, or, when it is 0, an hour: an
// interval no test waits for.
func (o Options) Heartbeat() time.Duration {
	if o.HeartbeatInterval > 0 {
		return o.HeartbeatInterval
	}
	return time.Hour
}

// NewOpenTx makes an OpenTx of a driver's transaction calls: exec runs
// one statement. Failures fail t.
func NewOpenTx(t *testing.T, exec func(stmt string) error, commit, rollback func() error) OpenTx {
	return &funcTx{t: t, exec: exec, commit: commit, rollback: rollback}
}

type funcTx struct {
	t                *testing.T
	exec             func(string) error
	commit, rollback func() error
}

func (o *funcTx) Exec(stmts ...string) {
	o.t.Helper()
	for _, s := range stmts {
		if err := o.exec(s); err != nil {
			o.t.Fatalf("exec %q: %v", s, err)
		}
	}
}

func (o *funcTx) Commit() {
	o.t.Helper()
	if err := o.commit(); err != nil {
		o.t.Fatalf("commit: %v", err)
	}
}

func (o *funcTx) Rollback() {
	o.t.Helper()
	if err := o.rollback(); err != nil {
		o.t.Fatalf("rollback: %v", err)
	}
}
