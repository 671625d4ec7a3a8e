package main

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/floe-cdc/floe/schema/problem"
)

// decoder walks the yaml.Node tree into a Config, collecting every problem
// with its path and line instead of stopping at the first.
type decoder struct {
	env      func(string) (string, bool)
	secret   string // the expanded source.password, hidden in every message
	lines    map[string]int
	problems []Problem
}

// setter stores the value node n found at path.
type setter func(n *yaml.Node, path string)

type field struct {
	key string
	set setter
}

// sectionsLater are top-level sections of the design that this version does
// not read yet.
var sectionsLater = map[string]bool{"transform": true}

// aliases maps common spellings from other tools to floe's keys.
var aliases = map[string]string{"host": "hostname", "user": "username", "dbname": "database",
	"slot": "slot.name", "publication": "publication.name"}

func (d *decoder) add(n *yaml.Node, path, fix, format string, args ...any) {
	msg := fmt.Sprintf(format, hide(d.secret, args)...)
	d.problems = append(d.problems, Problem{Field: path, Message: msg, Fix: fix, Line: n.Line})
}

// reported says whether decoding already found a problem at path, around
// it, or in one of its list items.
func (d *decoder) reported(path string) bool {
	for _, p := range d.problems {
		if p.Field != "" && (path == p.Field || strings.HasPrefix(path, p.Field+".") || strings.HasPrefix(path, p.Field+"[") ||
			strings.HasPrefix(p.Field, path+"[")) {
			return true
		}
	}
	return false
}

func (d *decoder) root(doc *yaml.Node, c *Config) {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	d.secret = d.peekPassword(n)
	sec := func(fs ...field) setter { return func(n *yaml.Node, p string) { d.mapping(n, p, fs) } }
	s, k := &c.Source, &c.Sink
	d.mapping(n, "", []field{
		{"pipeline", d.pipelineSection(&c.Pipeline)},
		{"state", sec(field{"dir", d.str(&c.State.Dir)})},
		{"source", sec(field{"type", d.str(&s.Type)}, field{"hostname", d.str(&s.Hostname)},
			field{"port", d.integer(&s.Port)}, field{"username", d.str(&s.Username)},
			field{"password", d.raw(&s.Password)}, field{"database", d.str(&s.Database)},
			field{"tables", d.list(&s.Tables)}, field{"slot.name", d.str(&s.SlotName)},
			field{"publication.name", d.str(&s.PublicationName)}, field{"snapshot.mode", d.str(&s.SnapshotMode)},
			field{"snapshot.parallelism", d.integer(&s.SnapshotParallelism)},
			field{"snapshot.chunk-rows", d.integer(&s.SnapshotChunkRows)},
			field{"heartbeat-interval", d.duration(&s.HeartbeatInterval)},
			field{"stall-timeout", d.duration(&s.StallTimeout)},
			field{"server-id", d.integer(&s.ServerID)}, field{"server-time-zone", d.str(&s.ServerTimeZone)},
			field{"zero-date", d.word(&s.ZeroDate)})},
		{"sink", sec(field{"type", d.str(&k.Type)},
			field{"catalog", sec(field{"type", d.str(&k.Catalog.Type)}, field{"name", d.str(&k.Catalog.Name)},
				field{"uri", d.str(&k.Catalog.URI)}, field{"credential", d.raw(&k.Catalog.Credential)},
				field{"token", d.raw(&k.Catalog.Token)})},
			field{"warehouse", d.str(&k.Warehouse)},
			field{"s3", sec(field{"endpoint", d.str(&k.S3.Endpoint)}, field{"region", d.str(&k.S3.Region)},
				field{"path-style", d.optBool(&k.S3.PathStyle)}, field{"access-key-id", d.str(&k.S3.AccessKeyID)},
				field{"secret-access-key", d.raw(&k.S3.SecretAccessKey)})},
			field{"namespace", d.str(&k.Namespace)},
			field{"mode", d.str(&k.Mode)},
			field{"timeout", d.duration(&k.Timeout)},
			field{"numeric-unconstrained", d.str(&k.NumericUnconstrained)},
			field{"delete-mode", d.str(&k.DeleteMode)},
			field{"position-deletes-max-keys", d.integer(&k.PositionDeletesMaxKeys)},
			field{"partition-by", d.list(&k.Arrange.PartitionBy)}, field{"sort-by", d.list(&k.Arrange.SortBy)})},
		{"route", d.routes(&c.Route)},
		{"compaction", d.compactionSection(&c.Compaction)},
		{"server", sec(field{"metrics-address", d.str(&c.Server.MetricsAddress)},
			field{"ready-max-lag", d.duration(&c.Server.ReadyMaxLag)},
			field{"admin-address", d.str(&c.Server.AdminAddress)}, field{"admin-token", d.raw(&c.Server.AdminToken)})},
		{"log", sec(field{"format", d.str(&c.Log.Format)}, field{"level", d.str(&c.Log.Level)})},
		{"registry", d.registrySection(&c.Registry)},
	})
}

