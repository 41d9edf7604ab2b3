package validatevalues

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/otomi/otomi/internal/cmdtest"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi/internal/golden"
	"github.com/otomi/otomi/pkg/cmdutil"
)

func testFactory(t *testing.T) (*cmdutil.Factory, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	return cmdtest.Factory(t, "testdata/repo")
}

func TestNewCmdValidateValues(t *testing.T) {
	cases := []struct {
		args    string
		want    Options
		wantErr string
	}{
		{args: "", want: Options{Output: "text"}},
		{args: "-o json", want: Options{Output: "json"}},
		{args: "--output text", want: Options{Output: "text"}},
		{args: "-o xml", wantErr: `--output must be text or json, got "xml"`},
		{args: "extra", wantErr: `unknown command "extra"`},
	}
	for _, c := range cases {
		t.Run(c.args, func(t *testing.T) {
			f, _, _ := testFactory(t)
			var got *Options
			cmd := NewCmdValidateValues(f, func(_ context.Context, o *Options) error { got = o; return nil })
			err := cmdtest.Execute(t, cmd, c.args)
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want.Output, got.Output)
		})
	}
}

func TestRunText(t *testing.T) {
	f, out, errOut := testFactory(t)
	err := Run(context.Background(), &Options{IO: f.IOStreams, Factory: f, Output: "text"})
	assert.ErrorIs(t, err, cmdutil.ErrValidation)
	assert.Equal(t, cmdutil.ExitValidation, cmdutil.ExitCode(err))
	assert.Empty(t, out.String(), "people's report goes to stderr")
	golden.Assert(t, "report.txt", errOut.Bytes())
	assert.NotContains(t, errOut.String(), "plain-text-secret")
	assert.NotContains(t, errOut.String(), "12345")
}

func TestRunJSON(t *testing.T) {
	f, out, errOut := testFactory(t)
	err := Run(context.Background(), &Options{IO: f.IOStreams, Factory: f, Output: "json"})
	assert.ErrorIs(t, err, cmdutil.ErrValidation)
	assert.Empty(t, errOut.String())
	var r Report
	require.NoError(t, json.Unmarshal(out.Bytes(), &r))
	assert.False(t, r.Valid)
	assert.Equal(t, 5, r.Errors)
	assert.Equal(t, 2, r.Warnings)
	golden.Assert(t, "report.json", out.Bytes())
}

func TestRunValid(t *testing.T) {
	f, out, errOut := testFactory(t)
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(dir+"/env", 0o755))
	require.NoError(t, os.WriteFile(dir+"/env/cluster.yaml", []byte("cluster: {name: demo, provider: aws}\n"), 0o644))
	f.Globals.EnvDir = dir
	require.NoError(t, Run(context.Background(), &Options{IO: f.IOStreams, Factory: f, Output: "text"}))
	assert.Empty(t, out.String())
	assert.Equal(t, "✔ values valid: 1 files (0 secrets files) in "+dir+"\n", errOut.String())
}
