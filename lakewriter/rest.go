package lakewriter

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/glue"
	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/aws/aws-sdk-go-v2/config"
)

// openREST connects to an Iceberg REST catalog at opts.URI (checked by
// Options.Validate). The
// warehouse, when set, is passed to the server as is (a location or a
// warehouse name, depending on the server); table locations come from the
// server. The S3 options reach the file IO of every table the catalog
// returns (server-vended settings and credentials take precedence).
func openREST(ctx context.Context, name string, opts Options, props iceberg.Properties) (catalog.Catalog, error) {
	ro := []rest.Option{rest.WithAdditionalProps(props), rest.WithCustomTransport(restTransport(opts.Timeout))}
	if opts.Credential != "" {
		ro = append(ro, rest.WithCredential(opts.Credential))
	}
	if opts.Token != "" {
		ro = append(ro, rest.WithOAuthToken(opts.Token))
	}
	if opts.Warehouse != "" {
		ro = append(ro, rest.WithWarehouseLocation(opts.Warehouse))
	}
	cat, err := rest.NewCatalog(ctx, name, opts.URI, ro...)
	if err != nil {
		return nil, restAuthError(opts, err)
	}
	return cat, nil
}

// restAuthError names the setting behind a refused connection (the
// client's first request, GET /v1/config, is already authenticated) and
// its fix; other errors keep the catalog's URI as context. The cause
// stays wrapped.
func restAuthError(opts Options, err error) error {
	uri := redactURI(opts.URI)
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err // the URL is GET /v1/config, whatever failed
	}
	// iceberg-go reports both an OAuth2 error answer of the token endpoint
	// and a failure to reach it as ErrOAuthError; only the latter carries
	// ErrOAuthError's own text.
	tokenRefused := errors.Is(err, rest.ErrOAuthError) && !strings.Contains(err.Error(), rest.ErrOAuthError.Error())
	refused := errors.Is(err, rest.ErrUnauthorized) || errors.Is(err, rest.ErrForbidden) ||
		errors.Is(err, rest.ErrAuthorizationExpired)
	switch {
	case opts.Credential != "" && tokenRefused:
		return fmt.Errorf("sink.catalog.credential: the REST catalog at %s issued no token for these client credentials: %w; "+
			"check the client id and secret (client_id:client_secret)", uri, cause)
	case opts.Credential != "" && refused:
		return fmt.Errorf("sink.catalog.credential: the REST catalog at %s refused the token issued for these client credentials: %w; "+
			"check that the client may use the catalog", uri, cause)
	case opts.Token != "" && refused:
		return fmt.Errorf("sink.catalog.token: the REST catalog at %s refused the bearer token: %w; "+
			"check the token or issue a new one", uri, cause)
	case refused:
		return fmt.Errorf("sink.catalog: the REST catalog at %s requires authentication: %w; "+
			"set sink.catalog.credential (client_id:client_secret) or sink.catalog.token", uri, cause)
	}
	return fmt.Errorf("connect to rest catalog %s: %w", uri, err)
}

// openGlue opens the AWS Glue catalog of the account and region the AWS
// SDK's standard chain resolves (S3Options.Region overrides the region).
// New tables are placed under the warehouse, which must be an s3:// URI.
// Untested here: no Glue endpoint is reachable from the test machines.
func openGlue(ctx context.Context, opts Options, warehouse string, props iceberg.Properties) (catalog.Catalog, error) {
	var lo []func(*config.LoadOptions) error
	if opts.S3.Region != "" {
		lo = append(lo, config.WithRegion(opts.S3.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, fmt.Errorf("load aws configuration for glue: %w", err)
	}
	gp := glue.AwsProperties{"warehouse": warehouse}
	for k, v := range props {
		gp[k] = v
	}
	cat, err := glue.NewCatalog(glue.WithAwsConfig(cfg), glue.WithAwsProperties(gp))
	if err != nil {
		return nil, fmt.Errorf("open glue catalog: %w", err)
	}
	return cat, nil
}