// pipelineSection decodes the pipeline: section into pl. Keys are listed
// in the order an unknown-key problem lists them.
func (d *decoder) pipelineSection(pl *PipelineConfig) setter {
	return func(n *yaml.Node, p string) {
		d.mapping(n, p, []field{{"name", d.str(&pl.Name)},
			{"checkpoint-interval", d.duration(&pl.CheckpointInterval)},
			{"memory-limit-mb", d.integer(&pl.MemoryLimitMB)},
			{"on-unfollowable-change", d.str(&pl.OnUnfollowableChange)}, {"dead-letter", d.str(&pl.DeadLetter)},
			{"checkpoint-max-changes", d.integer(&pl.CheckpointMaxChanges)}, {"checkpoint-max-mb", d.integer(&pl.CheckpointMaxMB)},
			{"schema-change-behavior", d.str(&pl.SchemaChangeBehavior)}})
	}
}

// compactionSection decodes the compaction: section into cc. Keys are
// listed in the order an unknown-key problem lists them, grouped by
// concern: background passes, rewriting files, expiring snapshots,
// removing orphan files.
func (d *decoder) compactionSection(cc *CompactionConfig) setter {
	return func(n *yaml.Node, p string) {
		d.mapping(n, p, []field{{"enabled", d.optBool(&cc.Enabled)}, {"interval", d.duration(&cc.Interval)},
			{"target-file-size-mb", d.integer(&cc.TargetFileSizeMB)}, {"min-input-files", d.integer(&cc.MinInputFiles)},
			{"delete-file-threshold", d.integer(&cc.DeleteFileThreshold)}, {"max-rewrite-mb", d.integer(&cc.MaxRewriteMB)},
			{"expire-snapshots-older-than", d.duration(&cc.ExpireSnapshotsOlderThan)},
			{"retain-last", d.integer(&cc.RetainLast)}, {"max-snapshots", d.integer(&cc.MaxSnapshots)},
			{"remove-orphans-older-than", d.duration(&cc.RemoveOrphansOlderThan)}})
	}
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// kindName describes a node's type without quoting its value.
func kindName(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Tag == "!!int" || n.Tag == "!!float":
		return "a number"
	case n.Tag == "!!bool":
		return "a boolean"
	}
	return "a string"
}

// mapping decodes the keys of n with fields; a null node leaves defaults.
func (d *decoder) mapping(n *yaml.Node, path string, fields []field) {
	where := "at top level"
	if path != "" {
		where = "under " + path
	}
	n, ok := d.ofKind(n, path, yaml.MappingNode, "a mapping", "write key: value pairs "+where)
	if !ok {
		return
	}
	known := make([]string, len(fields))
	for i, f := range fields {
		known[i] = f.key
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := resolve(n.Content[i]), n.Content[i+1]
		p := kn.Value
		if path != "" {
			p = path + "." + kn.Value
		}
		if kn.Kind != yaml.ScalarNode {
			d.add(kn, path, "use plain names as keys", "a key %s is %s", where, kindName(kn))
			continue
		}
		if first, dup := seen[kn.Value]; dup {
			d.add(kn, p, "keep one of them", "duplicate key (first at line %d)", first)
			continue
		}
		seen[kn.Value] = kn.Line
		j := slices.Index(known, kn.Value)
		if j < 0 {
			d.unknown(kn, p, path, where, known)
			continue
		}
		d.lines[p] = kn.Line
		fields[j].set(vn, p)
	}
}

