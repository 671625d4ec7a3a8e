package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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

// pathProblems reports the local paths floe run could not use: a state
// dir or warehouse that is a file, a SQLite catalog that is a directory,
// and any of them (or, when it does not exist yet, the directory it would
// be created in) that this process may not write. It only looks.
func (c *Config) pathProblems() []Problem {
	var out []Problem
	add := func(path, msg, fix string) {
		out = append(out, Problem{Field: path, Message: msg, Fix: fix, Line: c.lineOf(path)})
	}
	dirs := []struct{ field, dir string }{{"state.dir", c.State.Dir}, {"sink.warehouse", c.localWarehouse()}}
	for _, d := range dirs {
		if d.dir == "" {
			continue
		}
		if msg, fix := usableDir(d.dir); msg != "" {
			add(d.field, msg, fix)
		}
	}
	if db := sqlitePath(c.Sink.Catalog.URI); db != "" && c.Sink.Catalog.Type == "sql" {
		fi, err := os.Stat(db)
		switch {
		case err == nil && fi.IsDir():
			add("sink.catalog.uri", fmt.Sprintf("the SQLite catalog %s is a directory", db), "name a file, e.g. sqlite:///var/lib/floe/catalog.db")
		case err == nil && syscall.Access(db, accessWriteFile) != nil:
			add("sink.catalog.uri", fmt.Sprintf("the SQLite catalog %s is not writable by this user (uid %d)", db, os.Geteuid()),
				"make the file writable for the user floe runs as, or run floe as its owner")
		default:
			// SQLite writes its journal beside the file.
			if msg, fix := usableDir(filepath.Dir(db)); msg != "" {
				add("sink.catalog.uri", "the SQLite catalog's directory: "+msg, fix)
			}
		}
	}
	return out
}

// access(2) modes: W_OK, and W_OK|X_OK (create and remove entries in a
// directory).
const (
	accessWriteFile = 0x2
	accessWrite     = 0x2 | 0x1
)

// usableDir says why floe could not create files in dir ("" when it can):
// dir, or when it does not exist yet the nearest existing directory above
// it (where floe would create it), must be a directory this process may
// write. It creates nothing.
func usableDir(dir string) (msg, fix string) {
	at := dir
	for {
		fi, err := os.Stat(at)
		if err == nil {
			if !fi.IsDir() {
				if at == dir {
					return fmt.Sprintf("%s is a file, not a directory", dir), "point it at a directory (floe creates a missing one), or move the file away"
				}
				return fmt.Sprintf("%s cannot be created: %s is a file, not a directory", dir, at), "point it at a path under a directory, or move the file away"
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return fmt.Sprintf("cannot use %s: %v", dir, err), "make the path reachable for the user floe runs as"
		}
		parent := filepath.Dir(at)
		if parent == at {
			return fmt.Sprintf("cannot use %s: no directory above it exists", dir), "create the directory"
		}
		at = parent
	}
	if err := syscall.Access(at, accessWrite); err != nil {
		what := "directory " + dir
		if at != dir {
			what = fmt.Sprintf("%s cannot be created: directory %s", dir, at)
		}
		return fmt.Sprintf("%s is not writable by this user (uid %d): %v", what, os.Geteuid(), err),
			"make it writable for the user floe runs as (chown or chmod), or choose another directory"
	}
	return "", ""
}
