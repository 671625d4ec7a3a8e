package ledger

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRegistryTablePropsGolden pins the table properties recording a
// registry entry, a persisted format, and parses them back.
func TestRegistryTablePropsGolden(t *testing.T) {
	e := RegistryEntry{Subject: "shop.public.orders-value", ID: 17, Version: 3}
	b, err := json.MarshalIndent(e.TableProps(), "", "  ")
	require.NoError(t, err)
	golden := filepath.Join("testdata", "tableprops.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, b, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(b), "the registry table properties changed: existing tables carry the old ones")

	got, err := RegistryOf(e.TableProps())
	require.NoError(t, err)
	require.Equal(t, &e, got)
	got, err = RegistryOf(map[string]string{"floe.table-version": "1"})
	require.NoError(t, err)
	require.Nil(t, got)
	_, err = RegistryOf(map[string]string{PropRegistrySubject: "s"})
	require.ErrorContains(t, err, "not all set")
	_, err = RegistryOf(map[string]string{PropRegistrySubject: "s", PropRegistrySchemaID: "x", PropRegistryVersion: "1"})
	require.ErrorContains(t, err, PropRegistrySchemaID)
}
