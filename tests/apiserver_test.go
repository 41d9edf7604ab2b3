package tests

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi/internal/kubetest"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/render"
	"github.com/otomi/otomi/pkg/validate"
)

// kubectl runs kubectl against the test server and returns its combined
// output and whether it succeeded.
func kubectl(t *testing.T, s *kubetest.Server, stdin []byte, args ...string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := s.Kubectl(ctx, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// applyCRDs creates the CRDs of the docs for real and waits until they are
// established, so that custom resources can be judged.
func applyCRDs(t *testing.T, s *kubetest.Server, docs []string) {
	t.Helper()
	var names []string
	for _, d := range docs {
		if strings.Contains(d, "\nkind: CustomResourceDefinition\n") || strings.HasPrefix(d, "kind: CustomResourceDefinition\n") {
			out, ok := kubectl(t, s, []byte(d), "apply", "--server-side", "-f", "-", "-o", "name")
			require.True(t, ok, out)
			names = append(names, strings.TrimSpace(out))
		}
	}
	if len(names) > 0 {
		out, ok := kubectl(t, s, nil, append([]string{"wait", "--for=condition=Established", "--timeout=60s"}, names...)...)
		require.True(t, ok, out)
	}
}

// TestAPIServerAcceptsThePlatform: every object of the example platform is
// accepted by a real kube-apiserver (server-side dry run, strict field
// validation) once its namespaces and CRDs exist.
func TestAPIServerAcceptsThePlatform(t *testing.T) {
	s := kubetest.Start(t)
	_, manifests := examplePlatform(t, cmdutil.RenderFlags{})
	var crds, namespaces, rest []*render.Object
	for _, m := range manifests {
		for _, o := range m.Objects {
			switch o.Kind {
			case "CustomResourceDefinition":
				crds = append(crds, o)
			case "Namespace":
				namespaces = append(namespaces, o)
			default:
				rest = append(rest, o)
			}
		}
	}
	var crdDocs []string
	for _, o := range crds {
		crdDocs = append(crdDocs, o.YAML)
	}
	applyCRDs(t, s, crdDocs)
	for _, o := range namespaces {
		out, ok := kubectl(t, s, []byte(o.YAML), "apply", "-f", "-")
		require.True(t, ok, out)
	}
	for _, o := range rest {
		out, ok := kubectl(t, s, []byte(o.YAML), "apply", "--dry-run=server", "--validate=strict", "-f", "-")
		assert.True(t, ok, "the API server rejects %s (%s): %s", o.Ref(), o.Source, out)
	}
	t.Logf("%d CRDs, %d namespaces and %d objects accepted by kube-apiserver %s", len(crds), len(namespaces), len(rest), s.Version)
}

// agreementExceptions are corpus cases where otomi is stricter than the API
// server on purpose, with the reason.
var agreementExceptions = map[string]string{
	"missing-namespace": "kubectl puts a namespaced object without a namespace in the default namespace; the platform requires an explicit one",
}

// TestAgreementWithAPIServer: for every case of the validate corpus that the
// API server can judge (everything but the platform policies), otomi's verdict
// and the server's agree.
func TestAgreementWithAPIServer(t *testing.T) {
	s := kubetest.Start(t)
	ns := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n"
	out, ok := kubectl(t, s, []byte(ns), "apply", "-f", "-")
	require.True(t, ok, out)
	policies, err := validate.LoadPolicies(os.DirFS(repoRoot(t)))
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "pkg", "validate", "testdata", "corpus", "*.yaml"))
	require.NoError(t, err)
	var disagreements []string
	judged := 0
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		if strings.Contains(string(data), "\n# policy: ") || strings.Contains(string(data), "# kube: ") {
			continue // policies are otomi's own; other minors are not this server's
		}
		m, err := render.NewManifest(&render.Release{Name: "corpus"}, string(data))
		require.NoError(t, err)
		off := validate.PolicySettings{Platform: map[string]map[string]any{}}
		for _, p := range policies {
			off.Platform[p.Name] = map[string]any{"action": "off"}
		}
		r, err := validate.Check([]*render.Manifest{m}, validate.Options{KubeVersions: []string{"1.35"}, Policies: policies, Settings: off})
		require.NoError(t, err)
		oursRejects := r.Errors > 0

		var docs []string
		for _, o := range m.Objects {
			docs = append(docs, o.YAML)
		}
		applyCRDs(t, s, docs)
		serverRejects := false
		var why string
		for _, o := range m.Objects {
			if o.Kind == "CustomResourceDefinition" {
				continue
			}
			out, ok := kubectl(t, s, []byte(o.YAML), "apply", "--dry-run=server", "--validate=strict", "-f", "-")
			if !ok {
				serverRejects, why = true, strings.TrimSpace(out)
			}
		}
		judged++
		if oursRejects != serverRejects {
			if reason, known := agreementExceptions[name]; known {
				t.Logf("%s: known difference: %s", name, reason)
				continue
			}
			disagreements = append(disagreements, name+": otomi rejects="+boolWord(oursRejects)+", kube-apiserver rejects="+boolWord(serverRejects)+" "+why)
		}
	}
	sort.Strings(disagreements)
	assert.Empty(t, disagreements)
	assert.Greater(t, judged, 20)
	t.Logf("%d corpus cases judged by both", judged)
}

func boolWord(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
