package lakewriter

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	_ "github.com/apache/iceberg-go/io/gocloud/s3" // registers the s3://, s3a:// and s3n:// file IO

	"github.com/floe-cdc/floe/schema/problem"
)

// S3Options configures access to S3 (or an S3-compatible server) for an
// s3:// warehouse and for the S3 table locations a REST or Glue catalog
// hands out. Every field is optional: an empty one falls back to the AWS
// SDK's standard chain (AWS_ACCESS_KEY_ID, AWS_REGION, ~/.aws/config,
// instance roles, ...).
type S3Options struct {
	// Endpoint is the S3 API base URL of an S3-compatible server, e.g.
	// http://127.0.0.1:9000; empty = AWS.
	Endpoint string
	// Region is the signing region. Empty: the SDK chain, and "us-east-1"
	// when an Endpoint is set and the environment names no region
	// (S3-compatible servers rarely care, but SigV4 needs one).
	Region string
	// PathStyle selects path-style (true: http://host/bucket/key) or
	// virtual-hosted (false: http://bucket.host/key) requests; nil = path
	// style exactly when an Endpoint is set.
	PathStyle *bool
	// AccessKeyID and SecretAccessKey are a static key pair (both or
	// neither); SessionToken optionally goes with them.
	AccessKeyID, SecretAccessKey, SessionToken string
}

// properties returns the iceberg-go FileIO properties for o.
func (o S3Options) properties() iceberg.Properties {
	p := iceberg.Properties{}
	if o.Endpoint != "" {
		p[iceio.S3EndpointURL] = o.Endpoint
	}
	region := o.Region
	if region == "" && o.Endpoint != "" && os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
		region = "us-east-1"
	}
	if region != "" {
		p[iceio.S3Region] = region
	}
	if o.PathStyle != nil {
		p[iceio.S3ForceVirtualAddressing] = strconv.FormatBool(!*o.PathStyle)
	}
	if o.AccessKeyID != "" {
		p[iceio.S3AccessKeyID] = o.AccessKeyID
		p[iceio.S3SecretAccessKey] = o.SecretAccessKey
		if o.SessionToken != "" {
			p[iceio.S3SessionToken] = o.SessionToken
		}
	}
	return p
}

// isS3 reports whether a warehouse or location URI is on S3.
func isS3(uri string) bool {
	scheme, _, ok := strings.Cut(uri, "://")
	if !ok {
		return false
	}
	switch strings.ToLower(scheme) {
	case "s3", "s3a", "s3n":
		return true
	}
	return false
}

// s3Warehouse checks an s3://bucket[/prefix] warehouse and returns it
// without a trailing slash; a bad one is a problem.Problem of
// sink.warehouse (Options.Validate reports it).
func s3Warehouse(w string) (string, error) {
	if u, err := url.Parse(w); err != nil || u.Host == "" {
		return "", problem.New("sink.warehouse", "write s3://bucket/prefix", "bad S3 warehouse %q", redactURI(w))
	} else if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", problem.New("sink.warehouse", "write s3://bucket/prefix and put credentials in sink.s3",
			"%q carries credentials, a query or a fragment", redactURI(w))
	}
	return strings.TrimRight(w, "/"), nil
}

// checkFileIO builds the file IO for location with props once, so that a
// bad S3 setting fails Open instead of the first commit. It does not
// contact the server.
func checkFileIO(ctx context.Context, props iceberg.Properties, location string) error {
	if _, err := iceio.LoadFS(ctx, props, location); err != nil {
		return fmt.Errorf("sink.s3: prepare file io for %s: %w", location, err)
	}
	return nil
}
