package lakewriter

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	iceio "github.com/apache/iceberg-go/io"
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

// TestS3ReadErrorsKeepTheirCause: a read that fails on the network reads
// as that failure, and only a 404 from the server reads as a missing file
// (fs.ErrNotExist), whatever the text of the request holds. gocloud's S3
// driver before v0.49 took every failed request whose error text held
// "301" (meant for a redirect status) for a missing bucket: a reset
// connection to a port like 39301, or a key like 00005-…-7d3015ff41f1,
// then read as "file does not exist", and floe stopped on a table whose
// catalog points at that file instead of restarting from its committed
// positions (TestFaults/s3 met it twice).
func TestS3ReadErrorsKeepTheirCause(t *testing.T) {
	ctx := context.Background()
	// A server that resets every connection unanswered (an RST: a
	// connection that just closes reads as io.EOF, which gocloud passes
	// on unclassified).
	dropper, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { dropper.Close() })
	go func() {
		for {
			c, err := dropper.Accept()
			if err != nil {
				return
			}
			_ = c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	// A server that answers every request with S3's 404 for a missing key.
	missing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`)
	}))
	t.Cleanup(missing.Close)

	read := func(endpoint, key string) error {
		t.Helper()
		props := S3Options{Endpoint: endpoint, AccessKeyID: "k", SecretAccessKey: "s"}.properties()
		fsys, err := iceio.LoadFS(ctx, props, "s3://lake/wh")
		require.NoError(t, err)
		_, err = fsys.(iceio.ReadFileIO).ReadFile("s3://lake/wh/" + key)
		require.Error(t, err)
		return err
	}
	for _, key := range []string{"00005-5b999e15-06c1-4ac5-887b-7d3015ff41f1.metadata.json", "00006-64ef84ce.metadata.json"} {
		err := read("http://"+dropper.Addr().String(), key)
		require.False(t, errors.Is(err, fs.ErrNotExist), "a dropped connection reads as a missing file: %v", err)
		require.True(t, errors.Is(read(missing.URL, key), fs.ErrNotExist), "a 404 does not read as a missing file")
	}
}
