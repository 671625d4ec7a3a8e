package ledger

// Summary property keys of a compaction rewrite snapshot. Together they
// are a persisted format: CompactionVersion changes whenever their
// meaning does. A rewrite snapshot never carries PropPipeline.
const (
	// PropCompaction holds the id of the pass that wrote the snapshot.
	PropCompaction = "floe.compaction"
	// PropCompactionVersion is the version of the compaction property set.
	PropCompactionVersion = "floe.compaction-version"
	// CompactionVersion is the value of PropCompactionVersion written by
	// this build.
	CompactionVersion = "1"
)

// CompactionProps returns the summary properties of the rewrite snapshot
// of pass id.
func CompactionProps(id string) map[string]string {
	return map[string]string{PropCompaction: id, PropCompactionVersion: CompactionVersion}
}

// IsPass reports whether a snapshot summary is the rewrite snapshot of
// pass id.
func IsPass(props map[string]string, id string) bool { return props[PropCompaction] == id }

// IsCompaction reports whether a snapshot summary is a rewrite snapshot of
// any pass.
func IsCompaction(props map[string]string) bool { return props[PropCompaction] != "" }
