package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/state"
	"github.com/floe-cdc/floe/transform"
)

// checkStateMatchesCatalog refuses to start when the state dir recorded
// committed checkpoints for captured tables that the catalog does not
// have at all: the catalog was deleted or replaced, and starting would
// silently snapshot those tables again into a new, empty catalog. (floe
// resnapshot, which drops tables on purpose, forgets their records.)
func checkStateMatchesCatalog(ctx context.Context, cfg *Config, store *state.Store, cat *lakewriter.Catalog) error {
	records, err := store.Tables()
	if err != nil {
		return err
	}
	router := newRouter(cfg)
	var missing []string
	for key, st := range records {
		if st.Checkpoint <= 0 {
			continue
		}
		sinks := recordedSinks(cfg, router.Target, key)
		if len(sinks) == 0 {
			continue // no longer captured: not this run's business
		}
		found := false
		for _, sink := range sinks {
			_, err := cat.LoadTable(ctx, sink)
			if err == nil {
				found = true
				break
			}
			if !errors.Is(err, lakewriter.ErrNoSuchTable) {
				return err
			}
		}
		if !found {
			missing = append(missing, fmt.Sprintf("%s -> %s (checkpoint %d)", key, sinks[0], st.Checkpoint))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return fmt.Errorf("state.dir %s recorded committed checkpoints for %s, but the catalog %s has no such table: the catalog was deleted or replaced since (fix: restore the catalog; or, if the tables were dropped on purpose or are to be snapshotted again from scratch, delete the state dir %s)",
		store.Dir(), strings.Join(missing, ", "), redactURI(cfg.Sink.Catalog.URI), store.Dir())
}

// recordedSinks maps a state record's key (a source table as
// "schema.table"; a schema or table name may hold dots, so every split is
// tried) to the Iceberg tables the routes give the captured readings.
func recordedSinks(cfg *Config, target func(capture.TableID) transform.Target, key string) []lakewriter.Ident {
	var out []lakewriter.Ident
	for i := strings.Index(key, "."); i >= 0; {
		id := capture.TableID{Schema: key[:i], Name: key[i+1:]}
		if id.Schema != "" && id.Name != "" && captured(cfg, id) {
			t := target(id)
			out = append(out, lakewriter.Ident{Namespace: t.Namespace, Name: t.Name})
		}
		next := strings.Index(key[i+1:], ".")
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return out
}
