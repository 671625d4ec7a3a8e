package postgres

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/jackc/pglogrepl"
)

func TestParseCopyData(t *testing.T) {
	keepalive := func(walEnd uint64, reply byte) []byte {
		b := []byte{pglogrepl.PrimaryKeepaliveMessageByteID}
		b = binary.BigEndian.AppendUint64(b, walEnd)
		b = binary.BigEndian.AppendUint64(b, 0) // server time
		return append(b, reply)
	}
	xlog := []byte{pglogrepl.XLogDataByteID}
	xlog = binary.BigEndian.AppendUint64(xlog, 0x10) // WAL start
	xlog = binary.BigEndian.AppendUint64(xlog, 0x20) // server WAL end
	xlog = binary.BigEndian.AppendUint64(xlog, 0)    // server time
	xlog = append(xlog, "Bpayload"...)

	for _, data := range [][]byte{nil, {'z', 1, 2}} {
		cd, err := ParseCopyData(data)
		if err != nil || cd.Kind != 0 {
			t.Errorf("ParseCopyData(%q) = %+v, %v; want neither set", data, cd, err)
		}
	}

	cd, err := ParseCopyData(keepalive(0x30, 1))
	if err != nil || cd.Kind != pglogrepl.PrimaryKeepaliveMessageByteID ||
		cd.Keepalive.ServerWALEnd != 0x30 || !cd.Keepalive.ReplyRequested {
		t.Errorf("keepalive: got %+v, %v", cd, err)
	}

	cd, err = ParseCopyData(xlog)
	if err != nil || cd.Kind != pglogrepl.XLogDataByteID ||
		cd.XLogData.ServerWALEnd != 0x20 || string(cd.XLogData.WALData) != "Bpayload" {
		t.Fatalf("xlog data: got %+v, %v", cd, err)
	}
	if &cd.XLogData.WALData[0] != &xlog[25] {
		t.Error("xlog data: WALData is a copy, want a slice of the frame")
	}

	for _, c := range []struct {
		data []byte
		want string
	}{
		{keepalive(1, 0)[:10], "parse keepalive"},
		{xlog[:10], "parse xlog data"},
	} {
		if _, err := ParseCopyData(c.data); err == nil || !strings.HasPrefix(err.Error(), c.want+": ") {
			t.Errorf("ParseCopyData(%q): error %v, want one starting %q", c.data, err, c.want)
		}
	}
}
