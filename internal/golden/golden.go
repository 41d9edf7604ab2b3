// Package golden compares test output with files under testdata/, which
// `go test ... -update` rewrites. Review the diff of an update before
// committing it.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// Assert checks that got equals the golden file testdata/<name>.
func Assert(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing: run go test with -update and review it")
	assert.Equal(t, string(want), string(got), "differs from %s (go test -update rewrites it)", path)
}
