package gitops

import (
	"os"
	"path/filepath"
	"testing"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestResolveAuthor(t *testing.T) {
	flags := IdentitySource{From: "flags", Identity: Identity{"Flag Name", "flag@example.com"}}
	env := IdentitySource{From: "env", Identity: Identity{"Env Name", "env@example.com"}}
	repo := IdentitySource{From: "repo", Identity: Identity{"Repo Name", "repo@example.com"}}
	global := IdentitySource{From: "global", Identity: Identity{"Global Name", "global@example.com"}}
	none := func(from string) IdentitySource { return IdentitySource{From: from} }
	for _, tc := range []struct {
		name    string
		sources []IdentitySource
		want    Identity
		err     string
	}{
		{"flags win", []IdentitySource{flags, env, repo, global}, flags.Identity, ""},
		{"env next", []IdentitySource{none("flags"), env, repo, global}, env.Identity, ""},
		{"repo config next", []IdentitySource{none("flags"), none("env"), repo, global}, repo.Identity, ""},
		{"global config last", []IdentitySource{none("flags"), none("env"), none("repo"), global}, global.Identity, ""},
		{"per field", []IdentitySource{{From: "flags", Identity: Identity{Name: "Only Name"}}, none("env"), {From: "repo", Identity: Identity{Email: "repo@example.com"}}}, Identity{"Only Name", "repo@example.com"}, ""},
		{"blank is unset", []IdentitySource{{From: "flags", Identity: Identity{Name: "  "}}, env}, env.Identity, ""},
		{"missing email", []IdentitySource{{From: "flags", Identity: Identity{Name: "N"}}, none("git config")}, Identity{}, "no commit author email: set it with flags, git config"},
		{"missing both", []IdentitySource{none("flags"), none("env")}, Identity{}, "no commit author name or email"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveAuthor(tc.sources)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// The git config scopes as go-git reads them: the repository's own config
// wins over ~/.gitconfig, field by field.
func TestConfigIdentities(t *testing.T) {
	home := isolateHome(t)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	require.NoError(t, os.WriteFile(filepath.Join(home, ".gitconfig"), []byte("[user]\n\tname = Global Name\n\temail = global@example.com\n"), 0o644))
	work := t.TempDir()
	r, err := Init(work, "main")
	require.NoError(t, err)
	id := func() Identity {
		srcs, err := r.ConfigIdentities()
		require.NoError(t, err)
		id, err := ResolveAuthor(srcs)
		require.NoError(t, err)
		return id
	}
	assert.Equal(t, Identity{"Global Name", "global@example.com"}, id())
	cmd := gitCmd(t, work, "config", "user.email", "repo@example.com")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Equal(t, Identity{"Global Name", "repo@example.com"}, id())
}

func TestResolveRemoteCredentials(t *testing.T) {
	isolateHome(t)
	work := t.TempDir()
	r, err := Init(work, "main")
	require.NoError(t, err)
	basic := func(rem *Remote) string {
		if rem.Auth == nil {
			return "none"
		}
		b := rem.Auth.(*githttp.BasicAuth)
		return b.Username + ":" + b.Password
	}
	valuesURL := "https://git.example.com/otomi/values.git"
	for _, tc := range []struct {
		name   string
		spec   RemoteSpec
		auth   string
		source string
		shown  string
	}{
		{"values URL and credentials", RemoteSpec{ValuesURL: valuesURL, ValuesUsername: "vu", ValuesPassword: "vp"}, "vu:vp", "otomi.git.repoUrl", "https://vu:***@git.example.com/otomi/values.git"},
		{"env beats values", RemoteSpec{ValuesURL: valuesURL, ValuesUsername: "vu", ValuesPassword: "vp", EnvUsername: "eu", EnvPassword: "ep"}, "eu:ep", "otomi.git.repoUrl", "https://eu:***@git.example.com/otomi/values.git"},
		{"URL beats env", RemoteSpec{URL: "https://uu:up@git.example.com/otomi/values.git", EnvUsername: "eu", EnvPassword: "ep"}, "uu:up", "--remote", "https://uu:***@git.example.com/otomi/values.git"},
		{"values credentials go to the values host only", RemoteSpec{URL: "https://elsewhere.example.com/v.git", ValuesURL: valuesURL, ValuesUsername: "vu", ValuesPassword: "vp"}, "none", "--remote", "https://elsewhere.example.com/v.git"},
		{"values credentials to --remote on the same host", RemoteSpec{URL: "https://git.example.com/other.git", ValuesURL: valuesURL, ValuesUsername: "vu", ValuesPassword: "vp"}, "vu:vp", "--remote", "https://vu:***@git.example.com/other.git"},
		{"token alone", RemoteSpec{URL: valuesURL, EnvPassword: "tok"}, "git:tok", "--remote", "https://***@git.example.com/otomi/values.git"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Branch = "main"
			rem, err := r.ResolveRemote(tc.spec)
			require.NoError(t, err)
			assert.Equal(t, tc.auth, basic(rem))
			assert.Equal(t, tc.source, rem.Source)
			assert.Equal(t, tc.shown, rem.String())
			assert.NotContains(t, rem.Endpoint.URL, "@", "go-git never gets credentials in the URL")
		})
	}
}
