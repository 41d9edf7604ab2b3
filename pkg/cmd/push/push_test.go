package push

import (
	"bytes"
	"context"
	"github.com/otomi/otomi/internal/cmdtest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/gitops"
	"github.com/otomi/otomi/pkg/gitops/gitnet"
	"github.com/otomi/otomi/pkg/secrets"
)

func testFactory(t *testing.T) (*cmdutil.Factory, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	return cmdtest.Factory(t, "")
}

func TestNewCmdPush(t *testing.T) {
	cases := []struct {
		args    string
		want    Options
		wantErr string
	}{
		{args: "", want: Options{}},
		{args: "-m 'add team demo'", want: Options{Message: "add team demo"}},
		{args: "--remote https://git.example.com/v.git --branch prod", want: Options{Remote: "https://git.example.com/v.git", Branch: "prod"}},
		{args: "--author-name 'A B' --author-email a@b.c --ssh-key /k", want: Options{AuthorName: "A B", AuthorEmail: "a@b.c", SSHKey: "/k"}},
		{args: "-m ''", wantErr: "--message must not be empty"},
		{args: "extra", wantErr: `unknown command "extra"`},
	}
	for _, c := range cases {
		t.Run(c.args, func(t *testing.T) {
			f, _, _ := testFactory(t)
			var got *Options
			cmd := NewCmdPush(f, func(_ context.Context, o *Options) error { got = o; return nil })
			err := cmdtest.Execute(t, cmd, c.args)
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want.Message, got.Message)
			assert.Equal(t, c.want.Remote, got.Remote)
			assert.Equal(t, c.want.Branch, got.Branch)
			assert.Equal(t, c.want.AuthorName, got.AuthorName)
			assert.Equal(t, c.want.AuthorEmail, got.AuthorEmail)
			assert.Equal(t, c.want.SSHKey, got.SSHKey)
			assert.NotNil(t, got.Getenv)
			assert.Equal(t, gitnet.DefaultRetry.Attempts, got.Retry.Attempts)
		})
	}
	assert.Equal(t, []string{"commit"}, NewCmdPush(cmdutil.New(nil), nil).Aliases)
}

func TestMessage(t *testing.T) {
	for _, tc := range []struct{ given, ci, want string }{
		{"", "", DefaultMessage},
		{"", "false", DefaultMessage},
		{"", "true", DefaultMessage + " [ci skip]"},
		{"", "1", DefaultMessage + " [ci skip]"},
		{"add team", "true", "add team"},
		{"  ", "true", DefaultMessage + " [ci skip]"},
	} {
		t.Run(tc.given+"/"+tc.ci, func(t *testing.T) {
			env := func(k string) string {
				if k == "CI" {
					return tc.ci
				}
				return ""
			}
			assert.Equal(t, tc.want, Message(tc.given, env))
		})
	}
}

// fakeCodec encrypts by wrapping; it records what it was asked.
type fakeCodec struct{ encrypted []string }

func (c *fakeCodec) Decrypt(_ context.Context, path string, data []byte) ([]byte, error) {
	if !bytes.Contains(data, []byte("ENC[fake]")) {
		return nil, os.ErrInvalid
	}
	return []byte("otomi:\n  adminPassword: sekrit-123\n"), nil
}

func (c *fakeCodec) Encrypt(_ context.Context, _ *secrets.Rule, path string, plain []byte) ([]byte, error) {
	c.encrypted = append(c.encrypted, filepath.Base(path))
	return []byte("otomi:\n    adminPassword: ENC[fake]\nsops:\n    version: fake\n"), nil
}

func gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

const sopsYAML = `creation_rules:
  - path_regex: ^env/(.*/)?secrets\.[^/]+\.yaml$
    age: age19jy8y7rxf0rw8xd2u8wp7gadyrlxcwmk58c8cxw3sv5gllh7x33s7a09dl
`

func TestRun(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", home)
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "env"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".sops.yaml"), []byte(sopsYAML), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "env", "cluster.yaml"), []byte("cluster: {name: demo, provider: aws}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "env", "secrets.settings.yaml"), []byte("otomi:\n  adminPassword: sekrit-123\n"), 0o644))
	bare := filepath.Join(t.TempDir(), "remote.git")
	gitCLI(t, ".", "init", "--quiet", "--bare", "--initial-branch=main", bare)

	f, out, errOut := testFactory(t)
	codec := &fakeCodec{}
	f.Crypto = func() secrets.Codec { return codec }
	f.Globals.EnvDir = dir
	env := map[string]string{gitops.EnvAuthorName: "Env Author"}
	opts := &Options{IO: f.IOStreams, Factory: f, Remote: "file://" + bare, Message: "first", AuthorEmail: "flag@example.com",
		Getenv: func(k string) string { return env[k] }, Retry: gitnet.Retry{Attempts: 1}}
	require.NoError(t, Run(context.Background(), opts), errOut.String())

	hash := regexp.MustCompile(`\b[0-9a-f]{7}\b`)
	assert.Empty(t, out.String())
	assert.Equal(t, `✔ values valid
✔ env/secrets.settings.yaml: encrypted
✔ initialised a git repository in `+dir+` (branch main)
✔ committed HASH "first" as Env Author <flag@example.com>: .sops.yaml, env/cluster.yaml, env/secrets.settings.yaml
✔ pushed HASH to file://`+bare+`, creating branch main
`, hash.ReplaceAllString(errOut.String(), "HASH"))
	assert.Equal(t, []string{"secrets.settings.yaml"}, codec.encrypted)
	assert.Contains(t, gitCLI(t, bare, "show", "main:env/secrets.settings.yaml"), "ENC[fake]")
	assert.NotContains(t, errOut.String(), "sekrit-123")

	// Again: nothing to commit, and the remote is known to be up to date.
	errOut.Reset()
	require.NoError(t, Run(context.Background(), opts), errOut.String())
	assert.Equal(t, "✔ values valid\n✔ nothing to commit, working tree clean; main is up to date with file://"+bare+"\n", errOut.String())

	// A plaintext secrets file the sops rules do not reach is refused.
	errOut.Reset()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets.extra.yaml"), []byte("x: sekrit-123\n"), 0o644))
	err := Run(context.Background(), opts)
	require.ErrorContains(t, err, "refusing to commit secrets files in plaintext while .sops.yaml exists: secrets.extra.yaml")
	assert.Equal(t, "1", gitCLI(t, dir, "rev-list", "--count", "HEAD"))
	require.NoError(t, os.Remove(filepath.Join(dir, "secrets.extra.yaml")))

	// No author anywhere.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "env", "cluster.yaml"), []byte("cluster: {name: demo, provider: azure}\n"), 0o644))
	opts.AuthorEmail, env = "", nil
	err = Run(context.Background(), opts)
	require.ErrorContains(t, err, "no commit author name or email: set it with --author-name/--author-email, $OTOMI_GIT_AUTHOR_NAME/$OTOMI_GIT_AUTHOR_EMAIL, git config (repository), git config --global")
}
