package migrate

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi"
	"github.com/otomi/otomi/internal/golden"
	"github.com/otomi/otomi/pkg/schema"
	"github.com/otomi/otomi/pkg/secrets"
	"github.com/otomi/otomi/pkg/values"
)

const (
	testRecipient = "age19jy8y7rxf0rw8xd2u8wp7gadyrlxcwmk58c8cxw3sv5gllh7x33s7a09dl"
	canary        = "canary-9f3b1c7e-OTOMI-SECRET"
)

func TestMain(m *testing.M) {
	for _, k := range []string{"SOPS_AGE_KEY", "SOPS_AGE_KEY_CMD", "SOPS_AGE_SSH_PRIVATE_KEY_FILE"} {
		os.Unsetenv(k)
	}
	key, err := filepath.Abs("../../testdata/age/test-only.agekey")
	if err != nil {
		panic(err)
	}
	os.Setenv("SOPS_AGE_KEY_FILE", key)
	os.Exit(m.Run())
}

func testSchema(t *testing.T) *schema.Schema {
	t.Helper()
	data, err := os.ReadFile("testdata/schema.yaml")
	require.NoError(t, err)
	s, err := schema.Load("values-schema.yaml", data)
	require.NoError(t, err)
	return s
}

func testChanges(t *testing.T) *Changes {
	t.Helper()
	data, err := os.ReadFile("testdata/changes.yaml")
	require.NoError(t, err)
	c, err := Parse(otomi.Platform(), "changes.yaml", data)
	require.NoError(t, err)
	return c
}

func TestBuiltinChangesParse(t *testing.T) {
	c, err := LoadBuiltin(otomi.Platform())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, c.Latest(), BaseVersion)
	_, err = c.Pending(c.Latest())
	require.NoError(t, err)
}

func TestParseRefusesABadChangesFile(t *testing.T) {
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"misspelt operation", "changes:\n  - version: 2\n    relocatons:\n      - {from: /a, to: /b}\n",
			[]string{`changes.yaml:3:5`, `unknown property "relocatons" (did you mean "relocations"?)`}},
		{"no version", "changes:\n  - deletions: [/a]\n", []string{`missing required property "version"`}},
		{"version 1 is the base", "changes:\n  - version: 1\n", []string{`expected a number >= 2`}},
		{"versions out of order", "changes:\n  - version: 3\n  - version: 2\n", []string{`changes.yaml:3:14`, `versions must increase: 2 follows 3`}},
		{"dotted path", "changes:\n  - version: 2\n    deletions: [apps.harbor]\n", []string{`/changes/0/deletions/0`}},
		{"file outside the layout", "changes:\n  - version: 2\n    renamings:\n      - {from: env/apps/a.yaml, to: env/nowhere/b.yaml}\n",
			[]string{`has no place in a values repo`}},
		{"empty template", "changes:\n  - version: 2\n    mutations:\n      - {path: /a, template: ''}\n", []string{`expected at least 1 characters`}},
		{"not YAML", "changes: [\n", []string{`malformed YAML`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(otomi.Platform(), "changes.yaml", []byte(c.doc))
			var inv *Invalid
			require.True(t, errors.As(err, &inv), "got %v", err)
			for _, w := range c.want {
				assert.Contains(t, inv.Error()+"\n"+inv.Problems[0].Origin.String(), w)
			}
		})
	}
}

func TestPendingAndVersions(t *testing.T) {
	c := testChanges(t)
	assert.Equal(t, 3, c.Latest())
	p, err := c.Pending(1)
	require.NoError(t, err)
	assert.Len(t, p, 2)
	p, err = c.Pending(2)
	require.NoError(t, err)
	require.Len(t, p, 1)
	assert.Equal(t, 3, p[0].Version)
	_, err = c.Pending(4)
	require.ErrorContains(t, err, "at version 4, this otomi knows versions up to 3")
	v, err := VersionOf(map[string]any{})
	require.NoError(t, err)
	assert.Equal(t, BaseVersion, v)
	_, err = VersionOf(map[string]any{"version": "two"})
	require.Error(t, err)
}

func frag(path string, tree string) values.Fragments {
	t, _, problems := values.ParseYAML(path, []byte(tree))
	if len(problems) > 0 {
		panic(problems)
	}
	return values.Fragments{path: t}
}

func merge(frs ...values.Fragments) values.Fragments {
	out := values.Fragments{}
	for _, f := range frs {
		for p, t := range f {
			out[p] = t
		}
	}
	return out
}

