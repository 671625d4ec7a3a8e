package transform

// PlaceError is Buffer.Apply's error for a change the sink table cannot
// hold as pipeline.schema-change-behavior left it (BufferOptions.Narrow):
// a value that does not fit a sink column narrower than the change's, or
// a NULL in a sink column that is required. Apply leaves the buffer's
// rows, keys and delete keys as they were (only AppliedBytes counts the
// change), so the caller may pass over the change, as a dead letter.
type PlaceError struct {
	Err error
}

func (e *PlaceError) Error() string { return e.Err.Error() }

func (e *PlaceError) Unwrap() error { return e.Err }
