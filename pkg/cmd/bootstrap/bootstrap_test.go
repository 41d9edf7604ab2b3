package bootstrap

import (
	"bytes"
	"context"
	"github.com/otomi/otomi/internal/cmdtest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi/internal/golden"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
)

func testFactory(t *testing.T) (*cmdutil.Factory, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	ios, in, out, errOut := iostreams.Test()
	f := cmdutil.New(ios)
	return f, in, out, errOut
}

func TestNewCmdBootstrap(t *testing.T) {
	cases := []struct {
		args    string
		want    Options
		wantErr string
	}{
		{args: "", want: Options{}},
		{args: "--input values.yaml --cluster-name demo --provider aws --domain-suffix x.example.com",
			want: Options{Input: "values.yaml", ClusterName: "demo", Provider: "aws", DomainSuffix: "x.example.com"}},
		{args: "-i - --kms pgp --kms-key AAA --kms-key BBB --changes c.yaml",
			want: Options{Input: "-", KMS: "pgp", KMSKeys: []string{"AAA", "BBB"}, Changes: "c.yaml"}},
		{args: "--kms rot13", wantErr: `--kms must be one of age, aws, azure, gcp, pgp, vault, got "rot13"`},
		{args: "--provider moon", wantErr: `--provider must be one of aws, azure, google, digitalocean, linode, ovh, scaleway, vultr, custom, got "moon"`},
		{args: "extra", wantErr: `unknown command "extra"`},
	}
	for _, c := range cases {
		t.Run(c.args, func(t *testing.T) {
			f, _, _, _ := testFactory(t)
			var got *Options
			cmd := NewCmdBootstrap(f, func(_ context.Context, o *Options) error { got = o; return nil })
			err := cmdtest.Execute(t, cmd, c.args)
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			c.want.IO, c.want.Factory = got.IO, got.Factory
			assert.Equal(t, c.want, *got)
		})
	}
}

func useTestKey(t *testing.T) {
	t.Helper()
	key, err := filepath.Abs("../../../testdata/age/test-only.agekey")
	require.NoError(t, err)
	t.Setenv("SOPS_AGE_KEY", "")
	t.Setenv("SOPS_AGE_KEY_FILE", key)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
}

func TestRunReportsWhatItDid(t *testing.T) {
	useTestKey(t)
	f, in, out, errOut := testFactory(t)
	root := filepath.Join(t.TempDir(), "values")
	f.Globals.EnvDir = root
	in.WriteString("cluster: {name: demo, provider: custom, domainSuffix: demo.example.com}\n")
	opts := &Options{IO: f.IOStreams, Factory: f, Input: "-"}
	require.NoError(t, Run(context.Background(), opts))
	assert.Empty(t, out.String(), "stdout carries data only")
	golden.Assert(t, "first-run.txt", []byte(strings.ReplaceAll(errOut.String(), root, "$ROOT")))

	errOut.Reset()
	in.WriteString("cluster: {name: demo, provider: custom, domainSuffix: demo.example.com}\n")
	require.NoError(t, Run(context.Background(), opts))
	assert.Equal(t, "✔ values repo $ROOT is up to date: nothing to write\n", strings.ReplaceAll(errOut.String(), root, "$ROOT"))
}

func TestRunInvalidInputIsAValidationReport(t *testing.T) {
	useTestKey(t)
	f, _, out, errOut := testFactory(t)
	dir := t.TempDir()
	f.Globals.EnvDir = filepath.Join(dir, "values")
	input := filepath.Join(dir, "in.yaml")
	require.NoError(t, os.WriteFile(input, []byte("cluster:\n  name: demo\n  provider: custom\n  domainSufix: x\n"), 0o644))
	err := Run(context.Background(), &Options{IO: f.IOStreams, Factory: f, Input: input})
	require.ErrorIs(t, err, cmdutil.ErrValidation)
	assert.Equal(t, cmdutil.ExitValidation, cmdutil.ExitCode(err))
	assert.Empty(t, out.String())
	assert.Equal(t, strings.ReplaceAll(`✗ values invalid: 2 errors
  IN:1:1  /cluster/domainSuffix  missing required property "domainSuffix"
  IN:4:3  /cluster/domainSufix   unknown property "domainSufix" (did you mean "domainSuffix"?)
nothing was written
`, "IN", input), errOut.String())
	_, err = os.Stat(f.Globals.EnvDir)
	assert.True(t, os.IsNotExist(err))
}