// teams is a repo with two teams, alpha and beta.
func teams() values.Fragments {
	return merge(
		frag("env/teams.yaml", "teamConfig:\n  alpha: {alerts: {channel: old}}\n  beta: {selfService: {apps: true}}\n"),
		frag("env/secrets.teams.yaml", "teamConfig:\n  alpha: {password: pa}\n  beta: {password: pb}\n"),
		frag("env/teams/svc.alpha.yaml", "teamConfig:\n  alpha:\n    svc: [{name: web}]\n"),
		frag("env/teams/svc.beta.yaml", "teamConfig:\n  beta:\n    svc: [{name: api}]\n"),
	)
}

func TestApplyEachOperation(t *testing.T) {
	s := testSchema(t)
	cases := []struct {
		name   string
		in     values.Fragments
		change Change
		want   values.Fragments
	}{
		{
			name:   "renaming with {team}: the content moves to the new file's scope",
			in:     teams(),
			change: Change{Version: 2, Renamings: []Move{{From: "env/teams/svc.{team}.yaml", To: "env/teams/services.{team}.yaml"}}},
			want: merge(
				frag("env/teams.yaml", "teamConfig:\n  alpha: {alerts: {channel: old}}\n  beta: {selfService: {apps: true}}\n"),
				frag("env/secrets.teams.yaml", "teamConfig:\n  alpha: {password: pa}\n  beta: {password: pb}\n"),
				frag("env/teams/services.alpha.yaml", "teamConfig:\n  alpha:\n    services: [{name: web}]\n"),
				frag("env/teams/services.beta.yaml", "teamConfig:\n  beta:\n    services: [{name: api}]\n"),
			),
		},
		{
			name: "relocation: a secret lands in the secrets file of its new place",
			in: merge(frag("env/settings.yaml", "smtp: {host: h}\n"),
				frag("env/secrets.settings.yaml", "smtp: {password: pw}\n")),
			change: Change{Version: 2, Relocations: []Move{{From: "/smtp/password", To: "/smtp/auth_password"}}},
			want: merge(frag("env/settings.yaml", "smtp: {host: h}\n"),
				frag("env/secrets.settings.yaml", "smtp: {auth_password: pw}\n")),
		},
		{
			name:   "relocation across files",
			in:     frag("env/settings.yaml", "harbor: {replicaCount: 2}\notomi: {isMultitenant: true}\n"),
			change: Change{Version: 2, Relocations: []Move{{From: "/harbor", To: "/apps/harbor"}}},
			want: merge(frag("env/settings.yaml", "otomi: {isMultitenant: true}\n"),
				frag("env/apps/harbor.yaml", "apps: {harbor: {replicaCount: 2}}\n")),
		},
		{
			name:   "relocation of nothing does nothing",
			in:     frag("env/settings.yaml", "otomi: {isMultitenant: true}\n"),
			change: Change{Version: 2, Relocations: []Move{{From: "/smtp/password", To: "/smtp/auth_password"}}},
			want:   frag("env/settings.yaml", "otomi: {isMultitenant: true}\n"),
		},
		{
			name:   "addition only where missing, {team} expanded",
			in:     teams(),
			change: Change{Version: 2, Additions: []Addition{{Path: "/teamConfig/{team}/selfService/apps", Value: false}}},
			want: merge(teams(),
				frag("env/teams.yaml", "teamConfig:\n  alpha: {alerts: {channel: old}, selfService: {apps: false}}\n  beta: {selfService: {apps: true}}\n")),
		},
		{
			name:   "addition of a secret goes to a secrets file",
			in:     frag("env/settings.yaml", "otomi: {isMultitenant: true}\n"),
			change: Change{Version: 2, Additions: []Addition{{Path: "/otomi/adminPassword", Value: "x"}}},
			want: merge(frag("env/settings.yaml", "otomi: {isMultitenant: true}\n"),
				frag("env/secrets.settings.yaml", "otomi: {adminPassword: x}\n")),
		},
		{
			name: "mutation by template where set, with .prev and .team",
			in:   merge(teams(), frag("env/apps/harbor.yaml", "apps: {harbor: {replicas: 2}}\n")),
			change: Change{Version: 2, Mutations: []Mutation{
				{Path: "/apps/harbor/replicas", Template: "{{ add .prev 1 }}"},
				{Path: "/teamConfig/{team}/alerts/channel", Template: "{{ .prev }}-{{ .team }}"},
			}},
			want: merge(teams(), frag("env/apps/harbor.yaml", "apps: {harbor: {replicas: 3}}\n"),
				frag("env/teams.yaml", "teamConfig:\n  alpha: {alerts: {channel: old-alpha}}\n  beta: {selfService: {apps: true}}\n")),
		},
		{
			name:   "deletion of values and of files",
			in:     merge(teams(), frag("env/apps/harbor.yaml", "apps: {harbor: {replicas: 2, old: 1}}\n")),
			change: Change{Version: 2, Deletions: []string{"/apps/harbor/old", "env/teams/svc.{team}.yaml", "/teamConfig/{team}/alerts"}},
			want: merge(frag("env/apps/harbor.yaml", "apps: {harbor: {replicas: 2}}\n"),
				frag("env/teams.yaml", "teamConfig:\n  beta: {selfService: {apps: true}}\n"),
				frag("env/secrets.teams.yaml", "teamConfig:\n  alpha: {password: pa}\n  beta: {password: pb}\n")),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := c.in.Clone()
			got, err := Apply(c.in, []Change{c.change}, s.IsSecret)
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
			assert.Equal(t, before, c.in, "the input is never changed")
		})
	}
}

