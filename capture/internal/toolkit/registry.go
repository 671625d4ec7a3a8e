package toolkit

import (
	"context"
	"fmt"
	"sync"

	"github.com/floe-cdc/floe/capture"
)

// Discovered is what a source's own table type (its layout plus the
// source-specific decoders and quoted names) tells the registry.
type Discovered interface {
	// Info returns the table's id and layout.
	Info() capture.TableInfo
}

// Tables is a source's registry of captured tables: installed by
// Discover, read by every later call. The zero value holds no tables.
// Safe for concurrent use; an installed list is never modified, only
// replaced as a whole.
type Tables[T Discovered] struct {
	mu   sync.Mutex
	list []T // in discovery order
	byID map[capture.TableID]T
}

// Set installs the discovered tables, replacing any installed before.
func (r *Tables[T]) Set(list []T) {
	byID := make(map[capture.TableID]T, len(list))
	for _, t := range list {
		byID[t.Info().ID] = t
	}
	r.mu.Lock()
	r.list, r.byID = list, byID
	r.mu.Unlock()
}

// Installed reports whether Set has been called.
func (r *Tables[T]) Installed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byID != nil
}

// Ensure runs discover (the source's Discover, which calls Set) when no
// tables are installed yet.
func (r *Tables[T]) Ensure(ctx context.Context, discover func(context.Context) ([]capture.TableInfo, error)) error {
	if r.Installed() {
		return nil
	}
	_, err := discover(ctx)
	return err
}

// Install is the end of a source's Discover: with no problems it sets the
// discovered tables and returns their infos; otherwise it installs
// nothing and returns the problems as one "discover tables" error.
func (r *Tables[T]) Install(tables []T, problems []capture.Problem) ([]capture.TableInfo, error) {
	if len(problems) > 0 {
		return nil, fmt.Errorf("discover tables: %w", capture.Problems(problems))
	}
	r.Set(tables)
	return TableInfos(tables), nil
}

// Lookup returns table id after running discover when no tables are
// installed yet (see Ensure): for calls that may come before Start.
func (r *Tables[T]) Lookup(ctx context.Context, discover func(context.Context) ([]capture.TableInfo, error), id capture.TableID) (T, error) {
	if err := r.Ensure(ctx, discover); err != nil {
		var zero T
		return zero, err
	}
	return r.Get(id)
}

// Get returns the captured table id; a table not captured is an error.
func (r *Tables[T]) Get(id capture.TableID) (T, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.byID[id]
	if !ok {
		return t, fmt.Errorf("table %s is not captured by this source", id)
	}
	return t, nil
}

// List returns the installed tables in discovery order. The caller must
// not modify the slice.
func (r *Tables[T]) List() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.list
}

// ByID returns a new map of the installed tables by id.
func (r *Tables[T]) ByID() map[capture.TableID]T {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[capture.TableID]T, len(r.list))
	for _, t := range r.list {
		out[t.Info().ID] = t
	}
	return out
}

// Names returns the installed tables' names ("schema.table"), in
// discovery order.
func (r *Tables[T]) Names() []string {
	list := r.List()
	names := make([]string, len(list))
	for i, t := range list {
		names[i] = t.Info().ID.String()
	}
	return names
}

// TableInfos returns the ids and layouts of tables, in their order.
func TableInfos[T Discovered](tables []T) []capture.TableInfo {
	out := make([]capture.TableInfo, len(tables))
	for i, t := range tables {
		out[i] = t.Info()
	}
	return out
}
