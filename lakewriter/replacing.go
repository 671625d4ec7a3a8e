package lakewriter

import "sync"

// fileMarks counts, per data file path, the rewrites in flight that
// replace the file (Table.ReplacingFiles). Safe for concurrent use.
type fileMarks struct {
	mu sync.Mutex
	n  map[string]int
}

// marks returns the marks of table id, shared by every Table the Catalog
// opened for it.
func (c *Catalog) marks(id Ident) *fileMarks {
	m, _ := c.replacing.LoadOrStore(id.String(), &fileMarks{n: map[string]int{}})
	return m.(*fileMarks)
}

// has reports whether a rewrite in flight replaces path.
func (m *fileMarks) has(path string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n[path] > 0
}

// ReplacingFiles marks data files (paths) that a rewrite running outside
// the commit lock will replace, until release is called: meanwhile a
// Commit through any Table of this Catalog deletes a row of a marked file
// by equality, never by position. A position delete names the file it
// applies to and would be dropped with it when the rewrite commits; an
// equality delete applies to the rewritten rows as well, provided the
// rewrite commits its files with the data sequence number of the
// snapshot it read.
//
// The pattern of such a pass: under Maintain, read the table, choose the
// files and mark them (no commit can land between reading and marking);
// write the new files without the lock; under Maintain again, refuse to
// commit over a position delete that landed on a marked file anyway
// (another process), and commit. release may be called more than once.
func (t *Table) ReplacingFiles(paths []string) (release func()) {
	m := t.cat.marks(t.id)
	m.mu.Lock()
	for _, p := range paths {
		m.n[p]++
	}
	m.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range paths {
				if m.n[p]--; m.n[p] <= 0 {
					delete(m.n, p)
				}
			}
		})
	}
}