func TestApplyRefusesWhatCannotApply(t *testing.T) {
	s := testSchema(t)
	base := merge(teams(), frag("env/apps/harbor.yaml", "apps: {harbor: {replicas: 2, replicaCount: 3}}\n"),
		frag("env/secrets.settings.yaml", "otomi: {adminPassword: "+canary+"}\n"))
	cases := []struct {
		name    string
		change  Change
		wantErr string
	}{
		{"relocation onto a value", Change{Version: 2, Relocations: []Move{{From: "/apps/harbor/replicaCount", To: "/apps/harbor/replicas"}}},
			"version 2: relocation /apps/harbor/replicaCount -> /apps/harbor/replicas: /apps/harbor/replicas is set already"},
		{"relocation under a scalar", Change{Version: 2, Relocations: []Move{{From: "/apps/harbor/replicaCount", To: "/apps/harbor/replicas/x"}}},
			"/apps/harbor/replicas holds a scalar, not a mapping"},
		{"renaming onto a file", Change{Version: 2, Renamings: []Move{{From: "env/teams/svc.alpha.yaml", To: "env/teams/svc.beta.yaml"}}},
			"exists already"},
		{"template that fails", Change{Version: 2, Mutations: []Mutation{{Path: "/apps/harbor/replicas", Template: "{{ fail \"no\" }}"}}},
			"mutation /apps/harbor/replicas: template"},
		{"template on a secret never quotes it", Change{Version: 2, Mutations: []Mutation{{Path: "/otomi/adminPassword", Template: "{{ .prev.x }}"}}},
			"template failed on the secret value"},
		{"template that renders nothing", Change{Version: 2, Mutations: []Mutation{{Path: "/apps/harbor/replicas", Template: "{{ if false }}x{{ end }}"}}},
			"rendered nothing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := base.Clone()
			ok := Change{Version: 1, Additions: []Addition{{Path: "/otomi/isMultitenant", Value: true}}}
			_, err := Apply(base, []Change{ok, c.change}, s.IsSecret)
			require.ErrorContains(t, err, c.wantErr)
			assert.NotContains(t, err.Error(), canary)
			assert.Equal(t, before, base, "a failing change leaves the files as they were")
		})
	}
}

// writeRepo creates a values repo on disk: secrets.*.yaml files are
// encrypted for the test key, in memory, before they are written.
func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	conf, err := secrets.SopsConfig(secrets.KMS{Provider: "age", Keys: []string{testRecipient}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(root, ".sops.yaml"), conf, 0o644))
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		data := []byte(content)
		if strings.HasPrefix(filepath.Base(p), "secrets.") {
			rule, err := secrets.RuleFor(filepath.Join(root, ".sops.yaml"), full)
			require.NoError(t, err)
			data, err = secrets.Sops{}.Encrypt(context.Background(), rule, full, data)
			require.NoError(t, err)
		}
		require.NoError(t, os.WriteFile(full, data, 0o644))
	}
	return root
}

