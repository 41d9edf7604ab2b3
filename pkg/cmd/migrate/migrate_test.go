package migrate

import (
	"context"
	"github.com/otomi/otomi/internal/cmdtest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
)

func TestNewCmdMigrate(t *testing.T) {
	cases := []struct {
		args    string
		want    Options
		wantErr string
	}{
		{args: "", want: Options{}},
		{args: "--dry-run", want: Options{DryRun: true}},
		{args: "--dry-run --changes c.yaml", want: Options{DryRun: true, Changes: "c.yaml"}},
		{args: "now", wantErr: `unknown command "now"`},
	}
	for _, c := range cases {
		t.Run(c.args, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := cmdutil.New(ios)
			var got *Options
			cmd := NewCmdMigrate(f, func(_ context.Context, o *Options) error { got = o; return nil })
			err := cmdtest.Execute(t, cmd, c.args)
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want.DryRun, got.DryRun)
			assert.Equal(t, c.want.Changes, got.Changes)
		})
	}
}

// demo copies the example repo (encrypted for the test-only key).
func demo(t *testing.T) string {
	t.Helper()
	key, err := filepath.Abs("../../../testdata/age/test-only.agekey")
	require.NoError(t, err)
	t.Setenv("SOPS_AGE_KEY", "")
	t.Setenv("SOPS_AGE_KEY_FILE", key)
	root := t.TempDir()
	require.NoError(t, os.CopyFS(root, os.DirFS("../../../examples/demo")))
	return root
}

const changes = `changes:
  - version: 2
    description: team channels get the team's name
    mutations:
      - {path: '/teamConfig/{team}/alerts/slack/channel', template: '{{ .prev }}-v2'}
`

func TestRunDryRunPrintsTheDiffAndWritesNothing(t *testing.T) {
	root := demo(t)
	ios, _, out, errOut := iostreams.Test()
	f := cmdutil.New(ios)
	f.Globals.EnvDir = root
	file := filepath.Join(t.TempDir(), "changes.yaml")
	require.NoError(t, os.WriteFile(file, []byte(changes), 0o644))
	before, err := os.ReadFile(filepath.Join(root, "env", "teams.yaml"))
	require.NoError(t, err)

	require.NoError(t, Run(context.Background(), &Options{IO: ios, Factory: f, DryRun: true, Changes: file}))
	assert.Equal(t, `--- a/env/settings.yaml
+++ b/env/settings.yaml
@@ -103,4 +103,4 @@
   from: alerts@demo.otomi.example
   hello: demo.otomi.example
   smarthost: smtp.demo.otomi.example:587
-version: 1
+version: 2
--- a/env/teams.yaml
+++ b/env/teams.yaml
@@ -4,7 +4,7 @@
       receivers:
         - slack
       slack:
-        channel: team-demo
+        channel: team-demo-v2
         channelCrit: team-demo-crit
     id: demo
     networkPolicy:
`, out.String())
	assert.Equal(t, "  version 2: team channels get the team's name\n! dry run: migrating from version 1 to 2 would change 2 files; nothing written\n", errOut.String())
	after, err := os.ReadFile(filepath.Join(root, "env", "teams.yaml"))
	require.NoError(t, err)
	assert.Equal(t, before, after)

	out.Reset()
	errOut.Reset()
	require.NoError(t, Run(context.Background(), &Options{IO: ios, Factory: f, Changes: file}))
	assert.Equal(t, "  version 2: team channels get the team's name\n✔ migrated "+root+" from version 1 to 2: 2 files changed\n", errOut.String())
	after, err = os.ReadFile(filepath.Join(root, "env", "teams.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(after), "channel: team-demo-v2\n")

	out.Reset()
	errOut.Reset()
	require.NoError(t, Run(context.Background(), &Options{IO: ios, Factory: f, Changes: file}))
	assert.Empty(t, out.String())
	assert.Equal(t, "✔ values repo "+root+" is at version 2: nothing to migrate\n", errOut.String())
}

func TestRunRefusesAMisspeltChangesFile(t *testing.T) {
	root := demo(t)
	ios, _, _, errOut := iostreams.Test()
	f := cmdutil.New(ios)
	f.Globals.EnvDir = root
	file := filepath.Join(t.TempDir(), "changes.yaml")
	require.NoError(t, os.WriteFile(file, []byte(strings.Replace(changes, "mutations", "mutatoins", 1)), 0o644))
	err := Run(context.Background(), &Options{IO: ios, Factory: f, Changes: file})
	require.ErrorIs(t, err, cmdutil.ErrValidation)
	assert.Contains(t, errOut.String(), file+`:4:5  /changes/0/mutatoins  unknown property "mutatoins" (did you mean "mutations"?)`)
}
