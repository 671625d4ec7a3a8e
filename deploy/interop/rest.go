package interop

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// RESTMinJava is the oldest JDK major version the REST server runs on.
const RESTMinJava = 17

// RESTOptions configures StartREST.
type RESTOptions struct {
	// JDBCURL, JDBCUser, JDBCPassword locate the database the server keeps
	// its catalog in (jdbc:postgresql://...).
	JDBCURL, JDBCUser, JDBCPassword string
	// Warehouse is the root of new tables, s3://bucket/prefix on S3.
	Warehouse string
	// S3 is the server the warehouse lives on.
	S3 *S3Server
}

// RESTCatalog is a running Apache Iceberg REST catalog test server
// (org.apache.iceberg.rest.RESTCatalogServer) backed by a JDBC catalog and
// writing metadata through S3FileIO. It requires no authentication.
type RESTCatalog struct {
	URL  string // http://127.0.0.1:PORT (the catalog's base URI)
	proc *process
}

// StartREST fetches the server's class path when needed
// (deploy/rest/fetch.sh) and starts it on a free port.
func StartREST(ctx context.Context, opts RESTOptions) (*RESTCatalog, error) {
	lib, java, dir, port, err := prepareJava(ctx, "rest", RESTMinJava)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(java, "bin", "java"), "-Xmx512m", "-cp", lib+"/*",
		"org.apache.iceberg.rest.RESTCatalogServer")
	cmd.Dir = dir
	// The server maps CATALOG_* variables to catalog properties: the
	// prefix is dropped, "__" becomes "-" and "_" becomes ".".
	cmd.Env = append(os.Environ(),
		"JAVA_HOME="+java,
		"AWS_REGION="+opts.S3.Region,
		"CATALOG_REST_PORT="+strconv.Itoa(port),
		"CATALOG_URI="+opts.JDBCURL,
		"CATALOG_JDBC_USER="+opts.JDBCUser,
		"CATALOG_JDBC_PASSWORD="+opts.JDBCPassword,
		"CATALOG_WAREHOUSE="+opts.Warehouse,
		"CATALOG_IO__IMPL=org.apache.iceberg.aws.s3.S3FileIO",
		"CATALOG_S3_ENDPOINT="+opts.S3.Endpoint,
		"CATALOG_S3_PATH__STYLE__ACCESS=true",
		"CATALOG_S3_ACCESS__KEY__ID="+opts.S3.AccessKey,
		"CATALOG_S3_SECRET__ACCESS__KEY="+opts.S3.SecretKey,
		"CATALOG_CLIENT_REGION="+opts.S3.Region,
	)
	proc, err := startProcess("iceberg rest catalog", cmd, dir, filepath.Join(dir, "server.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	r := &RESTCatalog{URL: "http://127.0.0.1:" + strconv.Itoa(port), proc: proc}
	client := &http.Client{Timeout: 2 * time.Second}
	err = proc.waitFor(ctx, 2*time.Minute, func() bool {
		resp, err := client.Get(r.URL + "/v1/config")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if err != nil {
		r.Stop()
		return nil, err
	}
	return r, nil
}

// LogTail returns the last n lines of the server's log.
func (r *RESTCatalog) LogTail(n int) string { return r.proc.logTail(n) }

// Stop ends the server and removes its directory.
func (r *RESTCatalog) Stop() error {
	if r == nil {
		return nil
	}
	return r.proc.stop(10 * time.Second)
}
