package values

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeRepo lays out files (path → content) under a new repo root.
func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return root
}

func problemAt(t *testing.T, ps Problems, rule string) Problem {
	t.Helper()
	for _, p := range ps {
		if p.Rule == rule {
			return p
		}
	}
	t.Fatalf("no %s problem in %v", rule, ps)
	return Problem{}
}

func TestLocate(t *testing.T) {
	root := writeRepo(t, map[string]string{"env/cluster.yaml": "cluster: {}\n"})
	for _, dir := range []string{root, filepath.Join(root, "env")} {
		r, err := Locate(dir)
		require.NoError(t, err)
		assert.Equal(t, root, r.Root)
		assert.Equal(t, filepath.Join(root, "env"), r.Env)
	}
	_, err := Locate(filepath.Join(root, "missing"))
	assert.ErrorContains(t, err, "does not exist")
	_, err = Locate(filepath.Join(root, "env", "cluster.yaml"))
	assert.ErrorContains(t, err, "is not a directory")
	_, err = Locate(t.TempDir())
	assert.ErrorContains(t, err, "holds no env/ folder")
}

func TestLoadMergesInOrderWithOrigins(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"env/cluster.yaml":             "cluster:\n  name: demo\n  provider: aws\n",
		"env/settings.yaml":            "otomi:\n  version: v1\n  nodeSelector:\n    a: b\ndns:\n  domainFilters: [a.com, b.com]\n",
		"env/secrets.settings.yaml":    "otomi:\n  adminPassword: s3cret\n",
		"env/teams.yaml":               "teamConfig:\n  demo:\n    id: demo\n    services: [{name: old}]\n",
		"env/teams/services.demo.yaml": "teamConfig:\n  demo:\n    services:\n      - name: web\n      - name: api\n",
		"env/apps/harbor.yaml":         "apps:\n  harbor:\n    enabled: true\n",
		"env/apps/secrets.harbor.yaml": "apps:\n  harbor:\n    adminPassword: pw\n",
		"env/databases/keycloak.yaml":  "databases:\n  keycloak:\n    instances: 2\n",
		"env/README.md":                "not values",
	})
	v, err := Load(context.Background(), root, nil)
	require.NoError(t, err)
	require.Empty(t, v.Problems)
	get := func(p string) any { val, _ := Get(v.Tree, p); return val }
	assert.Equal(t, "s3cret", get("/otomi/adminPassword"))
	assert.Equal(t, "v1", get("/otomi/version"), "maps deep-merge across files")
	assert.Equal(t, []any{map[string]any{"name": "web"}, map[string]any{"name": "api"}}, get("/teamConfig/demo/services"), "lists replace")
	assert.Equal(t, "demo", get("/teamConfig/demo/id"))
	assert.Equal(t, 2, get("/databases/keycloak/instances"))

	assert.Equal(t, "env/secrets.settings.yaml:2:18", v.Origins["/otomi/adminPassword"].String())
	assert.Equal(t, "env/teams/services.demo.yaml:5:9", v.Origins["/teamConfig/demo/services/1"].String())
	assert.Equal(t, "env/settings.yaml:6:19", v.Origins["/dns/domainFilters/0"].String())
	_, stale := v.Origins["/teamConfig/demo/services/0/name"]
	assert.True(t, stale)
	assert.Equal(t, "env/teams/services.demo.yaml", v.Origins["/teamConfig/demo/services/0/name"].File, "replaced lists drop old origins")
	assert.Equal(t, "env/cluster.yaml", v.Origin("/cluster/missing/deeper").File, "unset nodes take their ancestor's origin")

	var paths []string
	for _, f := range v.Files() {
		paths = append(paths, f.Path)
	}
	assert.Equal(t, []string{
		"env/cluster.yaml", "env/settings.yaml", "env/secrets.settings.yaml", "env/teams.yaml",
		"env/teams/services.demo.yaml", "env/apps/harbor.yaml", "env/apps/secrets.harbor.yaml", "env/databases/keycloak.yaml",
	}, paths)
}

