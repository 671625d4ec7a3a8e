package capture

import "errors"

// Errors of Snapshotter calls made out of order; every source returns them.
var (
	// ErrNotStarted is returned by snapshot calls before Start succeeded.
	ErrNotStarted = errors.New("source not started: call Start before reading the snapshot")
	// ErrSnapshotEnded is returned by snapshot calls after EndSnapshot.
	ErrSnapshotEnded = errors.New("snapshot has ended")
)

// ErrLayoutChanged is matched (errors.Is) by a snapshot read that found
// its table's layout changed since the table was discovered (a schema
// change while the snapshot runs). The rows cannot be decoded with the
// layout the run started with, and the stream's changes of that chunk
// would be reconciled against rows of the wrong layout; the run must start
// again from the committed positions, discovering the new layout (the
// chunks committed so far stay done).
var ErrLayoutChanged = errors.New("table layout changed during its snapshot")
