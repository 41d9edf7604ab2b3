package render

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func stateValues(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile("testdata/ok/state-values.yaml")
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, yaml.Unmarshal(data, &v))
	return v
}

func TestLoad(t *testing.T) {
	rs, err := Load(context.Background(), LoadOptions{File: "testdata/ok/helmfile.d", StateValues: stateValues(t)})
	require.NoError(t, err)
	require.Len(t, rs, 3)
	web, api, db := rs[0], rs[1], rs[2]
	assert.Equal(t, []string{"web", "api", "db"}, []string{web.Name, api.Name, db.Name}, "state files by name, releases in file order")
	assert.True(t, web.Installed)
	assert.False(t, api.Installed, "installed follows the state values")
	assert.Equal(t, []string{"front/web"}, api.Needs)
	assert.Equal(t, map[string]string{"name": "web", "namespace": "front", "chart": "../charts/demo", "tier": "front"}, web.Labels)
	abs, _ := filepath.Abs("testdata/ok/charts/demo")
	assert.Equal(t, abs, web.ChartPath)
	assert.Equal(t, "inline wins over the file", web.Values["message"])
	assert.Equal(t, "s3cr3t-canary", web.Values["password"])
	assert.Equal(t, []any{"one", "two"}, web.Values["list"])
	assert.EqualValues(t, 3, web.Values["replicas"], "set entries come last")
	assert.Equal(t, "yes", db.Values["message"])
}

func TestLoadSelectors(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		sel     []string
		want    []string
		wantErr string
	}{
		{sel: []string{"tier=front"}, want: []string{"web"}},
		{sel: []string{"tier!=front"}, want: []string{"api", "db"}},
		{sel: []string{"tier=front", "name=db"}, want: []string{"web", "db"}},
		{sel: []string{"namespace=front,tier=back"}, want: []string{"api"}},
		{sel: []string{"tier=nothing"}, wantErr: "no release matches the selectors tier=nothing"},
		{sel: []string{"teir=front"}, wantErr: `no release has a label "teir"`},
		{sel: []string{"tier"}, wantErr: "expected key=value or key!=value"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.sel, " "), func(t *testing.T) {
			rs, err := Load(ctx, LoadOptions{File: "testdata/ok/helmfile.d", StateValues: stateValues(t), Selectors: c.sel})
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			var names []string
			for _, r := range rs {
				names = append(names, r.Name)
			}
			assert.Equal(t, c.want, names)
		})
	}
}

func TestRender(t *testing.T) {
	ctx := context.Background()
	rs, err := Load(ctx, LoadOptions{File: "testdata/ok/helmfile.d", StateValues: stateValues(t), KubeVersion: "1.33"})
	require.NoError(t, err)
	ms, err := Render(ctx, rs, RenderOptions{IncludeCRDs: true})
	require.NoError(t, err)
	require.Len(t, ms, 2, "the release that is not installed is not rendered")
	web := ms[0]
	assert.Equal(t, "web", web.Release.Name)
	assert.Equal(t, "1.2.3", web.Release.ChartVersion)
	var refs []string
	for _, o := range web.Objects {
		refs = append(refs, o.Source+" "+o.Ref())
	}
	assert.Equal(t, []string{
		"demo/crds/widget.yaml CustomResourceDefinition/widgets.example.com",
		"demo/templates/secret.yaml Secret/front/web",
		"demo/templates/configmap.yaml ConfigMap/front/web",
		"demo/templates/deployment.yaml Deployment/front/web",
		"demo/templates/hook.yaml Job/front/web-hook",
	}, refs)
	assert.Contains(t, web.Text, `kube: "v1.33"`)
	assert.Contains(t, web.Text, `replicas: "3"`)
	assert.Empty(t, CheckStructure(ms))
	assert.Equal(t, []string{"registry.example/db:2.0", "registry.example/hook:3.0", "registry.example/init:1.0", "registry.example/web:2.0"}, Images(ms))

	again, err := Render(ctx, rs, RenderOptions{IncludeCRDs: true})
	require.NoError(t, err)
	for i := range ms {
		assert.Equal(t, ms[i].Text, again[i].Text, "deterministic")
	}
}

func TestCheckStructure(t *testing.T) {
	r := &Release{Name: "x", Chart: "c"}
	objs, err := parseObjects(r, strings.Join([]string{
		"# Source: c/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
		"# Source: c/templates/b.yaml\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n  namespace: oops\n",
		"# Source: c/templates/c.yaml\nkind: ConfigMap\nmetadata:\n  namespace: ns\n",
		"# Source: c/templates/d.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n  namespace: ns\n",
		"# Source: c/templates/e.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n  namespace: ns\n",
	}, "---\n"))
	require.NoError(t, err)
	problems := CheckStructure([]*Manifest{{Release: r, Objects: objs}})
	var msgs []string
	for _, p := range problems {
		msgs = append(msgs, p.Error())
	}
	assert.Equal(t, []string{
		`release x, c/templates/a.yaml: ConfigMap "a" lacks metadata.namespace`,
		`release x, c/templates/b.yaml: Namespace/oops/b is cluster-scoped but sets metadata.namespace "oops"`,
		`release x, c/templates/c.yaml: ConfigMap "" lacks apiVersion, metadata.name`,
		`release x, c/templates/e.yaml: ConfigMap/ns/d is also rendered by release x`,
	}, msgs)
}

func TestImagesAnnotation(t *testing.T) {
	m := &Manifest{Objects: []*Object{{Body: map[string]any{
		"kind": "Deployment",
		"metadata": map[string]any{"name": "operator", "annotations": map[string]any{
			ImagesAnnotation: "quay.io/x/sidecar:1.0, quay.io/x/job:2.0\n  quay.io/x/sidecar:1.0",
		}},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"name": "op", "image": "quay.io/x/operator:3.0"}},
		}}},
	}}}}
	assert.Equal(t, []string{"quay.io/x/job:2.0", "quay.io/x/operator:3.0", "quay.io/x/sidecar:1.0"}, Images([]*Manifest{m}))
	assert.Empty(t, AnnotatedImages(map[string]any{"kind": "ConfigMap"}))
}