func TestLoadReportsEveryBrokenFile(t *testing.T) {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
	root := writeRepo(t, map[string]string{
		"env/cluster.yaml":        "cluster:\n  name: demo\n   provider: aws\n",
		"env/settings.yaml":       "otomi:\n  a: 1\n  a: 2\ncluster:\n  name: sneaky\n",
		"env/teams.yaml":          "- just\n- a list\n",
		"env/apps/harbor.yaml":    "apps:\n  harbor: {}\n  keycloak: {}\n",
		"env/apps/loki.yaml":      "apps:\n  loki: {}\n---\napps: {}\n",
		"env/apps/istio.yml":      "apps: {}\n",
		"env/databases/bomb.yaml": bomb,
		"env/foo.yaml":            "foo: 1\n",
		"env/teams/demo.yaml":     "teamConfig: {}\n",
	})
	require.NoError(t, os.Symlink(filepath.Join(root, "nowhere"), filepath.Join(root, "env/apps/gitea.yaml")))
	v, err := Load(context.Background(), root, nil)
	require.NoError(t, err)
	byFile := map[string][]Problem{}
	for _, p := range v.Problems {
		byFile[p.Origin.File] = append(byFile[p.Origin.File], p)
	}
	expect := map[string]string{
		"env/cluster.yaml":        "malformed YAML",
		"env/settings.yaml":       "defined twice",
		"env/teams.yaml":          "expected a mapping at the top of the file, got a list",
		"env/apps/harbor.yaml":    "may only set values under /apps/harbor",
		"env/apps/loki.yaml":      "more than one YAML document",
		"env/apps/istio.yml":      "rename it to istio.yaml",
		"env/databases/bomb.yaml": "alias bomb",
		"env/foo.yaml":            "has no place in a values repo",
		"env/teams/demo.yaml":     "has no place in a values repo",
		"env/apps/gitea.yaml":     "no such file",
	}
	for file, want := range expect {
		t.Run(file, func(t *testing.T) {
			ps := byFile[file]
			require.NotEmpty(t, ps, "no problem reported for %s", file)
			var msgs []string
			for _, p := range ps {
				msgs = append(msgs, p.Message)
			}
			assert.Contains(t, strings.Join(msgs, "\n"), want)
		})
	}
	assert.Equal(t, 3, problemAt(t, byFile["env/cluster.yaml"], "yaml").Origin.Line)
	assert.Equal(t, "env/settings.yaml:3:3", problemAt(t, byFile["env/settings.yaml"], "duplicate-key").Origin.String())
	scope := problemAt(t, byFile["env/settings.yaml"], "file-scope")
	assert.Equal(t, "/cluster", scope.Pointer)
	assert.Contains(t, scope.Message, "env/cluster.yaml")
	_, sneaked := Get(v.Tree, "/cluster/name")
	assert.False(t, sneaked, "out-of-scope values are not merged")
	_, kept := Get(v.Tree, "/apps/harbor")
	assert.True(t, kept, "in-scope values of a file with a scope problem are kept")
}

func TestLoadFailsOnUnusableRepo(t *testing.T) {
	_, err := Load(context.Background(), filepath.Join(t.TempDir(), "nope"), nil)
	assert.ErrorContains(t, err, "does not exist")
	root := writeRepo(t, map[string]string{"env/.keep": ""})
	_, err = Load(context.Background(), root, nil)
	assert.ErrorContains(t, err, "holds no values files")
}

type fakeDecrypter struct {
	plain map[string]string
	err   error
}

func (f fakeDecrypter) Decrypt(_ context.Context, path string, _ []byte) ([]byte, error) {
	if f.err != nil {
		return nil, f.err
	}
	return []byte(f.plain[filepath.Base(path)]), nil
}

func TestLoadEncryptedFileKeepsOnDiskPositions(t *testing.T) {
	enc := "# comment line\notomi:\n    adminPassword: ENC[AES256_GCM,data:xx,iv:yy,tag:zz,type:str]\nsops:\n    mac: ENC[...]\n    version: 3.13.3\n"
	root := writeRepo(t, map[string]string{
		"env/cluster.yaml":          "cluster: {name: demo}\n",
		"env/secrets.settings.yaml": enc,
	})
	dec := fakeDecrypter{plain: map[string]string{"secrets.settings.yaml": "otomi:\n  adminPassword: hunter2\n"}}
	v, err := Load(context.Background(), root, dec)
	require.NoError(t, err)
	require.Empty(t, v.Problems)
	val, _ := Get(v.Tree, "/otomi/adminPassword")
	assert.Equal(t, "hunter2", val)
	o := v.Origins["/otomi/adminPassword"]
	assert.Equal(t, "env/secrets.settings.yaml:3:20", o.String(), "position from the file on disk")
	assert.True(t, o.Encrypted)
	assert.True(t, v.Sources[1].File.Encrypted)

	v, err = Load(context.Background(), root, fakeDecrypter{err: errors.New("no key available to decrypt the file")})
	require.NoError(t, err)
	p := problemAt(t, v.Problems, "decrypt")
	assert.Equal(t, "env/secrets.settings.yaml", p.Origin.File)
	assert.Contains(t, p.Message, "no key")
}

func TestMergeKeysAndAliases(t *testing.T) {
	tree, origins, problems := ParseYAML("f.yaml", []byte("base: &b\n  x: 1\n  y: 2\nderived:\n  <<: *b\n  y: 3\nlist: [*b]\n"))
	require.Empty(t, problems)
	assert.Equal(t, map[string]any{"x": 1, "y": 3}, tree["derived"])
	assert.Equal(t, []any{map[string]any{"x": 1, "y": 2}}, tree["list"])
	assert.Equal(t, 6, origins["/derived/y"].Line)
}

func TestPointer(t *testing.T) {
	assert.Equal(t, "/a~1b/c~0d/0", Pointer("a/b", "c~d", "0"))
	assert.Equal(t, []string{"a/b", "c~d", "0"}, Split("/a~1b/c~0d/0"))
	assert.Equal(t, "/a", Parent("/a/b"))
	assert.Equal(t, "", Parent("/a"))
}
