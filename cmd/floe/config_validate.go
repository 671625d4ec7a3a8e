package main

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/floe-cdc/floe/compaction"
	"github.com/floe-cdc/floe/schema/problem"
	"github.com/floe-cdc/floe/transform"
)

// MinCheckpointMaxChanges and MinCheckpointMaxMB are the smallest volume
// triggers floe run accepts (the coordinator takes any, for tests): a
// smaller one would commit nearly every transaction of a busy pipeline.
const (
	MinCheckpointMaxChanges = 1000
	MinCheckpointMaxMB      = 1
)

// MinCheckpointInterval is the shortest pipeline.checkpoint-interval.
// Each checkpoint commits an Iceberg snapshot to every changed table, and
// compaction and snapshot expiry must keep up with them: a rule between
// checkpoint and compaction, so it is this file's, not checkpoint's.
const MinCheckpointInterval = time.Second

// Validate checks a defaulted Config and returns every problem, sorted by
// line. Each section is checked by the package that owns it
// (packageProblems); Validate itself checks what is the file's own
// (pipeline, state, source.type and the table patterns, sink.type,
// namespace and mode, routes, server, log) and what spans packages. A
// field with a problem found here is not reported again by its package.
// Messages never contain the password.
func (c *Config) Validate() []Problem {
	v := &validator{c: c}
	v.pipeline()
	v.source()
	v.sink()
	for i := range c.Route {
		v.route(i)
	}
	v.columnTypes()
	v.arrangements()
	v.crossPackage()
	v.serverAndLog()
	problems := appendNew(v.List, c.packageProblems())
	for i, p := range problems {
		p = p.Redact(c.Source.Password)
		p.Line = c.lineOf(p.Field)
		problems[i] = p
	}
	problem.Sort(problems)
	return problems
}

// packageProblems are the problems the owning packages find in the
// configurations c builds: the source type's Config (a missing or unknown
// source.type is reported by Validate, and the section is then checked as
// PostgreSQL's, so that one pass shows every problem), checkpoint.Config,
// lakewriter.Options and compaction.Config.
func (c *Config) packageProblems() []Problem {
	t, ok := lookupSourceType(c.Source.Type)
	if !ok {
		t = sourceTypes[0]
	}
	problems := t.validate(c)
	problems = append(problems, checkpointConfig(c).Validate()...)
	problems = append(problems, sinkOptions(c).Validate()...)
	problems = append(problems, c.Registry.Validate()...)
	return append(problems, c.Compaction.Validate()...)
}

// appendNew appends to problems those of more whose field problems does
// not have yet: a field is reported by the first check that faults it.
func appendNew(problems, more []Problem) []Problem {
	had := len(problems)
	for _, p := range more {
		if !slices.ContainsFunc(problems[:had], func(q Problem) bool { return q.Field == p.Field }) {
			problems = append(problems, p)
		}
	}
	return problems
}

var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// validator collects the problems Validate finds itself.
type validator struct {
	problem.Checks
	c *Config
}

// add records a problem whose message quotes args with the password
// hidden (see hide).
func (v *validator) add(path, fix, format string, args ...any) {
	v.Add(path, fix, format, hide(v.c.Source.Password, args)...)
}

func (v *validator) pipeline() {
	c := v.c
	v.Required("pipeline.name", c.Pipeline.Name, "name the pipeline, e.g. `name: shop`")
	if c.Pipeline.Name != "" && !nameRe.MatchString(c.Pipeline.Name) {
		v.add("pipeline.name", "use letters, digits, '_' and '-', starting with a letter or digit",
			"bad pipeline name %q", c.Pipeline.Name)
	}
	if n := c.Pipeline.CheckpointMaxChanges; n > 0 && n < MinCheckpointMaxChanges {
		v.add("pipeline.checkpoint-max-changes", fmt.Sprintf("use %d or more: each checkpoint it cuts commits an Iceberg snapshot to every changed table", MinCheckpointMaxChanges),
			"%d changes is fewer than the minimum of %d", n, MinCheckpointMaxChanges)
	}
	if m := c.Pipeline.CheckpointMaxMB; m > 0 && m < MinCheckpointMaxMB {
		v.add("pipeline.checkpoint-max-mb", fmt.Sprintf("use %d (MiB) or more, or 0 for no size trigger", MinCheckpointMaxMB),
			"%d MiB is less than the minimum of %d", m, MinCheckpointMaxMB)
	}
	if m := c.Pipeline.MemoryLimitMB; m != 0 && m < minMemoryLimitMB {
		v.add("pipeline.memory-limit-mb", fmt.Sprintf("use at least %d (MiB), or 0 for no limit", minMemoryLimitMB),
			"%d MiB is too little for Floe", m)
	}
	v.Required("state.dir", c.State.Dir, "set a directory for local state")
}

