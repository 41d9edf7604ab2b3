package diff

import (
	"bytes"
	"context"
	"github.com/otomi/otomi/internal/cmdtest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/release"

	"github.com/otomi/otomi/pkg/cmd/apply"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/kube"
	"github.com/otomi/otomi/pkg/render"
)

func TestNewCmdDiff(t *testing.T) {
	cases := []struct {
		args    string
		want    Options
		wantErr string
	}{
		{args: "", want: Options{Output: "text"}},
		{args: "-l team=dev --include-needs --detailed-exitcode -o json --kube-context prod",
			want: Options{Output: "json", DetailedExitCode: true, Target: apply.TargetOptions{
				Render: cmdutil.RenderFlags{Selectors: []string{"team=dev"}}, IncludeNeeds: true, Cluster: apply.ClusterFlags{KubeContext: "prod"}}}},
		{args: "-o yaml", wantErr: `--output must be text or json, got "yaml"`},
	}
	for _, c := range cases {
		t.Run(c.args, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmdDiff(cmdutil.New(ios), func(_ context.Context, o *Options) error { got = o; return nil })
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

// TestComputeAndWrite: a plan's changes, as people read them.
func TestComputeAndWrite(t *testing.T) {
	live := "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: a\ndata:\n  k: old\n"
	plan := &kube.Plan{Items: []*kube.Item{
		{Release: &render.Release{Namespace: "a", Name: "same"}, Action: kube.ActionNone},
		{Release: &render.Release{Namespace: "a", Name: "up"}, Action: kube.ActionUpgrade, Reason: "values changed",
			Current: &release.Release{Manifest: live}, Desired: "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: a\ndata:\n  k: new\n"},
		{Release: &render.Release{Namespace: "a", Name: "new"}, Action: kube.ActionInstall, Reason: "not in the cluster", Desired: live},
		{Release: &render.Release{Namespace: "a", Name: "gone"}, Action: kube.ActionUninstall, Reason: "installed: false", Current: &release.Release{Manifest: live}},
	}}
	diffs, err := Compute(plan)
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, Write(&b, diffs))
	assert.Equal(t, `~ a/up: upgrade (values changed)
    ~ ConfigMap a/cm
        --- live
        +++ values repo
        @@ -1,6 +1,6 @@
         apiVersion: v1
         data:
        -  k: old
        +  k: new
         kind: ConfigMap
         metadata:
           name: cm
+ a/new: install (not in the cluster)
    + ConfigMap a/cm
- a/gone: uninstall (installed: false)
    - ConfigMap a/cm
`, b.String())
}
