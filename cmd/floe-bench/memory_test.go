package main

import "testing"

func TestBlobStatements(t *testing.T) {
	g := newBlobGen(8, true)
	for _, tc := range []struct {
		op     blobOp
		my, pg string
		nargs  int
	}{
		{blobOp{blobInsert, 7}, "INSERT INTO blobs VALUES (?, ?, ?, ?)", "INSERT INTO blobs VALUES ($1, $2, $3, $4)", 4},
		{blobOp{blobNote, 7}, "UPDATE blobs SET note = CONCAT(note, '+') WHERE id = ?", "UPDATE blobs SET note = CONCAT(note, '+') WHERE id = $1", 1},
		{blobOp{blobReplace, 7}, "UPDATE blobs SET body = ?, data = ? WHERE id = ?", "UPDATE blobs SET body = $1, data = $2 WHERE id = $3", 3},
		{blobOp{blobDelete, 7}, "DELETE FROM blobs WHERE id = ?", "DELETE FROM blobs WHERE id = $1", 1},
	} {
		for _, d := range []struct {
			param func(int) string
			want  string
		}{{myParam, tc.my}, {pgParam, tc.pg}} {
			got, args := blobStmt(tc.op, g, d.param)
			if got != d.want || len(args) != tc.nargs {
				t.Errorf("op %v: %q with %d args, want %q with %d", tc.op, got, len(args), d.want, tc.nargs)
			}
		}
	}
	if got := resetBlobs("(id int)"); got != "DROP TABLE IF EXISTS blobs; CREATE TABLE blobs (id int)" {
		t.Errorf("resetBlobs: %q", got)
	}
}
