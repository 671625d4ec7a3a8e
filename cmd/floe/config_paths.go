package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Local paths of a configuration file — state.dir, a local sink.warehouse
// and a SQLite sink.catalog.uri, given or defaulted — resolve against the
// directory of the file, never against the working directory: the same
// file names the same state, catalog and lake from wherever floe is
// started. A Config built in code (no file) resolves against the working
// directory.

// baseDir is the directory relative paths resolve against: the config
// file's directory, or the working directory for a Config built in code.
func (c *Config) baseDir() (string, error) {
	if c.dir != "" {
		return c.dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("resolve relative paths: %w", err)
	}
	return wd, nil
}

// fileDir is the absolute directory of the config file at path, "" when it
// cannot be known (relative paths then resolve against the working
// directory, as filepath.Abs does).
func fileDir(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	return filepath.Dir(abs)
}

// resolvePaths fills the path defaults and makes every local path
// absolute against baseDir. The warehouse and catalog defaults sit beside
// the state dir, not in it: the state dir is a cache that may be deleted,
// the lake may not.
func (c *Config) resolvePaths() error {
	base, err := c.baseDir()
	if err != nil {
		return err
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return filepath.Clean(p)
		}
		return filepath.Join(base, p)
	}
	if c.State.Dir == "" {
		c.State.Dir = filepath.Join(".floe", c.Pipeline.Name)
	}
	c.State.Dir = abs(c.State.Dir)
	rest := c.Sink.Catalog.Type == "rest"
	if c.Sink.Warehouse == "" && !rest {
		c.Sink.Warehouse = filepath.Join(".floe", "warehouse")
	}
	if p, ok := localPath(c.Sink.Warehouse); ok && c.Sink.Warehouse != "" && !rest {
		c.Sink.Warehouse = abs(p)
	}
	if c.Sink.Catalog.URI == "" && c.Sink.Catalog.Type == "sql" {
		c.Sink.Catalog.URI = "sqlite:" + filepath.Join(".floe", "catalog.db")
	}
	if p, ok := strings.CutPrefix(c.Sink.Catalog.URI, "sqlite:"); ok && p != "" && !strings.HasPrefix(p, "//") {
		c.Sink.Catalog.URI = "sqlite://" + abs(p)
	}
	return nil
}

// sqlitePath is the file of a sqlite:// catalog URI, "" for other URIs.
func sqlitePath(uri string) string {
	p, ok := strings.CutPrefix(uri, "sqlite://")
	if !ok || !strings.HasPrefix(p, "/") {
		return ""
	}
	return p
}

// localWarehouse is the directory of a local warehouse, "" for a remote
// one (s3://) or one the REST server decides.
func (c *Config) localWarehouse() string {
	if c.Sink.Catalog.Type == "rest" || c.Sink.Warehouse == "" {
		return ""
	}
	if p, ok := localPath(c.Sink.Warehouse); ok && filepath.IsAbs(p) {
		return p
	}
	return ""
}

// pathsLine describes where the configuration's local paths resolved to,
// for floe check: each path, whether it is a default, and the directory
// relative paths resolve against.
func (c *Config) pathsLine() string {
	base, err := c.baseDir()
	if err != nil {
		base = "?"
	}
	var parts []string
	add := func(path, value string) {
		if _, set := c.lines[path]; !set {
			value += " (default)"
		}
		parts = append(parts, path+" "+value)
	}
	add("state.dir", c.State.Dir)
	if c.Sink.Catalog.URI != "" {
		add("sink.catalog.uri", redactURI(hideString(c.Source.Password, c.Sink.Catalog.URI)))
	}
	if c.Sink.Warehouse != "" {
		add("sink.warehouse", redactURI(hideString(c.Source.Password, c.Sink.Warehouse)))
	}
	return fmt.Sprintf("paths: %s; relative paths and defaults resolve against %s, the config file's directory",
		strings.Join(parts, ", "), base)
}

// hideString is s with password replaced by ***.
func hideString(password, s string) string {
	if password == "" {
		return s
	}
	return strings.ReplaceAll(s, password, "***")
}
