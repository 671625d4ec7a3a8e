package main

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// redactURI is s with the password of a URI's user part hidden.
func redactURI(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}

// Redacted renders the effective configuration as YAML that ParseConfig
// accepts, with the password (also inside URIs and any other value) as ***.
func (c *Config) Redacted() string {
	pw := c.Source.Password
	str := func(s string) *yaml.Node {
		if pw != "" {
			s = strings.ReplaceAll(s, pw, "***")
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: strings.ReplaceAll(s, "${", "$${")}
	}
	num := func(n int) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(n)}
	}
	m := func(kv ...any) *yaml.Node {
		n := &yaml.Node{Kind: yaml.MappingNode}
		for i := 0; i < len(kv); i += 2 {
			n.Content = append(n.Content, str(kv[i].(string)), kv[i+1].(*yaml.Node))
		}
		return n
	}
	password := str("")
	if pw != "" {
		password = str("***")
	}
	s, k := c.Source, c.Sink
	root := m(
		"pipeline", m("name", str(c.Pipeline.Name), "checkpoint-interval", str(c.Pipeline.CheckpointInterval.String()),
			"memory-limit-mb", num(c.Pipeline.MemoryLimitMB), "on-unfollowable-change", str(c.Pipeline.OnUnfollowableChange),
			"checkpoint-max-changes", num(c.Pipeline.CheckpointMaxChanges), "checkpoint-max-mb", num(c.Pipeline.CheckpointMaxMB),
			"schema-change-behavior", str(c.Pipeline.SchemaChangeBehavior), "dead-letter", str(c.Pipeline.DeadLetter)),
		"state", m("dir", str(c.State.Dir)),
		"source", m("type", str(s.Type), "hostname", str(s.Hostname), "port", num(s.Port),
			"username", str(s.Username), "password", password, "database", str(s.Database),
			"tables", str(joinList(s.Tables)), "slot.name", str(s.SlotName), "publication.name", str(s.PublicationName),
			"snapshot.mode", str(s.SnapshotMode), "snapshot.parallelism", num(s.SnapshotParallelism),
			"snapshot.chunk-rows", num(s.SnapshotChunkRows), "heartbeat-interval", str(s.HeartbeatInterval.String()),
			"stall-timeout", str(s.StallTimeout.String())),
		"sink", m("type", str(k.Type),
			"catalog", m("type", str(k.Catalog.Type), "name", str(k.Catalog.Name), "uri", str(redactURI(k.Catalog.URI)),
				"credential", str(mask(k.Catalog.Credential)), "token", str(mask(k.Catalog.Token))),
			"warehouse", str(redactURI(k.Warehouse)),
			"s3", m("endpoint", str(k.S3.Endpoint), "region", str(k.S3.Region), "path-style", str(optBool(k.S3.PathStyle)),
				"access-key-id", str(k.S3.AccessKeyID), "secret-access-key", str(mask(k.S3.SecretAccessKey))),
			"namespace", str(k.Namespace), "mode", str(k.Mode), "timeout", str(k.Timeout.String()),
			"delete-mode", str(k.DeleteMode), "position-deletes-max-keys", num(k.PositionDeletesMaxKeys)),
	)
	if s.Type == "mysql" {
		src := root.Content[5] // the source mapping: pipeline, state, source
		src.Content = append(src.Content, str("server-id"), num(s.ServerID))
		if s.ServerTimeZone != "" {
			src.Content = append(src.Content, str("server-time-zone"), str(s.ServerTimeZone))
		}
		if s.ZeroDate != "" {
			zd := str(s.ZeroDate)
			zd.Style = yaml.DoubleQuotedStyle // "null" is a word here, not YAML's null
			src.Content = append(src.Content, str("zero-date"), zd)
		}
	}
	if len(c.Route) > 0 {
		routes := &yaml.Node{Kind: yaml.SequenceNode}
		for _, r := range c.Route {
			item := m("source-table", str(r.SourceTable), "sink-table", str(r.SinkTable))
			if len(r.PrimaryKey) > 0 {
				item.Content = append(item.Content, str("primary-key"), str(joinList(r.PrimaryKey)))
			}
			routes.Content = append(routes.Content, item)
		}
		root.Content = append(root.Content, str("route"), routes)
	}
	cc := c.Compaction
	compaction := m("interval", str(cc.Interval.String()),
		"target-file-size-mb", num(cc.TargetFileSizeMB), "min-input-files", num(cc.MinInputFiles),
		"delete-file-threshold", num(cc.DeleteFileThreshold), "max-rewrite-mb", num(cc.MaxRewriteMB),
		"expire-snapshots-older-than", str(cc.ExpireSnapshotsOlderThan.String()), "retain-last", num(cc.RetainLast),
		"max-snapshots", num(cc.MaxSnapshots), "remove-orphans-older-than", str(cc.RemoveOrphansOlderThan.String()))
	if cc.Enabled != nil {
		compaction.Content = append([]*yaml.Node{str("enabled"), str(optBool(cc.Enabled))}, compaction.Content...)
	}
	root.Content = append(root.Content,
		str("compaction"), compaction,
		str("server"), m("metrics-address", str(c.Server.MetricsAddress), "ready-max-lag", str(c.Server.ReadyMaxLag.String()),
			"admin-address", str(c.Server.AdminAddress), "admin-token", str(mask(c.Server.AdminToken))),
		str("log"), m("format", str(c.Log.Format), "level", str(c.Log.Level)))
	if reg := redactedRegistry(c.Registry, str, m); reg != nil {
		root.Content = append(root.Content, str("registry"), reg)
	}
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return fmt.Sprintf("# cannot render configuration: %v\n", err)
	}
	_ = enc.Close()
	return b.String()
}

// mask is "***" for a set secret and "" for an unset one.
func mask(secret string) string {
	if secret == "" {
		return ""
	}
	return "***"
}

// optBool renders an optional boolean; "" = unset.
func optBool(b *bool) string {
	if b == nil {
		return ""
	}
	if *b {
		return "true"
	}
	return "false"
}
