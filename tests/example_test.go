package tests

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi/internal/golden"
	"github.com/otomi/otomi/pkg/cmd/root"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
)

// TestExampleValuesGolden pins the merged values of the bundled example
// repo (schema defaults included, secrets redacted): a change to the
// schema's defaults or the example shows up here for review.
func TestExampleValuesGolden(t *testing.T) {
	top := repoRoot(t)
	t.Setenv("SOPS_AGE_KEY_FILE", filepath.Join(top, "testdata", "age", "test-only.agekey"))
	t.Setenv("SOPS_AGE_KEY", "")
	ios, _, out, errOut := iostreams.Test()
	code := root.Run(context.Background(), cmdutil.New(ios), []string{"values", "--exclude-secrets", "--env-dir", filepath.Join(top, "examples", "demo")})
	require.Equal(t, 0, code, errOut.String())
	assert.Empty(t, errOut.String())
	assert.NotContains(t, out.String(), Canary)
	assert.Equal(t, 27, strings.Count(out.String(), "<redacted>"), "every secret of the example is redacted")
	golden.Assert(t, "example-values.yaml", out.Bytes())
}
