package printvalues

import (
	"bytes"
	"context"
	"github.com/otomi/otomi/internal/cmdtest"
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

func TestNewCmdValues(t *testing.T) {
	cases := []struct {
		args    string
		want    Options
		wantErr string
	}{
		{args: "", want: Options{Output: "yaml"}},
		{args: "--exclude-secrets -o json", want: Options{Output: "json", ExcludeSecrets: true}},
		{args: "--files-only", want: Options{Output: "yaml", FilesOnly: true}},
		{args: "-o toml", wantErr: `--output must be yaml or json, got "toml"`},
	}
	for _, c := range cases {
		t.Run(c.args, func(t *testing.T) {
			f, _, _ := testFactory(t)
			var got *Options
			cmd := NewCmdValues(f, func(_ context.Context, o *Options) error { got = o; return nil })
			err := cmdtest.Execute(t, cmd, c.args)
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want.Output, got.Output)
			assert.Equal(t, c.want.ExcludeSecrets, got.ExcludeSecrets)
			assert.Equal(t, c.want.FilesOnly, got.FilesOnly)
		})
	}
}

func TestRun(t *testing.T) {
	cases := []struct {
		name   string
		opts   Options
		golden string
	}{
		{"redacted with defaults", Options{ExcludeSecrets: true, Output: "yaml"}, "redacted.yaml"},
		{"files only", Options{FilesOnly: true, ExcludeSecrets: true, Output: "yaml"}, "files-only.yaml"},
		{"json with secrets", Options{Output: "json"}, "all.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, out, errOut := testFactory(t)
			c.opts.IO, c.opts.Factory = f.IOStreams, f
			require.NoError(t, Run(context.Background(), &c.opts))
			assert.Empty(t, errOut.String())
			golden.Assert(t, c.golden, out.Bytes())
			if c.opts.ExcludeSecrets {
				assert.NotContains(t, out.String(), "secret-value")
			}
		})
	}
}
