package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/checkpoint"
)

// TestAdminTableActionsRefused: the table actions need the token, a
// SCHEMA.TABLE source table, and a run that has recovered its tables;
// each refusal says what to do. (Their effect is tested end to end in
// TestPauseResumeEndToEnd and TestResnapshotOnlineEndToEnd.)
func TestAdminTableActionsRefused(t *testing.T) {
	calls := 0
	a := testAdmin(t, testAdminToken, &calls)
	a.control = checkpoint.NewControl()
	h := a.handler()
	post := func(path, auth string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, path, nil)
		if auth != "" {
			r.Header.Set("Authorization", "Bearer "+auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, action := range []string{"pause", "resume", "resnapshot"} {
		w := post("/actions/"+action+"?table=public.orders", "")
		require.Equal(t, http.StatusUnauthorized, w.Code, action)
		w = post("/actions/"+action+"?table=orders", testAdminToken)
		require.Equal(t, http.StatusBadRequest, w.Code, action)
		require.Contains(t, w.Body.String(), "want the source table as SCHEMA.TABLE")
		w = post("/actions/"+action+"?table=public.orders", testAdminToken)
		require.Equal(t, http.StatusServiceUnavailable, w.Code, action)
		require.Contains(t, w.Body.String(), "not recovered its tables yet")
	}
	require.Empty(t, a.control.PausedTables())

	a.cfg.Source.SnapshotMode = "never"
	w := post("/actions/resnapshot?table=public.orders", testAdminToken)
	require.Equal(t, http.StatusConflict, w.Code)
	require.Contains(t, w.Body.String(), "source.snapshot.mode is never")
}

// TestTableState: a paused table shows paused whatever else holds; a
// pause asked for shows pausing only once nothing else is under way.
func TestTableState(t *testing.T) {
	require.Equal(t, "paused", tableState(checkpoint.TableLive{Paused: true, PauseRequested: true}))
	require.Equal(t, "pausing", tableState(checkpoint.TableLive{PauseRequested: true}))
	require.Equal(t, "snapshotting", tableState(checkpoint.TableLive{PauseRequested: true, Snapshotting: true}))
	require.Equal(t, "streaming", tableState(checkpoint.TableLive{}))
}
