package mysql

import "testing"

// TestAlterPartitionRows: partition operations that remove or bring in
// rows without row events are refused like a column filled by the server;
// those that keep every row are followed.
func TestAlterPartitionRows(t *testing.T) {
	for _, tc := range []struct {
		stmt string
		want bool
	}{
		{"ALTER TABLE t TRUNCATE PARTITION p0", true},
		{"ALTER TABLE t TRUNCATE PARTITION p0, p1", true},
		{"alter table `db`.`t` drop partition p2", true},
		{"ALTER TABLE t EXCHANGE PARTITION p0 WITH TABLE t2", true},
		{"ALTER TABLE t CONVERT PARTITION p0 TO TABLE t_old", true},
		{"ALTER TABLE t CONVERT TABLE t_new TO PARTITION p9 VALUES LESS THAN (100)", true},
		{"ALTER TABLE t DISCARD PARTITION p0 TABLESPACE", true},
		{"ALTER TABLE t IMPORT PARTITION p0 TABLESPACE", true},
		{"ALTER TABLE t ADD PARTITION (PARTITION p3 VALUES LESS THAN (9000))", false},
		{"ALTER TABLE t REORGANIZE PARTITION p2, p3 INTO (PARTITION p23 VALUES LESS THAN (9000))", false},
		{"ALTER TABLE t COALESCE PARTITION 2", false},
		{"ALTER TABLE t REBUILD PARTITION p0", false},
		{"ALTER TABLE t REMOVE PARTITIONING", false},
		{"ALTER TABLE t PARTITION BY HASH (id) PARTITIONS 4", false},
		{"ALTER TABLE t DROP COLUMN c", false},
		{"ALTER TABLE t DROP INDEX i", false},
	} {
		if got := alterFillsRows(tc.stmt) != ""; got != tc.want {
			t.Errorf("alterFillsRows(%q) = %q, want refused=%v", tc.stmt, alterFillsRows(tc.stmt), tc.want)
		}
	}
}
