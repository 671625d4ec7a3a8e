package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/transform"
)

// TestConfigSchemaChangeBehavior: pipeline.schema-change-behavior reaches
// checkpoint.Config (lenient when unset); an unknown value is a problem
// naming the field, its line and the valid values.
func TestConfigSchemaChangeBehavior(t *testing.T) {
	cfg, err := ParseConfig("c.yaml", []byte(minimalYAML), testEnv(nil))
	require.NoError(t, err)
	require.Equal(t, transform.Lenient, checkpointConfig(cfg).SchemaChangeBehavior)

	for _, b := range transform.Behaviors() {
		y := strings.Replace(minimalYAML, "  name: shop\n", "  name: shop\n  schema-change-behavior: "+b+"\n", 1)
		cfg, err := ParseConfig("c.yaml", []byte(y), testEnv(nil))
		require.NoError(t, err, b)
		require.Equal(t, transform.Behavior(b), checkpointConfig(cfg).SchemaChangeBehavior)
	}

	y := strings.Replace(minimalYAML, "  name: shop\n", "  name: shop\n  schema-change-behavior: try-evolve\n", 1)
	problems := configProblems(t, y, nil)
	require.Len(t, problems, 1, "%+v", problems)
	p := problems[0]
	require.Equal(t, "pipeline.schema-change-behavior", p.Field)
	require.Equal(t, 3, p.Line)
	require.Contains(t, p.Message, `unknown value "try-evolve"`)
	require.Contains(t, p.Fix, "use lenient or exception or evolve or try_evolve or ignore (did you mean try_evolve?)")
}
