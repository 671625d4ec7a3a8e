package lakewriter

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestOptionsDefaults pins the documented defaults (README: sink:).
func TestOptionsDefaults(t *testing.T) {
	require.Equal(t, Options{CatalogType: "sql", CatalogName: "floe", Timeout: time.Minute,
		DeleteMode: "auto", PositionDeletesMaxKeys: 1_000_000}, Defaults())
	o := Options{URI: "sqlite:c.db", Warehouse: "w"}.withDefaults()
	require.Equal(t, "sql", o.CatalogType)
	require.Equal(t, "floe", o.CatalogName)
	require.Equal(t, DefaultTimeout, o.Timeout)
	require.NotNil(t, o.Logger)
}

// TestOptionsValidate: a bad value names its field and the fix, and
// never quotes a secret.
func TestOptionsValidate(t *testing.T) {
	good := Defaults()
	good.URI, good.Warehouse = "sqlite:///var/lib/floe/catalog.db", "/var/lib/floe/warehouse"
	require.Empty(t, good.Validate())
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"catalog type", func(o *Options) { o.CatalogType = "rets" }, `sink.catalog.type: unknown value "rets" (fix: use sql or rest or glue (did you mean rest?))`},
		{"catalog name", func(o *Options) { o.CatalogName = "" }, "sink.catalog.name: required (fix: set a catalog name"},
		{"sqlite host", func(o *Options) { o.URI = "sqlite://cat.db" }, `sink.catalog.uri: "sqlite://cat.db" is not a SQLite file path (fix: use sqlite:///absolute/path.db`},
		{"uri password", func(o *Options) { o.URI = "mysql://u:secret@h/db" }, `sink.catalog.uri: unsupported catalog URI "mysql://u:xxxxx@h/db"`},
		{"rest uri", func(o *Options) { o.CatalogType, o.URI = "rest", "" }, "sink.catalog.uri: required for a rest catalog"},
		{"rest both", func(o *Options) { o.CatalogType, o.URI, o.Credential, o.Token = "rest", "http://r", "a:secret", "t" }, "sink.catalog.token: credential and token are both set"},
		{"token on sql", func(o *Options) { o.Token = "t" }, "sink.catalog.credential: credential and token apply to rest catalogs only"},
		{"glue", func(o *Options) { o.CatalogType = "glue" }, "sink.warehouse: the glue catalog needs an s3:// warehouse"},
		{"no warehouse", func(o *Options) { o.Warehouse = "" }, "sink.warehouse: required"},
		{"s3 bucket", func(o *Options) { o.Warehouse = "s3:///wh" }, `sink.warehouse: bad S3 warehouse "s3:///wh" (fix: write s3://bucket/prefix)`},
		{"s3 credentials", func(o *Options) { o.Warehouse = "s3://k:secret@b/wh" }, "sink.warehouse: \"s3://k:xxxxx@b/wh\" carries credentials"},
		{"gs", func(o *Options) { o.Warehouse = "gs://b/wh" }, "sink.warehouse: gs:// warehouses are not supported yet"},
		{"s3n", func(o *Options) { o.Warehouse = "s3n://b/wh" }, `sink.warehouse: unsupported warehouse URI "s3n://b/wh"`},
		{"s3 endpoint", func(o *Options) { o.S3.Endpoint = "127.0.0.1:9000" }, `sink.s3.endpoint: "127.0.0.1:9000" is not an http:// or https:// URL`},
		{"s3 key pair", func(o *Options) { o.S3.SecretAccessKey = "k:secret" }, "sink.s3.access-key-id: only one of the key pair is set"},
		{"timeout", func(o *Options) { o.Timeout = 0 }, "sink.timeout: 0s is not positive"},
		{"delete mode", func(o *Options) { o.DeleteMode = "position" }, `sink.delete-mode: unknown value "position" (fix: use auto or equality`},
		{"max keys", func(o *Options) { o.PositionDeletesMaxKeys = -1 }, "sink.position-deletes-max-keys: -1 is negative"},
	} {
		o := good
		tc.edit(&o)
		ps := o.Validate()
		require.Len(t, ps, 1, "%s: %v", tc.name, ps)
		require.True(t, strings.HasPrefix(ps[0].Error(), tc.want), "%s: %q, want it to start %q", tc.name, ps[0].Error(), tc.want)
		require.NotEmpty(t, ps[0].Fix, tc.name)
		require.NotContains(t, ps[0].Error(), ":secret", tc.name)
	}
	// A rest catalog takes any warehouse, or none: the server decides.
	rest := Options{CatalogType: "rest", CatalogName: "floe", URI: "https://cat.example/api", Warehouse: "wh-name", Timeout: time.Second}
	require.Empty(t, rest.Validate())
	rest.Warehouse = ""
	require.Empty(t, rest.Validate())
	// A relative SQLite path is the working directory's.
	rel := good
	rel.URI = "sqlite:sub/c.db"
	require.Empty(t, rel.Validate())
}
