package transform

import (
	"regexp"
	"strings"
	"testing"

	"github.com/floe-cdc/floe/capture"
)

func TestRouterTarget(t *testing.T) {
	r := NewRouter("lake", []Route{
		{Source: regexp.MustCompile(`public\.orders`), Namespace: "sales", Name: "orders_v2", Key: []string{"id"}},
		{Source: regexp.MustCompile(`app\.(.*)`), Name: "app_$1"},
		{Source: regexp.MustCompile(`audit\..*`), Namespace: "audit"},
		{Source: regexp.MustCompile(`public\.t`)}, // matches public.t only, not public.tx
	})
	cases := []struct {
		id   capture.TableID
		want Target
	}{
		{capture.TableID{Schema: "public", Name: "orders"}, Target{Namespace: "sales", Name: "orders_v2", Key: []string{"id"}}},
		{capture.TableID{Schema: "public", Name: "orders_old"}, Target{Namespace: "lake", Name: "orders_old", Key: nil}},
		{capture.TableID{Schema: "app", Name: "users"}, Target{Namespace: "lake", Name: "app_users", Key: nil}},
		{capture.TableID{Schema: "audit", Name: "log"}, Target{Namespace: "audit", Name: "log", Key: nil}},
		{capture.TableID{Schema: "public", Name: "t"}, Target{Namespace: "lake", Name: "t", Key: nil}},
		{capture.TableID{Schema: "public", Name: "tx"}, Target{Namespace: "lake", Name: "tx", Key: nil}},
		{capture.TableID{Schema: "xapp", Name: "users"}, Target{Namespace: "lake", Name: "users", Key: nil}},
	}
	for _, c := range cases {
		got := r.Target(c.id)
		if got.Namespace != c.want.Namespace || got.Name != c.want.Name || strings.Join(got.Key, ",") != strings.Join(c.want.Key, ",") {
			t.Errorf("Target(%s) = %+v, want %+v", c.id, got, c.want)
		}
	}
}

func TestRouterValidate(t *testing.T) {
	id := func(s, n string) capture.TableID { return capture.TableID{Schema: s, Name: n} }
	cases := []struct {
		name   string
		routes []Route
		ids    []capture.TableID
		want   []string // substrings of the error; none = valid
	}{
		{"distinct", nil, []capture.TableID{id("public", "a"), id("public", "b")}, nil},
		{"same name in two schemas", nil, []capture.TableID{id("s1", "a"), id("s2", "a")},
			[]string{"tables s1.a and s2.a both write to sink table lake.a"}},
		{"merge by route", []Route{{Source: regexp.MustCompile(`shard\d\.orders`), Name: "orders"}},
			[]capture.TableID{id("shard1", "orders"), id("shard2", "orders"), id("shard3", "orders")},
			[]string{"route[0].sink-table: tables shard1.orders, shard2.orders and shard3.orders all write to sink table lake.orders (fix: give each table its own sink table"}},
		{"a route that matches no table", []Route{{Source: regexp.MustCompile(`^(?:public\.orderz)$`), Name: "o"}},
			[]capture.TableID{id("public", "orders")},
			[]string{"route[0].source-table: public\\.orderz matches none of the captured tables, so the route never applies (fix: correct the pattern"}},
		{"a route shadowed by an earlier one", []Route{{Source: regexp.MustCompile(`public\..*`), Namespace: "p"}, {Source: regexp.MustCompile(`public\.a`), Name: "a2"}},
			[]capture.TableID{id("public", "a"), id("public", "b")},
			[]string{"route[1].source-table: every table it matches (public.a) is routed by route[0], which comes first, so this route never applies"}},
		{"routed apart", []Route{{Source: regexp.MustCompile(`s2\.a`), Name: "a2"}},
			[]capture.TableID{id("s1", "a"), id("s2", "a")}, nil},
		{"empty name", []Route{{Source: regexp.MustCompile(`s\.(x*)a`), Name: "$1"}},
			[]capture.TableID{id("s", "a")}, []string{"route[0].sink-table: table s.a maps to an empty sink table name"}},
		{"duplicate id is fine", nil, []capture.TableID{id("s", "a"), id("s", "a")}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := NewRouter("lake", c.routes).Validate(c.ids)
			if err != nil && strings.Count(err.Error(), "\n")+1 != len(c.want) {
				t.Errorf("%d problems, want %d (one per sink table or route): %v", strings.Count(err.Error(), "\n")+1, len(c.want), err)
			}
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestRouterValidateTargets: a subset of the captured tables (floe
// resnapshot's) is checked for its targets only: routes for other tables
// are not reported.
func TestRouterValidateTargets(t *testing.T) {
	r := NewRouter("lake", []Route{{Source: regexp.MustCompile(`public\.orders`), Name: "o"}, {Source: regexp.MustCompile(`s\d\.a`), Name: "a"}})
	if err := r.ValidateTargets([]capture.TableID{{Schema: "public", Name: "orders"}}); err != nil {
		t.Fatalf("subset: %v", err)
	}
	if err := r.Validate([]capture.TableID{{Schema: "public", Name: "orders"}}); err == nil || !strings.Contains(err.Error(), "route[1].source-table") {
		t.Fatalf("whole set: %v, want the unused route[1] reported", err)
	}
	err := r.ValidateTargets([]capture.TableID{{Schema: "s1", Name: "a"}, {Schema: "s2", Name: "a"}})
	if err == nil || err.Error() != "route[1].sink-table: tables s1.a and s2.a both write to sink table lake.a (fix: give each table its own sink table (a sink-table may use the source-table pattern's groups, e.g. orders_$1))" {
		t.Fatalf("collision: %v", err)
	}
}