// source checks source.type and compiles the table patterns; the rest of
// the section is the source type's (packageProblems).
func (v *validator) source() {
	s := v.c.Source
	if v.Required("source.type", s.Type, "set `type: postgres`") {
		v.OneOf("source.type", s.Type, sourceTypeNames()...)
	}
	for _, t := range s.Tables {
		if _, err := anchored(t); err != nil {
			v.add("source.tables", "write a valid regular expression (RE2 syntax)", "bad table pattern %q: %v", t, err)
		}
	}
}

// sink checks what of sink: is not lakewriter's: the type, the namespace
// routes land in, and the mode.
func (v *validator) sink() {
	c, k := v.c, v.c.Sink
	if v.Required("sink.type", k.Type, "set `type: iceberg`") {
		v.OneOf("sink.type", k.Type, "iceberg")
	}
	if k.Namespace == "" && c.Pipeline.Name != "" { // an empty name is reported; the namespace defaults to it
		v.add("sink.namespace", "set `namespace:`", "required")
	} else if strings.Contains(k.Namespace, ".") {
		v.add("sink.namespace", "use a single-level namespace without '.'", "bad namespace %q", k.Namespace)
	}
	v.OneOf("sink.mode", k.Mode, transform.Upsert.String(), transform.Changelog.String())
}

// crossPackage checks the rules between packages: how often checkpoint
// commits against what compaction can keep up with, and how young an
// orphan compaction may remove against how long a checkpoint's files
// wait for their commit.
func (v *validator) crossPackage() {
	c := v.c
	if d := c.Pipeline.CheckpointInterval; d > 0 && d < MinCheckpointInterval {
		v.add("pipeline.checkpoint-interval", fmt.Sprintf("use %s or more: every checkpoint commits an Iceberg snapshot to each changed table, "+
			"and shorter intervals pile up snapshots, metadata and small files faster than compaction and snapshot expiry remove them", MinCheckpointInterval),
			"%s is shorter than the minimum of %s", d, MinCheckpointInterval)
	}
	// Snapshot data files wait up to a checkpoint interval for their
	// commit; orphan removal must never see them as orphans.
	if o, min := c.Compaction.RemoveOrphansOlderThan, max(compaction.MinOrphanAge, 10*c.Pipeline.CheckpointInterval); o > 0 && o < min {
		v.add("compaction.remove-orphans-older-than", fmt.Sprintf("use %s or more (1h, and 10 checkpoint intervals: a writer's files are unreferenced until it commits), or 0 to keep orphans", min),
			"%s is too short to be safe", o)
	}
}

func (v *validator) serverAndLog() {
	c := v.c
	if a := c.Server.MetricsAddress; a != "" {
		_, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 {
			v.add("server.metrics-address", "write host:port, e.g. 127.0.0.1:9464, or leave it empty to disable",
				"bad listen address %q", a)
		}
	}
	if a := c.Server.AdminAddress; a != "" {
		_, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 {
			v.add("server.admin-address", "write :port (127.0.0.1 only) or host:port, e.g. :9465, or leave it empty to disable",
				"bad listen address %q", a)
		}
	}
	v.Positive("server.ready-max-lag", c.Server.ReadyMaxLag)
	v.OneOf("log.format", c.Log.Format, "text", "json")
	v.OneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
}

// hide returns args with the password replaced by *** inside every string
// or error, so a value quoted back in a message never shows it. Only the
// arguments are rewritten, never the message text around them.
func hide(password string, args []any) []any {
	if password == "" {
		return args
	}
	out := make([]any, len(args))
	for i, a := range args {
		switch a := a.(type) {
		case string:
			out[i] = strings.ReplaceAll(a, password, "***")
		case error:
			out[i] = strings.ReplaceAll(a.Error(), password, "***")
		default:
			out[i] = a
		}
	}
	return out
}
