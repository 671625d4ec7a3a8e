package interop

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// S3Server is a running versitygw serving Dir over S3 at Endpoint
// (path-style addressing) with one root key pair. Every directory directly
// under Dir is a bucket.
type S3Server struct {
	Endpoint             string // http://127.0.0.1:PORT
	Region               string // the region clients sign for
	AccessKey, SecretKey string
	Dir                  string
	proc                 *process
}

// StartS3 installs versitygw when needed (deploy/s3/install-versitygw.sh)
// and starts it with the posix backend on a fresh temporary directory.
func StartS3(ctx context.Context) (*S3Server, error) {
	bin, err := runScript(ctx, "s3/install-versitygw.sh")
	if err != nil {
		return nil, err
	}
	dir, port, err := workDir("s3")
	if err != nil {
		return nil, err
	}
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("create s3 root: %w", err)
	}
	s := &S3Server{Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), Region: "us-east-1",
		AccessKey: "floe-test-key", SecretKey: "floe-test-secret-0123456789", Dir: root}
	// The access log (one line per request, kept beside versitygw.log)
	// says which requests the server saw for an object when a test finds
	// it missing.
	cmd := exec.Command(bin, "--port", "127.0.0.1:"+strconv.Itoa(port),
		"--access-log", filepath.Join(dir, "access.log"), "posix", root)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey,
		"VGW_REGION="+s.Region)
	s.proc, err = startProcess("versitygw", cmd, dir, filepath.Join(dir, "versitygw.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	client := &http.Client{Timeout: 2 * time.Second}
	err = s.proc.waitFor(ctx, 30*time.Second, func() bool {
		resp, err := client.Get(s.Endpoint + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode > 0 // any S3 answer (403 without a signature) means it serves
	})
	if err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// CreateBucket creates bucket name (a directory under Dir).
func (s *S3Server) CreateBucket(name string) error {
	if err := os.MkdirAll(filepath.Join(s.Dir, name), 0o755); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	return nil
}

// Objects lists the object keys under bucket/prefix.
func (s *S3Server) Objects(bucket, prefix string) ([]string, error) {
	base := filepath.Join(s.Dir, bucket)
	var keys []string
	err := filepath.WalkDir(filepath.Join(base, filepath.FromSlash(prefix)), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(base, p)
		keys = append(keys, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
	}
	return keys, nil
}

// Stop ends the server and removes its files.
func (s *S3Server) Stop() error {
	if s == nil {
		return nil
	}
	return s.proc.stop(10 * time.Second)
}
