package ledger

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// goldenDeadLetters is the case of testdata/deadletters.golden.
var goldenDeadLetters = DeadLetters{Pipeline: "shop", Tables: map[string]DeadLetterMark{
	"public.orders": {Position: "pg.v1:0/16B3748", Checkpoint: 7, Count: 3},
	"public.prices": {Position: "pg.v1:0/15F0010", Checkpoint: 2, Count: 1},
}}

// TestDeadLettersGolden pins the summary properties of a dead-letter
// commit, a persisted format.
func TestDeadLettersGolden(t *testing.T) {
	b, err := json.MarshalIndent(goldenDeadLetters.Props(4, 7), "", "  ")
	require.NoError(t, err)
	golden := filepath.Join("testdata", "deadletters.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, b, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(b), "the dead-letter properties changed: bump DeadLettersVersion and rerun with -update")
}

func TestParseDeadLetters(t *testing.T) {
	props := goldenDeadLetters.Props(4, 7)
	got, err := ParseDeadLetters(props[PropDeadLetters])
	require.NoError(t, err)
	want := goldenDeadLetters
	want.Version = DeadLettersVersion
	require.Equal(t, want, got)
	require.Equal(t, "shop/4/7", props[PropDeadLettersCommit])
	require.True(t, DeadLettersOf("shop")(props))
	require.False(t, DeadLettersOf("other")(props))
	require.False(t, DeadLettersOf("shop")(map[string]string{PropPipeline: "shop"}))

	_, err = ParseDeadLetters(`{"v":2,"pipeline":"shop","tables":{}}`)
	require.ErrorContains(t, err, "version 2")
	_, err = ParseDeadLetters(`{`)
	require.Error(t, err)
}
