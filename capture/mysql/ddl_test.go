package mysql

import "testing"

func TestAlterFillsRows(t *testing.T) {
	for _, tc := range []struct {
		stmt string
		want bool
	}{
		{"ALTER TABLE t ADD COLUMN c INT", false},
		{"ALTER TABLE t ADD c INT NULL DEFAULT NULL", false},
		{"alter table `db`.`t` add column if not exists c varchar(10) comment 'NOT NULL DEFAULT 5'", false},
		{"ALTER TABLE t ADD INDEX i (c), ADD UNIQUE KEY u (d), ADD CONSTRAINT k CHECK (c > 0)", false},
		{"ALTER TABLE t MODIFY c BIGINT NOT NULL DEFAULT 0", false},
		{"ALTER TABLE t DROP COLUMN c, ADD COLUMN d TEXT", false},
		{"ALTER TABLE t CHANGE c c BIGINT", false},
		{"ALTER TABLE t CHANGE COLUMN `c` c BIGINT", false},
		{"ALTER TABLE t ADD COLUMN c INT DEFAULT 0", true},
		{"ALTER TABLE t ADD COLUMN c INT NOT NULL", true},
		{"ALTER TABLE t ADD COLUMN (a INT, b INT DEFAULT 1)", true},
		{"ALTER TABLE t ADD COLUMN c INT AS (a + 1) VIRTUAL", true},
		{"ALTER TABLE t ADD COLUMN c INT GENERATED ALWAYS AS (a + 1) STORED", true},
		{"ALTER TABLE t ADD COLUMN c TIMESTAMP DEFAULT CURRENT_TIMESTAMP", true},
		{"ALTER TABLE t ADD COLUMN c BIGINT AUTO_INCREMENT UNIQUE", true},
		{"ALTER TABLE t /* x */ ADD COLUMN c INT, ALGORITHM=INPLACE, ADD d INT DEFAULT '7'", true},
		{"ALTER TABLE t RENAME COLUMN a TO b", true},
		{"ALTER TABLE t CHANGE a b INT", true},
		{"ALTER TABLE t CHANGE COLUMN IF EXISTS a b INT", true},
	} {
		if got := alterFillsRows(tc.stmt) != ""; got != tc.want {
			t.Errorf("alterFillsRows(%q) = %q, want refused=%v", tc.stmt, alterFillsRows(tc.stmt), tc.want)
		}
	}
}
