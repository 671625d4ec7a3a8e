package main

import (
	"net/url"
	"strings"
)

// sinkCatalog checks sink.catalog.uri / credential / token, sink.warehouse
// and sink.s3 for the catalog type. Secrets are never quoted.
func (v *validator) sinkCatalog(k SinkConfig) {
	switch k.Catalog.Type {
	case "sql":
		const uriFix = "use sqlite:///absolute/path.db, sqlite:relative.db or postgres://user@host/db"
		if p, ok := strings.CutPrefix(k.Catalog.URI, "sqlite:"); ok {
			if p = strings.TrimPrefix(p, "//"); !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#") {
				v.add("sink.catalog.uri", uriFix, "%q is not a SQLite file path", k.Catalog.URI)
			}
		} else if sc := uriScheme(k.Catalog.URI); sc != "postgres" && sc != "postgresql" {
			v.add("sink.catalog.uri", uriFix, "unsupported catalog URI %q", redactURI(k.Catalog.URI))
		}
	case "rest":
		const uriFix = "set the REST catalog's base URL, e.g. http://127.0.0.1:8181"
		if k.Catalog.URI == "" {
			v.add("sink.catalog.uri", uriFix, "required for a rest catalog")
		} else if u, err := url.Parse(k.Catalog.URI); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add("sink.catalog.uri", uriFix, "%q is not an http:// or https:// URL", redactURI(k.Catalog.URI))
		} else if u.User != nil {
			v.add("sink.catalog.uri", "put credentials in sink.catalog.credential or token", "the URI carries credentials")
		}
		if k.Catalog.Credential != "" && k.Catalog.Token != "" {
			v.add("sink.catalog.token", "keep one of credential and token", "credential and token are both set")
		}
	case "glue":
		if uriScheme(k.Warehouse) != "s3" {
			v.add("sink.warehouse", "set s3://bucket/prefix", "the glue catalog needs an s3:// warehouse")
		}
	}
	if k.Catalog.Type != "rest" && (k.Catalog.Credential != "" || k.Catalog.Token != "") {
		v.add("sink.catalog.credential", "remove it, or use `type: rest`", "credential and token apply to rest catalogs only")
	}
	switch sc := uriScheme(k.Warehouse); {
	case k.Warehouse == "" && k.Catalog.Type == "rest": // the server decides
	case k.Warehouse == "":
		v.add("sink.warehouse", "set a local directory or s3://bucket/prefix", "required")
	case k.Catalog.Type == "rest": // a location or a warehouse name, as the server expects
	case sc == "s3" || sc == "s3a":
		if u, err := url.Parse(k.Warehouse); err != nil || u.Host == "" {
			v.add("sink.warehouse", "write s3://bucket/prefix", "bad S3 warehouse %q", redactURI(k.Warehouse))
		}
	case sc == "gs" || sc == "abfs" || sc == "abfss":
		v.add("sink.warehouse", "use a local path, file:// URI or s3://bucket/prefix", "%s:// warehouses are not supported yet", sc)
	case sc != "" && sc != "file":
		v.add("sink.warehouse", "use a local path, file:// URI or s3://bucket/prefix", "unsupported warehouse URI %q", redactURI(k.Warehouse))
	}
	s3 := k.S3
	if s3.Endpoint != "" {
		if u, err := url.Parse(s3.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add("sink.s3.endpoint", "write the server's URL, e.g. http://127.0.0.1:9000", "%q is not an http:// or https:// URL", s3.Endpoint)
		}
	}
	if (s3.AccessKeyID == "") != (s3.SecretAccessKey == "") {
		v.add("sink.s3.access-key-id", "set both access-key-id and secret-access-key, or neither to use the AWS credential chain",
			"only one of the key pair is set")
	}
}

// mask is "***" for a set secret and "" for an unset one.
func mask(secret string) string {
	if secret == "" {
		return ""
	}
	return "***"
}

// optBool renders an optional boolean; "" = unset.
func optBool(b *bool) string {
	if b == nil {
		return ""
	}
	if *b {
		return "true"
	}
	return "false"
}
