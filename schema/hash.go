package schema

// FNV-1a 64-bit parameters (a fixed, process-independent hash).
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// HashRow returns a 64-bit FNV-1a hash of the key encoding (see codec.go)
// of r's values in the columns cols, in that order. It is stable across
// processes, machines and releases (pinned by a golden test), and equal
// canonical values hash equally (-0 and +0, all NaNs). Order-independent
// table digests are built by combining (summing) the hashes of its rows.
func HashRow(t *Table, r Row, cols []int) uint64 {
	var buf [128]byte
	h := uint64(fnvOffset64)
	for _, c := range cols {
		b := appendKeyValue(buf[:0], r[c], t.Columns[c].Type)
		for _, x := range b {
			h ^= uint64(x)
			h *= fnvPrime64
		}
	}
	return h
}
