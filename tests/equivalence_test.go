package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/otomi/otomi/pkg/cmd/root"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
)

// referenceTools are the real helmfile and helm v3 CLIs, built from the
// versions in go.mod ('make test' builds them and sets these variables).
func referenceTools(t testing.TB) (helmfile, helm string) {
	t.Helper()
	helmfile, helm = os.Getenv("OTOMI_TEST_HELMFILE"), os.Getenv("OTOMI_TEST_HELM")
	if helmfile == "" || helm == "" {
		t.Fatal("the equivalence tests need the helmfile and helm CLIs: run 'make test' (it builds them) or set OTOMI_TEST_HELMFILE and OTOMI_TEST_HELM")
	}
	return helmfile, helm
}

// runHelmfile runs `helmfile template` with its temp files in a folder of
// the test's own.
func runHelmfile(t *testing.T, file string, args ...string) string {
	t.Helper()
	helmfile, helm := referenceTools(t)
	full := []string{"--helm-binary", helm, "-f", file}
	// helmfile takes --state-values-file before the subcommand.
	var rest []string
	for i := 0; i < len(args); i++ {
		if args[i] == "--state-values-file" && i+1 < len(args) {
			full = append(full, args[i], args[i+1])
			i++
			continue
		}
		rest = append(rest, args[i])
	}
	full = append(full, "template", "--skip-deps")
	full = append(full, rest...)
	cmd := exec.Command(helmfile, full...)
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	require.NoError(t, cmd.Run(), "helmfile template: %s", errOut.String())
	return out.String()
}

// runOtomi runs otomi in process and returns stdout.
func runOtomi(t *testing.T, args ...string) string {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	code := root.Run(context.Background(), cmdutil.New(ios), args)
	require.Equal(t, 0, code, "otomi %s: %s", strings.Join(args, " "), errOut.String())
	return out.String()
}

// normalise turns a manifest stream into a sorted list of objects, each
// re-encoded with sorted keys and prefixed by its source template, so that
// order and formatting do not matter but content does.
func normalise(t *testing.T, stream string) []string {
	t.Helper()
	var out []string
	for _, doc := range strings.Split("\n"+stream, "\n---\n") {
		source := ""
		var body []string
		for _, line := range strings.Split(doc, "\n") {
			if strings.HasPrefix(line, "# Source: ") {
				source = strings.TrimPrefix(line, "# Source: ")
				continue
			}
			body = append(body, line)
		}
		text := strings.Join(body, "\n")
		var obj map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(text), &obj), "document from %s", source)
		if obj == nil {
			continue
		}
		enc, err := yaml.Marshal(obj)
		require.NoError(t, err)
		out = append(out, fmt.Sprintf("# %s\n%s", source, enc))
	}
	sort.Strings(out)
	return out
}

func assertEquivalent(t *testing.T, ours, theirs string) {
	t.Helper()
	a, b := normalise(t, ours), normalise(t, theirs)
	require.NotEmpty(t, b, "helmfile rendered nothing")
	assert.Equal(t, len(b), len(a), "object count")
	assert.Equal(t, strings.Join(b, "---\n"), strings.Join(a, "---\n"))
}

// TestTemplateEquivalence: otomi template and helmfile template agree, object
// for object, on a helmfile not written for otomi (-f, with its own state
// values file) and on the platform with the example values repo.
func TestTemplateEquivalence(t *testing.T) {
	top := repoRoot(t)
	fixture := filepath.Join(top, "pkg", "render", "testdata", "ok")
	file := filepath.Join(fixture, "helmfile.d")
	sv := filepath.Join(fixture, "state-values.yaml")
	cases := []struct {
		name string
		args []string
	}{
		{"fixture", []string{"--kube-version", "1.33"}},
		{"fixture crds", []string{"--include-crds", "--kube-version", "1.34"}},
		{"fixture selectors", []string{"-l", "tier=front", "-l", "name=db"}},
		{"fixture negated selector", []string{"-l", "tier!=front"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			theirs := runHelmfile(t, file, append([]string{"--state-values-file", sv}, c.args...)...)
			ours := runOtomi(t, append([]string{"template", "-f", file, "--state-values-file", sv}, c.args...)...)
			assertEquivalent(t, ours, theirs)
		})
	}
}
