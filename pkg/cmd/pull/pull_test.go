package pull

import (
	"bytes"
	"context"
	"github.com/otomi/otomi/internal/cmdtest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/gitops/gitnet"
)

func testFactory(t *testing.T) (*cmdutil.Factory, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	return cmdtest.Factory(t, "")
}

func TestNewCmdPull(t *testing.T) {
	cases := []struct {
		args    string
		want    Options
		wantErr string
	}{
		{args: "", want: Options{}},
		{args: "--remote file:///srv/v.git --branch prod --ssh-key /k", want: Options{Remote: "file:///srv/v.git", Branch: "prod", SSHKey: "/k"}},
		{args: "extra", wantErr: `unknown command "extra"`},
	}
	for _, c := range cases {
		t.Run(c.args, func(t *testing.T) {
			f, _, _ := testFactory(t)
			var got *Options
			cmd := NewCmdPull(f, func(_ context.Context, o *Options) error { got = o; return nil })
			err := cmdtest.Execute(t, cmd, c.args)
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want.Remote, got.Remote)
			assert.Equal(t, c.want.Branch, got.Branch)
			assert.Equal(t, c.want.SSHKey, got.SSHKey)
			assert.NotNil(t, got.Getenv)
		})
	}
}

func gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir(),
		"GIT_AUTHOR_NAME=A", "GIT_AUTHOR_EMAIL=a@example.com", "GIT_COMMITTER_NAME=A", "GIT_COMMITTER_EMAIL=a@example.com")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

func TestRun(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	bare := filepath.Join(t.TempDir(), "remote.git")
	gitCLI(t, ".", "init", "--quiet", "--bare", "--initial-branch=main", bare)
	seed := filepath.Join(t.TempDir(), "seed")
	gitCLI(t, ".", "clone", "--quiet", bare, seed)
	require.NoError(t, os.MkdirAll(filepath.Join(seed, "env"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(seed, "env", "cluster.yaml"), []byte("cluster: {name: demo, provider: aws}\n"), 0o644))
	gitCLI(t, seed, "add", "-A")
	gitCLI(t, seed, "commit", "--quiet", "-m", "seed")
	gitCLI(t, seed, "push", "--quiet", "origin", "main")
	work := filepath.Join(t.TempDir(), "work")
	gitCLI(t, ".", "clone", "--quiet", bare, work)
	require.NoError(t, os.WriteFile(filepath.Join(seed, "env", "cluster.yaml"), []byte("cluster: {name: demo, provider: azure}\n"), 0o644))
	gitCLI(t, seed, "commit", "--quiet", "-am", "azure")
	gitCLI(t, seed, "push", "--quiet", "origin", "main")
	head := gitCLI(t, seed, "rev-parse", "--short=7", "HEAD")

	f, out, errOut := testFactory(t)
	f.Globals.EnvDir = work
	opts := &Options{IO: f.IOStreams, Factory: f, Getenv: func(string) string { return "" }, Retry: gitnet.Retry{Attempts: 1}}
	require.NoError(t, Run(context.Background(), opts), errOut.String())
	assert.Empty(t, out.String())
	assert.Equal(t, "✔ fast-forwarded to "+head+" from file://"+bare+" main\n✔ values valid\n", errOut.String())

	// Invalid values arrive: pulled, then exit 3 with the report.
	require.NoError(t, os.WriteFile(filepath.Join(seed, "env", "cluster.yaml"), []byte("cluster: {name: demo, provider: moon}\n"), 0o644))
	gitCLI(t, seed, "commit", "--quiet", "-am", "moon")
	gitCLI(t, seed, "push", "--quiet", "origin", "main")
	errOut.Reset()
	err := Run(context.Background(), opts)
	require.ErrorIs(t, err, cmdutil.ErrValidation)
	assert.Contains(t, errOut.String(), "fast-forwarded")
	assert.Contains(t, errOut.String(), "/cluster/provider")
	assert.Equal(t, "moon", gitCLI(t, work, "log", "-1", "--format=%s"))
}
