package postgres

import (
	"fmt"

	"github.com/jackc/pglogrepl"
)

// CopyData is one message the server sends in the CopyData frames of a
// replication stream: a primary keepalive or WAL data, as Kind says
// (pglogrepl.PrimaryKeepaliveMessageByteID or pglogrepl.XLogDataByteID),
// with that field set. Kind 0: an empty frame or a message of another
// kind, which a reader skips. It holds values, not pointers, so that
// parsing a message allocates nothing.
type CopyData struct {
	Kind      byte
	Keepalive pglogrepl.PrimaryKeepaliveMessage
	// XLogData's WALData is a slice of the frame's data, not a copy: it is
	// valid only while the frame is (until the next message is received).
	XLogData pglogrepl.XLogData
}

// ParseCopyData parses the data of one CopyData frame of a replication
// stream. The error of a malformed keepalive or WAL data message names
// which it was.
func ParseCopyData(data []byte) (CopyData, error) {
	var cd CopyData
	if len(data) == 0 {
		return cd, nil
	}
	var err error
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		if cd.Keepalive, err = pglogrepl.ParsePrimaryKeepaliveMessage(data[1:]); err != nil {
			return CopyData{}, fmt.Errorf("parse keepalive: %w", err)
		}
	case pglogrepl.XLogDataByteID:
		if cd.XLogData, err = pglogrepl.ParseXLogData(data[1:]); err != nil {
			return CopyData{}, fmt.Errorf("parse xlog data: %w", err)
		}
	default:
		return cd, nil
	}
	cd.Kind = data[0]
	return cd, nil
}
