package validate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi/pkg/render"
)

func loadTestPolicies(t *testing.T) []*Policy {
	t.Helper()
	ps, err := LoadPolicies(os.DirFS("../.."))
	require.NoError(t, err)
	require.NotEmpty(t, ps)
	return ps
}

// header reads the "# key: value" lines at the top of a corpus file.
func header(text string) map[string]string {
	h := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "# ") {
			break
		}
		k, v, _ := strings.Cut(strings.TrimPrefix(line, "# "), ":")
		h[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return h
}

// settings turns "name=action;param=a,b" into policy settings with every
// other policy off, so a case sees only the policy it is about.
func settings(policies []*Policy, spec string) PolicySettings {
	ps := PolicySettings{Platform: map[string]map[string]any{}}
	for _, p := range policies {
		ps.Platform[p.Name] = map[string]any{"action": "off"}
	}
	if spec == "" {
		return ps
	}
	parts := strings.Split(spec, ";")
	name, action, _ := strings.Cut(parts[0], "=")
	m := map[string]any{"action": action}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "=")
		var list []any
		for _, item := range strings.Split(v, ",") {
			list = append(list, item)
		}
		m[k] = list
	}
	ps.Platform[name] = m
	return ps
}

// TestCorpus: each broken manifest is caught with the right rule at the
// right place, and each valid one passes.
func TestCorpus(t *testing.T) {
	policies := loadTestPolicies(t)
	files, err := filepath.Glob("testdata/corpus/*.yaml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 30)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			h := header(string(data))
			kube := h["kube"]
			if kube == "" {
				kube = "1.35"
			}
			m, err := render.NewManifest(&render.Release{Name: "corpus", Chart: "corpus"}, string(data))
			require.NoError(t, err)
			r, err := Check([]*render.Manifest{m}, Options{KubeVersions: []string{kube}, Policies: policies, Settings: settings(policies, h["policy"])})
			require.NoError(t, err)
			want := h["want"]
			if want == "" {
				assert.Empty(t, r.Findings)
				assert.Zero(t, r.Errors)
				return
			}
			rule, ptr, _ := strings.Cut(want, " ")
			sev := Severity(h["severity"])
			var match *Finding
			for i, fd := range r.Findings {
				if fd.Rule == rule && fd.Pointer == ptr && fd.Severity == sev {
					match = &r.Findings[i]
				}
				if fd.Severity == Error {
					assert.Equal(t, ptr, fd.Pointer, "an error elsewhere: %+v", fd)
				}
			}
			require.NotNil(t, match, "no %s %s finding at %q; got %+v", sev, rule, ptr, r.Findings)
			assert.NotEmpty(t, match.Message)
			assert.NotContains(t, match.Message, "hunter2")
			if sev == Error {
				assert.Positive(t, r.Errors)
			} else {
				assert.Zero(t, r.Errors)
			}
		})
	}
}

func TestInvalidYAMLIsReported(t *testing.T) {
	_, err := render.NewManifest(&render.Release{Name: "x", Chart: "c"}, "# Source: c/templates/a.yaml\napiVersion: v1\nkind: [oops\n")
	require.ErrorContains(t, err, "c/templates/a.yaml: rendered YAML does not parse")
}

func TestDuplicatesAcrossReleases(t *testing.T) {
	cm := "# Source: c/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: same\n  namespace: demo\n"
	a, err := render.NewManifest(&render.Release{Name: "a"}, cm)
	require.NoError(t, err)
	b, err := render.NewManifest(&render.Release{Name: "b"}, cm)
	require.NoError(t, err)
	r, err := Check([]*render.Manifest{a, b}, Options{KubeVersions: []string{"1.35"}})
	require.NoError(t, err)
	require.Len(t, r.Findings, 1)
	assert.Equal(t, "duplicate", r.Findings[0].Rule)
	assert.Equal(t, "b", r.Findings[0].Release)
	assert.Contains(t, r.Findings[0].Message, "also rendered by release a")
}

func TestKubeVersions(t *testing.T) {
	vs := KubeVersions()
	require.Len(t, vs, 5)
	assert.Equal(t, "1.35", vs[len(vs)-1])
	_, err := kubernetesSchemas("1.20")
	assert.ErrorContains(t, err, "no built-in schemas for Kubernetes 1.20")
}

func TestSplitImage(t *testing.T) {
	cases := map[string][3]string{
		"nginx":                      {"nginx", "", ""},
		"nginx:1.2":                  {"nginx", "1.2", ""},
		"registry:5000/team/app":     {"registry:5000/team/app", "", ""},
		"registry:5000/team/app:v1":  {"registry:5000/team/app", "v1", ""},
		"quay.io/x/y@sha256:abc":     {"quay.io/x/y", "", "sha256:abc"},
		"quay.io/x/y:1.0@sha256:abc": {"quay.io/x/y", "1.0", "sha256:abc"},
	}
	for in, want := range cases {
		n, tag, d := splitImage(in)
		assert.Equal(t, want, [3]string{n, tag, d}, in)
	}
}
