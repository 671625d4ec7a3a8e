package lakewriter

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestS3Properties(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	yes, no := true, false
	cases := []struct {
		name string
		opts S3Options
		want map[string]string
	}{
		{"empty: the AWS chain decides", S3Options{}, map[string]string{}},
		{"endpoint defaults the region", S3Options{Endpoint: "http://h:9000"},
			map[string]string{"s3.endpoint": "http://h:9000", "s3.region": "us-east-1"}},
		{"explicit region and keys", S3Options{Region: "eu-west-1", AccessKeyID: "k", SecretAccessKey: "s", SessionToken: "t"},
			map[string]string{"s3.region": "eu-west-1", "s3.access-key-id": "k", "s3.secret-access-key": "s", "s3.session-token": "t"}},
		{"path style on", S3Options{PathStyle: &yes}, map[string]string{"s3.force-virtual-addressing": "false"}},
		{"path style off", S3Options{Endpoint: "http://h", Region: "r", PathStyle: &no},
			map[string]string{"s3.endpoint": "http://h", "s3.region": "r", "s3.force-virtual-addressing": "true"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, map[string]string(tc.opts.properties()))
		})
	}
}

func TestS3Warehouse(t *testing.T) {
	for in, want := range map[string]string{
		"s3://b/wh/": "s3://b/wh", "s3a://b": "s3a://b", "s3://b/a/b//": "s3://b/a/b",
		"s3:///x": "error", "s3://k:s@b/x": "error", "s3://b/x?y=1": "error",
	} {
		got, err := s3Warehouse(in)
		if want == "error" {
			require.Error(t, err, in)
			require.NotContains(t, err.Error(), ":s@", in)
			continue
		}
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
}
