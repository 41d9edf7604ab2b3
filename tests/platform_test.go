package tests

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi/internal/golden"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/render"
)

// renderExample renders the example values repo (with flags' state values
// layered over it) through the platform in platformDir, in process.
func renderExample(t testing.TB, platformDir string, flags cmdutil.RenderFlags, opts render.RenderOptions) (*cmdutil.Loaded, []*render.Manifest) {
	t.Helper()
	top := repoRoot(t)
	t.Setenv("SOPS_AGE_KEY_FILE", filepath.Join(top, "testdata", "age", "test-only.agekey"))
	ios, _, _, errOut := iostreams.Test()
	f := cmdutil.New(ios)
	f.Globals.EnvDir = filepath.Join(top, "examples", "demo")
	f.Globals.EnvDirSet = true
	f.Globals.PlatformDir = platformDir
	ctx := context.Background()
	loaded, err := cmdutil.LoadReleases(ctx, f, flags)
	require.NoError(t, err, errOut.String())
	manifests, err := render.Render(ctx, loaded.Releases, opts)
	require.NoError(t, err)
	return loaded, manifests
}

// examplePlatform renders the platform of this checkout for the example
// values repo, in process, CRDs included.
func examplePlatform(t *testing.T, flags cmdutil.RenderFlags) ([]*render.Release, []*render.Manifest) {
	t.Helper()
	loaded, manifests := renderExample(t, repoRoot(t), flags, render.RenderOptions{IncludeCRDs: true})
	return loaded.Releases, manifests
}

var secretData = regexp.MustCompile(`(?m)^(  [A-Za-z0-9._-]+: ).+$`)

// redactSecrets blanks the values of Secret data in a rendered document,
// so golden files carry no secret of the example.
func redactSecrets(doc string) string {
	if !strings.Contains(doc, "\nkind: Secret\n") {
		return doc
	}
	var out []string
	inData := false
	for _, line := range strings.Split(doc, "\n") {
		switch {
		case line == "data:" || line == "stringData:":
			inData = true
		case !strings.HasPrefix(line, "  "):
			inData = false
		case inData:
			line = secretData.ReplaceAllString(line, "${1}<redacted>")
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// TestPlatformGolden pins the rendered platform, one golden file per
// release (Secret data redacted): review the diff of every chart change.
func TestPlatformGolden(t *testing.T) {
	_, manifests := examplePlatform(t, cmdutil.RenderFlags{})
	require.NotEmpty(t, manifests)
	var names []string
	for _, m := range manifests {
		name := m.Release.Namespace + "-" + m.Release.Name + ".yaml"
		names = append(names, name)
		var docs []string
		for _, o := range m.Objects {
			docs = append(docs, redactSecrets(o.YAML))
		}
		golden.Assert(t, filepath.Join("platform", name), []byte("---\n"+strings.Join(docs, "---\n")))
	}
	// No golden file is left over from a release that is gone.
	entries, err := os.ReadDir(filepath.Join("testdata", "platform"))
	require.NoError(t, err)
	for _, e := range entries {
		assert.Contains(t, names, e.Name(), "stale golden file")
	}
}

// TestPlatformStructure: every object of the example platform has what a
// Kubernetes object needs, and no object is rendered twice.
func TestPlatformStructure(t *testing.T) {
	releases, manifests := examplePlatform(t, cmdutil.RenderFlags{})
	for _, p := range render.CheckStructure(manifests) {
		t.Error(p)
	}
	for _, r := range releases {
		for _, k := range []string{"name", "namespace", "chart", "app", "group", "stage"} {
			assert.NotEmpty(t, r.Labels[k], "release %s lacks label %s", r.Name, k)
		}
		assert.Contains(t, []string{"core", "shared", "team", "optional"}, r.Labels["group"], r.Name)
		if r.Labels["group"] == "team" {
			assert.NotEmpty(t, r.Labels["team"], "team release %s lacks its team label", r.Name)
		}
	}
}

// TestPlatformImages: every image is pinned, and one setting relocates
// every image to a private registry.
func TestPlatformImages(t *testing.T) {
	_, manifests := examplePlatform(t, cmdutil.RenderFlags{})
	imgs := render.Images(manifests)
	require.NotEmpty(t, imgs)
	for _, img := range imgs {
		assert.Regexp(t, `(:[\w][\w.-]*|@sha256:[0-9a-f]{64})$`, img, "image not pinned")
		assert.NotRegexp(t, `:latest$`, img)
	}
	override := filepath.Join(t.TempDir(), "registry.yaml")
	require.NoError(t, os.WriteFile(override, []byte("otomi:\n  imageRegistry: registry.internal.example:5000/mirror\n"), 0o644))
	_, relocated := examplePlatform(t, cmdutil.RenderFlags{StateValuesFiles: []string{override}})
	moved := render.Images(relocated)
	require.Len(t, moved, len(imgs))
	for _, img := range moved {
		assert.True(t, strings.HasPrefix(img, "registry.internal.example:5000/mirror/"), "not relocated: %s", img)
	}
}

// TestPlatformEquivalence: the platform rendered by otomi equals what the
// real helmfile renders from the same helmfile.d and values.
func TestPlatformEquivalence(t *testing.T) {
	top := repoRoot(t)
	key := filepath.Join(top, "testdata", "age", "test-only.agekey")
	t.Setenv("SOPS_AGE_KEY_FILE", key)
	example := filepath.Join(top, "examples", "demo")
	// helmfile reads state values from a file (each state file reads it
	// again): give both tools the merged values with secrets redacted, so
	// no secret is written to disk. otomi reads the values repo and gets
	// the redacted file merged over it, which yields the same tree.
	redacted := filepath.Join(t.TempDir(), "values.yaml")
	require.NoError(t, os.WriteFile(redacted, []byte(runOtomi(t, "values", "--exclude-secrets", "--env-dir", example)), 0o600))
	cases := [][]string{
		nil,
		{"--include-crds"},
		{"-l", "app=ingress-nginx"},
		{"-l", "group=team"},
		{"-l", "stage!=teams", "--kube-version", "1.33"},
	}
	for _, args := range cases {
		t.Run(strings.Join(append([]string{"all"}, args...), " "), func(t *testing.T) {
			kv := []string{}
			if !contains(args, "--kube-version") {
				kv = []string{"--kube-version", "1.35"}
			}
			theirs := runHelmfile(t, filepath.Join(top, "helmfile.d"), append(append([]string{"--state-values-file", redacted}, kv...), args...)...)
			ours := runOtomi(t, append([]string{"template", "--env-dir", example, "--platform-dir", top, "--state-values-file", redacted}, args...)...)
			assertEquivalent(t, ours, theirs)
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
