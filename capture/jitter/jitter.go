package jitter

// Seam names a place where a random sleep may be injected.
type Seam uint8

// The seams. Hot seams are passed once per stream batch.
const (
	SourceEmit   Seam = iota // a source is about to hand a stream batch to the coordinator (hot)
	Receive                  // the coordinator took a stream batch off the channel (hot)
	ChunkRead                // a source starts reading a snapshot chunk
	Watermark                // MariaDB: between reading the binlog end and opening the chunk's consistent snapshot
	BeforeCommit             // the coordinator is about to commit one table
	AfterCommit              // one table's commit returned
	BeforeAck                // the coordinator is about to acknowledge a position to the source
	numSeams
)

var seamNames = [numSeams]string{"source_emit", "receive", "chunk_read", "watermark", "before_commit", "after_commit", "before_ack"}

func (s Seam) String() string {
	if s < numSeams {
		return seamNames[s]
	}
	return "unknown"
}

// hook is set only in floestress builds, and only when FLOE_JITTER is set.
var hook func(Seam)

// At may sleep for a random while when the build and environment enable
// jitter; otherwise it returns at once.
func At(s Seam) {
	if hook != nil {
		hook(s)
	}
}