func (d *decoder) unknown(kn *yaml.Node, p, parent, where string, known []string) {
	if parent == "" && sectionsLater[kn.Value] {
		d.add(kn, p, "remove it", "section not supported yet by this version of floe")
		return
	}
	s := aliases[strings.ToLower(kn.Value)]
	if !slices.Contains(known, s) {
		s = problem.Suggest(kn.Value, known)
	}
	if s != "" {
		d.add(kn, p, fmt.Sprintf("did you mean %s?", s), "unknown key")
		return
	}
	d.add(kn, p, "remove it; known keys "+where+": "+strings.Join(known, ", "), "unknown key")
}

// scalar returns the ${VAR}-expanded text of a scalar node; ok is false when
// the node is null (keep the default) or a problem was reported.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	n, ok := d.ofKind(n, path, yaml.ScalarNode, want, "write a single value")
	if !ok {
		return "", false
	}
	return d.expand(n, path, n.Value)
}

// ofKind resolves n and returns it with ok true when it is a node of kind.
// A null node keeps the default: ok is false and nothing is reported. A
// node of another kind is reported at path as "expected <want>", with fix.
func (d *decoder) ofKind(n *yaml.Node, path string, kind yaml.Kind, want, fix string) (*yaml.Node, bool) {
	n = resolve(n)
	if isNull(n) {
		return n, false
	}
	if n.Kind != kind {
		d.add(n, path, fix, "expected %s, got %s", want, kindName(n))
		return n, false
	}
	return n, true
}

// expand replaces ${NAME} with the variable's value; $${ is a literal ${.
func (d *decoder) expand(n *yaml.Node, path, s string) (string, bool) {
	if !strings.Contains(s, "${") {
		return s, true
	}
	var b strings.Builder
	ok := true
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				d.add(n, path, "close it with } or write $${ for a literal ${", "unterminated ${")
				return "", false
			}
			name := s[i+2 : i+2+end]
			if v, set := d.env(name); !envNameRe.MatchString(name) {
				d.add(n, path, "use ${NAME} with letters, digits and _", "bad environment variable reference ${%s}", name)
				ok = false
			} else if !set {
				d.add(n, path, fmt.Sprintf("export %s or remove the reference", name), "environment variable %s is not set", name)
				ok = false
			} else {
				b.WriteString(v)
			}
			i += 3 + end
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), ok
}

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (d *decoder) str(dst *string) setter {
	return func(n *yaml.Node, p string) {
		if s, ok := d.scalar(n, p, "a string"); ok {
			*dst = strings.TrimSpace(s)
		}
	}
}

// word is str for a setting whose values include the word null: YAML reads
// an unquoted `null` as no value, but `zero-date: null` means the word.
func (d *decoder) word(dst *string) setter {
	return func(n *yaml.Node, p string) {
		if r := resolve(n); r.Kind == yaml.ScalarNode && r.Tag == "!!null" && r.Value == "null" {
			*dst = "null"
			return
		}
		d.str(dst)(n, p)
	}
}

// raw is str without trimming, for the password.
func (d *decoder) raw(dst *string) setter {
	return func(n *yaml.Node, p string) {
		if s, ok := d.scalar(n, p, "a string"); ok {
			*dst = s
		}
	}
}

