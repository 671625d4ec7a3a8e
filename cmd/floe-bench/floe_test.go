package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// yamlSource is a benchSource that only writes its config section.
type yamlSource struct{ benchSource }

func (yamlSource) FloeSourceYAML(pipeline, mode string, tables []string, parallelism, chunkRows int) string {
	return fmt.Sprintf("  type: postgres\n  snapshot.mode: %s\n  snapshot.parallelism: %d\n  snapshot.chunk-rows: %d\n", mode, parallelism, chunkRows)
}

func (yamlSource) FloeEnv() []string { return nil }

// TestNewPipelineWith: the snapshot's parallelism, freshness's
// compaction and the reads scenario's sink reach floe's config.
func TestNewPipelineWith(t *testing.T) {
	r := &floeRunner{workdir: t.TempDir(), src: yamlSource{}, parallelism: 2, chunkRows: 1000}
	read := func(d *pipelineDir) string {
		b, err := os.ReadFile(d.config)
		require.NoError(t, err)
		return string(b)
	}
	d, err := r.newPipeline("plain", "never", []string{"a"}, time.Second)
	require.NoError(t, err)
	cfg := read(d)
	assert.Contains(t, cfg, "  snapshot.parallelism: 2\n")
	assert.Contains(t, cfg, "    uri: sqlite://"+d.dir+"/catalog.db\n  warehouse: "+d.dir+"/warehouse\n  namespace: bench\n")
	assert.NotContains(t, cfg, "compaction:", "floe's defaults unless asked")
	assert.Equal(t, "sqlite://"+d.dir+"/catalog.db", d.lakeOptions().URI)

	d, err = r.newPipelineWith("tuned", "initial_only", []string{"a"}, time.Second, pipelineOpts{parallelism: 1,
		compaction: "  enabled: true\n  interval: 15s\n", sink: "  catalog:\n    type: sql\n    uri: postgres://x/y\n  warehouse: s3://b/p\n",
		env: []string{"K=V"}})
	require.NoError(t, err)
	cfg = read(d)
	assert.Contains(t, cfg, "  snapshot.parallelism: 1\n")
	assert.Contains(t, cfg, "\ncompaction:\n  enabled: true\n  interval: 15s\n")
	assert.Contains(t, cfg, "sink:\n  type: iceberg\n  catalog:\n    type: sql\n    uri: postgres://x/y\n  warehouse: s3://b/p\n  namespace: bench\n")
	assert.NotContains(t, cfg, "sqlite")
	assert.Equal(t, []string{"K=V"}, d.env)
}

func TestFileSamplerObserve(t *testing.T) {
	fs := &fileSampler{max: map[string]TableFiles{}}
	fs.observe("a", 10, 9)
	fs.observe("a", 2, 1) // compacted
	fs.observe("a", 5, 12)
	fs.observe("b", 1, 0)
	assert.Equal(t, TableFiles{Table: "a", MaxData: 10, MaxDeletes: 12}, fs.max["a"])
	assert.Equal(t, TableFiles{Table: "b", MaxData: 1}, fs.max["b"])
}

func TestParseFlagsScenarios(t *testing.T) {
	o, err := parseFlags([]string{"-sustained"})
	require.NoError(t, err)
	assert.Equal(t, []string{scFreshness}, o.scenarios)
	assert.Equal(t, 10*time.Minute, o.duration)
	assert.Equal(t, time.Minute, o.compactEvery)
	assert.Equal(t, "sustained", o.label)

	o, err = parseFlags([]string{"-sustained", "-duration", "2m", "-label", "x"})
	require.NoError(t, err)
	assert.Equal(t, 2*time.Minute, o.duration, "explicit flags win")
	assert.Equal(t, "x", o.label)

	o, err = parseFlags(nil)
	require.NoError(t, err)
	assert.NotContains(t, o.scenarios, scReads, "reads needs Trino: only when named")
	assert.Zero(t, o.compactEvery)

	_, err = parseFlags([]string{"-scenarios", "reads"})
	require.ErrorContains(t, err, "add -source postgres", "the default sources include mariadb")
	o, err = parseFlags([]string{"-scenarios", "reads", "-source", "postgres"})
	require.NoError(t, err)
	assert.Equal(t, []string{scReads}, o.scenarios)
	_, err = parseFlags([]string{"-compaction-interval", "-1s"})
	require.ErrorContains(t, err, "-compaction-interval")
}

// TestWorkloadMix: the default mix is 2:2:1 as before; the reads
// scenario's update-heavy mix makes 80 % of the changes updates.
func TestWorkloadMix(t *testing.T) {
	assert.Equal(t, txnMix{ins: 20, upd: 20, del: 10}, workloadMix(50, false))
	assert.Equal(t, txnMix{ins: 40, upd: 40, del: 20}, workloadMix(100, false))
	heavy := workloadMix(50, true)
	assert.Equal(t, txnMix{ins: 5, upd: 40, del: 5}, heavy)
	assert.Equal(t, int64(50), heavy.changes())

	r := &idRange{lo: 1, hi: 1001}
	tbl := benchTable{name: "t", gen: "g", set: "v = v + 1"}
	del, ins, upd := workloadTxn(tbl, r, rand.New(rand.NewPCG(1, 2)), heavy, pgSeries)
	assert.Equal(t, "DELETE FROM t WHERE id >= 1 AND id < 6", del)
	assert.Equal(t, "INSERT INTO t SELECT g FROM generate_series(1001::bigint, 1005) g", ins)
	assert.Contains(t, upd, "UPDATE t SET v = v + 1 WHERE id >= ")
	assert.Equal(t, idRange{lo: 6, hi: 1006}, *r)
}
