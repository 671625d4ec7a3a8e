package main

import (
	"slices"
	"time"
)

// rawTally is a raw decoder's count (RawDecode of either source): its
// changes and, when collecting, each transaction's tables, end and commit
// time, until the first transaction that ends after marker. K is the
// stream's table id (a pgoutput relation id, a binlog table id).
type rawTally[K comparable] struct {
	res     decodeResult
	cur     txnInfo
	names   map[K]string // table id -> bare table name, from the stream's table descriptions
	collect bool
	marker  pos
	start   time.Time
}

func newRawTally[K comparable](marker pos, collect bool, start time.Time) *rawTally[K] {
	return &rawTally[K]{names: map[K]string{}, collect: collect, marker: marker, start: start}
}

// change counts n row changes of table id in the current transaction.
func (t *rawTally[K]) change(n int, id K) {
	t.cur.Changes += n
	t.res.Changes += int64(n)
	if t.collect && !slices.Contains(t.cur.Tables, t.names[id]) {
		t.cur.Tables = append(t.cur.Tables, t.names[id])
	}
}

// commit ends the current transaction at end, committed at at (read only
// when collecting). It reports whether the read is complete: the
// transaction ends after marker; then res.Elapsed is set.
func (t *rawTally[K]) commit(end pos, at time.Time) bool {
	if t.collect && t.cur.Changes > 0 {
		t.cur.End, t.cur.Commit = end, at
		t.res.Txns = append(t.res.Txns, t.cur)
	}
	t.cur = txnInfo{}
	if end <= t.marker {
		return false
	}
	t.res.Elapsed = time.Since(t.start)
	return true
}