// peekPassword expands source.password before the walk so that problems
// found earlier in the file can hide it too. Its own problems are
// reported by the walk.
func (d *decoder) peekPassword(root *yaml.Node) string {
	child := func(n *yaml.Node, key string) *yaml.Node {
		if n = resolve(n); n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return resolve(n.Content[i+1])
			}
		}
		return nil
	}
	src := child(root, "source")
	if src == nil {
		return ""
	}
	pw := child(src, "password")
	if pw == nil || pw.Kind != yaml.ScalarNode || isNull(pw) {
		return ""
	}
	before := len(d.problems)
	s, ok := d.expand(pw, "", pw.Value)
	d.problems = d.problems[:before]
	if !ok {
		return ""
	}
	return s
}

// scalarType is a kind of scalar setting: want names it in "expected ..."
// problems; parse turns the trimmed text into the value, and a text parse
// rejects is reported as bad (a format with one %q for the text) with fix.
type scalarType[T any] struct {
	want, bad, fix string
	parse          func(string) (T, error)
}

var (
	integerType = scalarType[int]{want: "an integer", bad: "expected an integer, got %q",
		fix: "write a whole number such as 2", parse: strconv.Atoi}
	// optBoolType reads true/false (also yes/no, on/off); an empty string
	// leaves the value unset.
	optBoolType = scalarType[*bool]{want: "true or false", bad: "expected a boolean, got %q",
		fix: "write true or false", parse: parseOptBool}
	durationType = scalarType[time.Duration]{want: "a duration", bad: "bad duration %q",
		fix: "use Go duration syntax with a unit, e.g. 10s, 500ms, 1m30s", parse: time.ParseDuration}
)

var errNotBool = errors.New("not a boolean")

func parseOptBool(s string) (*bool, error) {
	var b bool
	switch strings.ToLower(s) {
	case "":
		return nil, nil
	case "true", "yes", "on":
		b = true
	case "false", "no", "off":
		b = false
	default:
		return nil, errNotBool
	}
	return &b, nil
}

// typed is the setter of a scalar of type t; a text t rejects leaves *dst
// as it was.
func typed[T any](d *decoder, dst *T, t scalarType[T]) setter {
	return func(n *yaml.Node, p string) {
		s, ok := d.scalar(n, p, t.want)
		if !ok {
			return
		}
		v, err := t.parse(strings.TrimSpace(s))
		if err != nil {
			d.add(n, p, t.fix, t.bad, s)
			return
		}
		*dst = v
	}
}

func (d *decoder) integer(dst *int) setter { return typed(d, dst, integerType) }

func (d *decoder) optBool(dst **bool) setter { return typed(d, dst, optBoolType) }

func (d *decoder) duration(dst *time.Duration) setter { return typed(d, dst, durationType) }

// list reads a comma-separated scalar (see splitList) or a YAML list of
// scalars, one entry per item.
func (d *decoder) list(dst *[]string) setter {
	return func(n *yaml.Node, p string) {
		n = resolve(n)
		if n.Kind != yaml.SequenceNode {
			if s, ok := d.scalar(n, p, "a comma-separated list"); ok {
				*dst = splitList(s)
			}
			return
		}
		*dst = nil
		for i, item := range n.Content {
			if s, ok := d.scalar(item, fmt.Sprintf("%s[%d]", p, i), "a string"); ok && strings.TrimSpace(s) != "" {
				*dst = append(*dst, strings.TrimSpace(s))
			}
		}
	}
}

func (d *decoder) routes(dst *[]RouteConfig) setter {
	return func(n *yaml.Node, p string) {
		n, ok := d.ofKind(n, p, yaml.SequenceNode, "a list", "write a list of entries, each starting with `- source-table:`")
		if !ok {
			return
		}
		for i, item := range n.Content {
			ip := fmt.Sprintf("%s[%d]", p, i)
			d.lines[ip] = item.Line
			var r RouteConfig
			d.mapping(item, ip, []field{{"source-table", d.str(&r.SourceTable)},
				{"sink-table", d.str(&r.SinkTable)}, {"primary-key", d.list(&r.PrimaryKey)},
				{"columns", d.columns(&r.Columns)},
				{"partition-by", d.list(&r.Arrange.PartitionBy)}, {"sort-by", d.list(&r.Arrange.SortBy)},
			})
			*dst = append(*dst, r)
		}
	}
}