// oldRepo is a repo in format version 1 of testdata/changes.yaml.
func oldRepo(t *testing.T) string {
	return writeRepo(t, map[string]string{
		"env/cluster.yaml":             "cluster: {name: demo, provider: custom}\n",
		"env/settings.yaml":            "# settings of demo\nversion: 1\notomi:\n  isMultitenant: true\n  legacyFlag: true\nsmtp:\n  host: smtp.example.com\n",
		"env/secrets.settings.yaml":    "otomi:\n  adminPassword: " + canary + "\nsmtp:\n  password: smtp-" + canary + "\n",
		"env/teams.yaml":               "teamConfig:\n  alpha:\n    alerts: {channel: old}\n  beta:\n    selfService: {apps: true}\n",
		"env/secrets.teams.yaml":       "teamConfig:\n  alpha: {password: alpha-" + canary + "}\n  beta: {password: beta-" + canary + "}\n",
		"env/teams/svc.alpha.yaml":     "teamConfig:\n  alpha:\n    svc:\n      - {name: web, port: 8080}\n",
		"env/apps/harbor.yaml":         "apps:\n  harbor:\n    enabled: true\n    replicaCount: 2\n",
		"env/apps/secrets.harbor.yaml": "apps:\n  harbor:\n    adminPassword: harbor-" + canary + "\n",
		"env/apps/legacy.yaml":         "apps:\n  legacy: {enabled: true}\n",
	})
}

// snapshot reads every file below root.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = string(data)
		return err
	}))
	return out
}

func runOpts(t *testing.T, root string, dry bool) Options {
	return Options{EnvDir: root, Schema: testSchema(t), Codec: secrets.Sops{}, Changes: testChanges(t), DryRun: dry}
}

func TestRunDryRunPrintsTheRedactedDiffAndWritesNothing(t *testing.T) {
	root := oldRepo(t)
	before := snapshot(t, root)
	res, err := Run(context.Background(), runOpts(t, root, true))
	require.NoError(t, err)
	assert.Equal(t, before, snapshot(t, root), "a dry run writes nothing")
	assert.Equal(t, 1, res.From)
	assert.Equal(t, 3, res.To)
	assert.Len(t, res.Applied, 2)
	assert.NotContains(t, res.Diff, canary)
	golden.Assert(t, "dry-run.diff", []byte(res.Diff))
}

func TestRunMigratesAndRecordsTheVersion(t *testing.T) {
	root := oldRepo(t)
	before := snapshot(t, root)
	res, err := Run(context.Background(), runOpts(t, root, false))
	require.NoError(t, err)
	assert.Equal(t, 3, res.To)
	after := snapshot(t, root)

	assert.NotContains(t, after, "env/teams/svc.alpha.yaml")
	assert.NotContains(t, after, "env/apps/legacy.yaml")
	assert.Equal(t, "teamConfig:\n  alpha:\n    services:\n      - name: web\n        port: 8080\n", after["env/teams/services.alpha.yaml"])
	assert.Equal(t, "# settings of demo\nversion: 3\notomi:\n  isMultitenant: true\nsmtp:\n  host: smtp.example.com\n", after["env/settings.yaml"],
		"the version is recorded; comments and order stay")
	assert.Equal(t, "apps:\n  harbor:\n    enabled: true\n    replicas: 3\n", after["env/apps/harbor.yaml"])
	assert.Equal(t, before["env/apps/secrets.harbor.yaml"], after["env/apps/secrets.harbor.yaml"], "an unchanged secrets file keeps its bytes")
	assert.Equal(t, before["env/secrets.teams.yaml"], after["env/secrets.teams.yaml"])
	for p, content := range after {
		assert.NotContains(t, content, canary, "%s holds a plaintext secret", p)
	}
	v, err := values.Load(context.Background(), root, secrets.Sops{})
	require.NoError(t, err)
	require.Empty(t, v.Problems)
	got, _ := values.Get(v.Tree, "/smtp/auth_password")
	assert.Equal(t, "smtp-"+canary, got, "the relocated secret is encrypted in its new place")
	got, _ = values.Get(v.Tree, "/teamConfig/alpha/alerts/channel")
	assert.Equal(t, "alerts-alpha", got)
	got, _ = values.Get(v.Tree, "/teamConfig/beta/selfService/apps")
	assert.Equal(t, true, got, "an addition keeps a value that is set")

	again, err := Run(context.Background(), runOpts(t, root, false))
	require.NoError(t, err)
	assert.Empty(t, again.Applied)
	assert.Equal(t, after, snapshot(t, root), "a migrated repo has nothing pending")
}

