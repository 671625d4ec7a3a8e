package main

import (
	"os"
	"strings"
	"testing"

	"github.com/floe-cdc/floe/capture/postgres"
)

// TestReadmeDDLTriggerSQL: the README gives the event trigger's SQL for a
// superuser to run; it must be the SQL floe check --fix runs.
func TestReadmeDDLTriggerSQL(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```sql\n"+postgres.DDLTriggerSQL+"\n```") {
		t.Fatalf("README.md does not give postgres.DDLTriggerSQL verbatim in an sql block:\n%s", postgres.DDLTriggerSQL)
	}
}
