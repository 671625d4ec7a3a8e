package capture

import "errors"

// ErrLayoutChanged is matched (errors.Is) by a snapshot read that found
// its table's layout changed since the table was discovered (a schema
// change while the snapshot runs). The rows cannot be decoded with the
// layout the run started with, and the stream's changes of that chunk
// would be reconciled against rows of the wrong layout; the run must start
// again from the committed positions, discovering the new layout (the
// chunks committed so far stay done).
var ErrLayoutChanged = errors.New("table layout changed during its snapshot")
