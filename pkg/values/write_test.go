package values

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// secretLeaves stands in for the schema's x-secret marks.
func secretLeaves(ptr string) bool {
	return strings.HasSuffix(ptr, "/password") || strings.HasSuffix(ptr, "/secretKey")
}

func TestFileFor(t *testing.T) {
	cases := []struct {
		ptr     string
		secret  bool
		want    string
		wantErr string
	}{
		{ptr: "/cluster/name", want: "env/cluster.yaml"},
		{ptr: "/cluster/name", secret: true, wantErr: "cannot live under /cluster"},
		{ptr: "/otomi/adminPassword", secret: true, want: "env/secrets.settings.yaml"},
		{ptr: "/version", want: "env/settings.yaml"},
		{ptr: "/teamConfig/demo/password", secret: true, want: "env/secrets.teams.yaml"},
		{ptr: "/teamConfig/demo/oidc/groupMapping", want: "env/teams.yaml"},
		{ptr: "/teamConfig/demo/services", want: "env/teams/services.demo.yaml"},
		{ptr: "/teamConfig/demo/services/0/name", want: "env/teams/services.demo.yaml"},
		{ptr: "/teamConfig/demo/policies/x", want: "env/teams.yaml"},
		{ptr: "/apps/harbor/secretKey", secret: true, want: "env/apps/secrets.harbor.yaml"},
		{ptr: "/apps/harbor/enabled", want: "env/apps/harbor.yaml"},
		{ptr: "/databases/gitea/size", want: "env/databases/gitea.yaml"},
		{ptr: "/apps", wantErr: "one entry per name"},
		{ptr: "/apps/a.b/enabled", wantErr: "no place in a values repo"},
	}
	for _, c := range cases {
		t.Run(c.ptr, func(t *testing.T) {
			got, err := FileFor(c.ptr, c.secret)
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

func TestFragmentsPutSplitsBySecretAndScope(t *testing.T) {
	fr := Fragments{}
	in := map[string]any{
		"cluster": map[string]any{"name": "demo"},
		"otomi":   map[string]any{"password": "s3cret", "isMultitenant": true},
		"apps":    map[string]any{"harbor": map[string]any{"enabled": true, "secretKey": "0123456789abcdef"}},
		"teamConfig": map[string]any{"demo": map[string]any{
			"password": "p", "services": []any{map[string]any{"name": "web"}},
		}},
	}
	require.NoError(t, fr.Merge("", in, secretLeaves))
	assert.Equal(t, Fragments{
		"env/cluster.yaml":             {"cluster": map[string]any{"name": "demo"}},
		"env/settings.yaml":            {"otomi": map[string]any{"isMultitenant": true}},
		"env/secrets.settings.yaml":    {"otomi": map[string]any{"password": "s3cret"}},
		"env/apps/harbor.yaml":         {"apps": map[string]any{"harbor": map[string]any{"enabled": true}}},
		"env/apps/secrets.harbor.yaml": {"apps": map[string]any{"harbor": map[string]any{"secretKey": "0123456789abcdef"}}},
		"env/secrets.teams.yaml":       {"teamConfig": map[string]any{"demo": map[string]any{"password": "p"}}},
		"env/teams/services.demo.yaml": {"teamConfig": map[string]any{"demo": map[string]any{"services": []any{map[string]any{"name": "web"}}}}},
	}, fr)
	assert.Equal(t, in, fr.Tree(), "merging the files gives the tree back")
}

func TestFragmentsPutKeepsAValueInTheFileThatHoldsIt(t *testing.T) {
	// teams.yaml holds the services list (legal, though not where otomi
	// would put it): a new value replaces it there.
	fr := Fragments{"env/teams.yaml": {"teamConfig": map[string]any{"demo": map[string]any{"services": []any{"a"}}}}}
	require.NoError(t, fr.Put("/teamConfig/demo/services", []any{"b"}, secretLeaves))
	assert.Equal(t, Fragments{"env/teams.yaml": {"teamConfig": map[string]any{"demo": map[string]any{"services": []any{"b"}}}}}, fr)
}

func TestFragmentsDeletePrunesMapsAndFiles(t *testing.T) {
	fr := Fragments{
		"env/apps/harbor.yaml": {"apps": map[string]any{"harbor": map[string]any{"enabled": true, "x": map[string]any{"y": 1}}}},
		"env/apps/loki.yaml":   {"apps": map[string]any{"loki": map[string]any{"enabled": true}}},
	}
	assert.True(t, fr.Delete("/apps/harbor/x/y"))
	assert.Equal(t, map[string]any{"apps": map[string]any{"harbor": map[string]any{"enabled": true}}}, fr["env/apps/harbor.yaml"])
	assert.True(t, fr.Delete("/apps/loki"))
	assert.NotContains(t, fr, "env/apps/loki.yaml", "a file left empty is removed")
	assert.False(t, fr.Delete("/apps/nothing"))
}

func TestFragmentsRename(t *testing.T) {
	svc := []any{map[string]any{"name": "web"}}
	fr := Fragments{"env/teams/external.demo.yaml": {"teamConfig": map[string]any{"demo": map[string]any{"external": svc}}}}
	require.NoError(t, fr.Rename("env/teams/external.demo.yaml", "env/teams/services.demo.yaml"))
	assert.Equal(t, Fragments{"env/teams/services.demo.yaml": {"teamConfig": map[string]any{"demo": map[string]any{"services": svc}}}}, fr,
		"the content moves to the new file's scope")
	require.NoError(t, fr.Rename("env/teams/missing.demo.yaml", "env/teams/jobs.demo.yaml"), "nothing to rename")

	fr["env/teams/jobs.demo.yaml"] = map[string]any{"teamConfig": map[string]any{"demo": map[string]any{"jobs": []any{}}}}
	require.ErrorContains(t, fr.Rename("env/teams/services.demo.yaml", "env/teams/jobs.demo.yaml"), "exists already")
	require.ErrorContains(t, fr.Rename("env/teams/services.demo.yaml", "env/teams/secrets.jobs.demo.yaml"), "secrets file can only be renamed to a secrets file")
	require.ErrorContains(t, fr.Rename("env/teams/services.demo.yaml", "env/nowhere/x.yaml"), "no place in a values repo")
}

func TestEncodeIsStable(t *testing.T) {
	tree := map[string]any{"b": map[string]any{"z": 1, "a": "yes", "list": []any{"x"}}, "a": "1.35", "pem": "-----BEGIN X-----\nabc\n-----END X-----\n"}
	first, err := Encode(tree)
	require.NoError(t, err)
	second, err := Encode(tree)
	require.NoError(t, err)
	assert.Equal(t, first, second)
	assert.Equal(t, `a: "1.35"
b:
  a: "yes"
  list:
    - x
  z: 1
pem: |
  -----BEGIN X-----
  abc
  -----END X-----
`, string(first))
	back, _, problems := ParseYAML("x.yaml", first)
	require.Empty(t, problems)
	assert.Equal(t, tree, back, "what is written reads back the same")
}

func TestEncodeOverKeepsCommentsOrderAndStyle(t *testing.T) {
	old := []byte(`# the platform settings
version: 1
otomi:
  isMultitenant: true # teams apart
  hasExternalDNS: false
alerts:
  receivers: [slack, email]
`)
	tree, _, problems := ParseYAML("settings.yaml", old)
	require.Empty(t, problems)
	same, err := EncodeOver(old, tree)
	require.NoError(t, err)
	assert.Equal(t, string(old), string(same), "unchanged values keep their bytes")

	tree["otomi"].(map[string]any)["ca"] = map[string]any{"crt": "PEM"}
	delete(tree["otomi"].(map[string]any), "hasExternalDNS")
	tree["version"] = 2
	got, err := EncodeOver(old, tree)
	require.NoError(t, err)
	assert.Equal(t, `# the platform settings
version: 2
otomi:
  isMultitenant: true # teams apart
  ca:
    crt: PEM
alerts:
  receivers: [slack, email]
`, string(got))
	back, _, problems := ParseYAML("settings.yaml", got)
	require.Empty(t, problems)
	assert.Equal(t, tree, back)
}

func TestFragmentsRoundTripThroughLoad(t *testing.T) {
	v, err := Load(context.Background(), "testdata/repo", nil)
	require.NoError(t, err)
	fr := v.Fragments()
	dir := t.TempDir()
	for p, tree := range fr {
		data, err := Encode(tree)
		require.NoError(t, err)
		full := filepath.Join(dir, filepath.FromSlash(p))
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, data, 0o644))
	}
	again, err := Load(context.Background(), dir, nil)
	require.NoError(t, err)
	assert.Equal(t, fr, again.Fragments())
	assert.Equal(t, v.Tree, again.Tree)
}
