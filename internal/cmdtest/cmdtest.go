// Package cmdtest holds what the command tests share: a Factory with test
// streams and the test values schema, and running a command from an argv line.
package cmdtest

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/shlex"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/schema"
)

// Factory returns a Factory whose streams are buffers (stdout, stderr) and
// whose schema is pkg/schema/testdata/schema.yaml; envDir is the values repo.
func Factory(t *testing.T, envDir string) (*cmdutil.Factory, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := cmdutil.New(ios)
	_, here, _, _ := runtime.Caller(0)
	data, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "..", "pkg", "schema", "testdata", "schema.yaml"))
	require.NoError(t, err)
	f.Schema = func() (*schema.Schema, error) { return schema.Load("values-schema.yaml", data) }
	f.Globals.EnvDir = envDir
	return f, out, errOut
}

// Execute runs cmd with the arguments of a shell-like line, its own output
// discarded, and returns its error.
func Execute(t *testing.T, cmd *cobra.Command, line string) error {
	t.Helper()
	argv, err := shlex.Split(line)
	require.NoError(t, err)
	cmd.SetArgs(argv)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	return cmd.Execute()
}
