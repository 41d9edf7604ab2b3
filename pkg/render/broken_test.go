package render

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBrokenInputs: each broken helmfile fails with an error that names
// what a person needs to find the problem.
func TestBrokenInputs(t *testing.T) {
	cases := []struct {
		dir  string
		want []string
	}{
		{"values-template", []string{"release web", "values-template/values.gotmpl:2:20: <.Values.nothing.here>: map has no entry"}},
		{"chart-template", []string{"release bad (chart ./chart)", "release also-bad (chart ./chart)", "broken/templates/cm.yaml:6", "nil pointer"}},
		{"missing-chart", []string{"release web (chart ./nowhere)", "nowhere"}},
		{"needs-cycle", []string{"cycl"}},
		{"unknown-need", []string{"ns/ghost"}},
		{"values-schema", []string{"release web", "replicas", "integer"}},
		{"repo-chart", []string{"release web", `"bitnami/nginx" is not a local chart`}},
		{"state-yaml", []string{"helmfile.yaml", "line 3"}},
		{"bad-yaml-output", []string{"release web", "badyaml/templates/cm.yaml", "YAML"}},
		{"missing-values-file", []string{"release web", "does-not-exist.yaml"}},
	}
	for _, c := range cases {
		t.Run(c.dir, func(t *testing.T) {
			ctx := context.Background()
			rs, err := Load(ctx, LoadOptions{File: "testdata/broken/" + c.dir + "/helmfile.yaml"})
			if err == nil {
				_, err = Render(ctx, rs, RenderOptions{})
			}
			require.Error(t, err)
			for _, w := range c.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}
