package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// TrinoMinJava is the oldest JDK major version the fetched Trino runs on.
const TrinoMinJava = 24

// Trino is a running single-node Trino (coordinator and worker in one
// JVM) with dynamic catalog management: add catalogs with CreateCatalog.
type Trino struct {
	URL     string // http://127.0.0.1:PORT
	Version string
	proc    *process
	client  *http.Client
}

// StartTrino fetches Trino when needed (deploy/trino/fetch.sh) and starts
// it with the newest JDK under /usr/lib/jvm and a 2 GB heap. It returns
// once /v1/info reports starting=false (typically 20-60 s on 2 cores).
func StartTrino(ctx context.Context) (*Trino, error) {
	home, java, dir, port, err := prepareJava(ctx, "trino", TrinoMinJava)
	if err != nil {
		return nil, err
	}
	etc, data := filepath.Join(dir, "etc"), filepath.Join(dir, "data")
	for _, d := range []string{etc, data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	config := strings.Join([]string{
		"coordinator=true",
		"node-scheduler.include-coordinator=true",
		"http-server.http.port=" + strconv.Itoa(port),
		"discovery.uri=http://127.0.0.1:" + strconv.Itoa(port),
		"node.environment=floe_test",
		"node.id=floe-test-node",
		"node.internal-address=127.0.0.1",
		"plugin.dir=" + filepath.Join(home, "plugin"),
		"catalog.management=dynamic",
		"catalog.store=memory",
		"query.max-memory=1GB",
		"query.max-memory-per-node=512MB",
		"",
	}, "\n")
	if err := os.WriteFile(filepath.Join(etc, "config.properties"), []byte(config), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("write trino config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(etc, "log.properties"), []byte("io.trino=INFO\n"), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("write trino log config: %w", err)
	}
	args := []string{
		"-server", "-Xmx2G", "-XX:+UseG1GC", "-XX:G1HeapRegionSize=32M", "-XX:+ExitOnOutOfMemoryError",
		"-XX:-OmitStackTraceInFastThrow", "-XX:ReservedCodeCacheSize=256M", "-XX:+EnableDynamicAgentLoading",
		"-XX:PerMethodRecompilationCutoff=10000", "-XX:PerBytecodeRecompilationCutoff=10000",
		"-Djdk.attach.allowAttachSelf=true", "-Djdk.nio.maxCachedBufferSize=2000000", "-Dfile.encoding=UTF-8",
		"-Duser.timezone=UTC", "--enable-native-access=ALL-UNNAMED",
		"-Dnode.data-dir=" + data,
		"-Dconfig=" + filepath.Join(etc, "config.properties"),
		"-Dlog.levels-file=" + filepath.Join(etc, "log.properties"),
		"-cp", filepath.Join(home, "lib") + "/*",
		"io.trino.server.TrinoServer",
	}
	cmd := exec.Command(filepath.Join(java, "bin", "java"), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "JAVA_HOME="+java)
	proc, err := startProcess("trino", cmd, dir, filepath.Join(dir, "server.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	t := &Trino{URL: "http://127.0.0.1:" + strconv.Itoa(port), Version: filepath.Base(home), proc: proc,
		client: &http.Client{Timeout: 2 * time.Minute}}
	err = proc.waitFor(ctx, 4*time.Minute, func() bool {
		var info struct{ Starting bool }
		return t.getJSON(ctx, "/v1/info", &info) == nil && !info.Starting
	})
	if err != nil {
		t.Stop()
		return nil, err
	}
	return t, nil
}

// Stop ends Trino and removes its directory.
func (t *Trino) Stop() error {
	if t == nil {
		return nil
	}
	return t.proc.stop(20 * time.Second)
}

// LogTail returns the last n lines of Trino's log.
func (t *Trino) LogTail(n int) string { return t.proc.logTail(n) }

func (t *Trino) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// CreateCatalog adds an Iceberg catalog named name with the given
// connector properties (see deploy/trino/catalog/*.properties).
func (t *Trino) CreateCatalog(ctx context.Context, name string, props map[string]string) error {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE CATALOG %s USING iceberg WITH (", name)
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q = '%s'", k, strings.ReplaceAll(props[k], "'", "''"))
	}
	b.WriteString(")")
	_, err := t.Query(ctx, b.String())
	return err
}

// Result is a query's columns and rows. Values are as Trino's JSON
// protocol sends them: bool, json.Number, string (also for decimal, date,
// time, timestamp, uuid, varbinary in base64, and NaN/Infinity), []any for
// arrays, nil for NULL.
type Result struct {
	Columns []Column
	Rows    [][]any
}

// Column is one result column.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// QueryError is a failed Trino query.
type QueryError struct {
	SQL, Message, Name string
}

func (e *QueryError) Error() string {
	return fmt.Sprintf("trino query %q: %s: %s", e.SQL, e.Name, e.Message)
}

type statementResponse struct {
	NextURI string   `json:"nextUri"`
	Columns []Column `json:"columns"`
	Data    [][]any  `json:"data"`
	Error   *struct {
		Message   string `json:"message"`
		ErrorName string `json:"errorName"`
	} `json:"error"`
}

// Query runs one statement through the HTTP statement API (POST
// /v1/statement, then GET nextUri until none is left) as user "floe".
func (t *Trino) Query(ctx context.Context, sql string) (*Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL+"/v1/statement", strings.NewReader(sql))
	if err != nil {
		return nil, err
	}
	res := &Result{}
	for {
		req.Header.Set("X-Trino-User", "floe")
		req.Header.Set("X-Trino-Time-Zone", "UTC")
		resp, err := t.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("trino query %q: %w", sql, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("trino query %q: read response: %w", sql, err)
		}
		if resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests {
			time.Sleep(100 * time.Millisecond) // the protocol says: retry the same request
			req, err = http.NewRequestWithContext(ctx, req.Method, req.URL.String(), bytes.NewReader([]byte(sql)))
			if err != nil {
				return nil, err
			}
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("trino query %q: %s: %s", sql, resp.Status, tail(string(body), 5))
		}
		var sr statementResponse
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&sr); err != nil {
			return nil, fmt.Errorf("trino query %q: decode response: %w", sql, err)
		}
		if sr.Error != nil {
			return nil, &QueryError{SQL: sql, Message: sr.Error.Message, Name: sr.Error.ErrorName}
		}
		if sr.Columns != nil {
			res.Columns = sr.Columns
		}
		res.Rows = append(res.Rows, sr.Data...)
		if sr.NextURI == "" {
			return res, nil
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, sr.NextURI, nil)
		if err != nil {
			return nil, err
		}
	}
}