func TestRunFailingChangeLeavesTheRepoUntouched(t *testing.T) {
	root := oldRepo(t)
	// harbor has both names: version 2's relocation cannot apply, after
	// the renaming that comes before it in the same change.
	p := filepath.Join(root, "env", "apps", "harbor.yaml")
	require.NoError(t, os.WriteFile(p, []byte("apps:\n  harbor:\n    replicaCount: 2\n    replicas: 1\n"), 0o644))
	before := snapshot(t, root)
	_, err := Run(context.Background(), runOpts(t, root, false))
	require.ErrorContains(t, err, "values change version 2: relocation /apps/harbor/replicaCount -> /apps/harbor/replicas: /apps/harbor/replicas is set already")
	assert.Equal(t, before, snapshot(t, root))
}

func TestRunRefusesAnInvalidResult(t *testing.T) {
	root := oldRepo(t)
	p := filepath.Join(root, "env", "apps", "harbor.yaml")
	require.NoError(t, os.WriteFile(p, []byte("apps:\n  harbor:\n    replicaCount: 2\n    colour: blue\n"), 0o644))
	before := snapshot(t, root)
	_, err := Run(context.Background(), runOpts(t, root, false))
	var inv *Invalid
	require.True(t, errors.As(err, &inv), "got %v", err)
	assert.Equal(t, "values after migration", inv.Subject)
	require.NotEmpty(t, inv.Problems)
	assert.Equal(t, "/apps/harbor/colour", inv.Problems[0].Pointer)
	assert.Equal(t, "env/apps/harbor.yaml", inv.Problems[0].Origin.File)
	assert.Equal(t, before, snapshot(t, root))
}

func TestRunStopsAtATamperedSecretsFile(t *testing.T) {
	root := oldRepo(t)
	p := filepath.Join(root, "env", "secrets.teams.yaml")
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	i := bytes.Index(data, []byte("ENC[AES256_GCM,data:")) + len("ENC[AES256_GCM,data:")
	data[i] ^= 1
	require.NoError(t, os.WriteFile(p, data, 0o644))
	before := snapshot(t, root)
	_, err = Run(context.Background(), runOpts(t, root, false))
	var inv *Invalid
	require.True(t, errors.As(err, &inv), "got %v", err)
	assert.Contains(t, inv.Error(), "env/secrets.teams.yaml")
	assert.Equal(t, before, snapshot(t, root))
}

// failingDisk refuses to write one file, as a full or read-only disk would.
type failingDisk struct {
	secrets.OSDisk
	name string
}

func (d failingDisk) WriteFile(p string, data []byte, perm fs.FileMode) error {
	if filepath.Base(p) == d.name {
		return &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
	}
	return d.OSDisk.WriteFile(p, data, perm)
}

func TestRunUndoesWritesWhenTheDiskFails(t *testing.T) {
	root := oldRepo(t)
	before := snapshot(t, root)
	opts := runOpts(t, root, false)
	// settings.yaml sorts after the apps and teams files that change first.
	opts.Disk = failingDisk{name: "settings.yaml"}
	_, err := Run(context.Background(), opts)
	require.ErrorContains(t, err, "permission denied (nothing was changed)")
	assert.Equal(t, before, snapshot(t, root))
}

func TestDiffMarksChangedSecretsWithoutShowingThem(t *testing.T) {
	s := testSchema(t)
	before := merge(frag("env/secrets.settings.yaml", "otomi: {adminPassword: old-"+canary+"}\n"),
		frag("env/settings.yaml", "otomi: {isMultitenant: true}\n"))
	after := merge(frag("env/secrets.settings.yaml", "otomi: {adminPassword: new-"+canary+"}\n"),
		frag("env/settings.yaml", "otomi: {isMultitenant: false}\n"))
	got := Diff(before, after, s.IsSecret)
	assert.Equal(t, `--- a/env/secrets.settings.yaml
+++ b/env/secrets.settings.yaml
@@ -1,2 +1,2 @@
 otomi:
-  adminPassword: <redacted>
+  adminPassword: <redacted> (changed)
--- a/env/settings.yaml
+++ b/env/settings.yaml
@@ -1,2 +1,2 @@
 otomi:
-  isMultitenant: true
+  isMultitenant: false
`, got)
	assert.Empty(t, Diff(before, before.Clone(), s.IsSecret))
}
