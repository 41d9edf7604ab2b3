package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otomi/otomi/pkg/validate"
)

// BenchmarkCLI times whole invocations of the built binary ($OTOMI_BIN,
// 'make bench' sets it) and reports their peak RSS: the bare start-up
// (otomi version) next to validate-values on the example repo.
func BenchmarkCLI(b *testing.B) {
	bin := os.Getenv("OTOMI_BIN")
	if bin == "" {
		b.Fatal("set OTOMI_BIN to the otomi binary ('make bench' does)")
	}
	top := repoRoot(b)
	key := filepath.Join(top, "testdata", "age", "test-only.agekey")
	cases := []struct {
		name string
		args []string
	}{
		{"version", []string{"version"}},
		{"validate-values", []string{"validate-values", "--env-dir", filepath.Join(top, "examples", "demo")}},
		{"values", []string{"values", "--exclude-secrets", "--env-dir", filepath.Join(top, "examples", "demo")}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var maxRSS int64
			var wall time.Duration
			for b.Loop() {
				cmd := exec.Command(bin, c.args...)
				cmd.Env = append(os.Environ(), "SOPS_AGE_KEY_FILE="+key)
				start := time.Now()
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v: %v\n%s", c.args, err, out)
				}
				wall += time.Since(start)
				if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > maxRSS {
					maxRSS = ru.Maxrss
				}
			}
			b.ReportMetric(float64(maxRSS)/1024, "peak-RSS-MB")
			b.ReportMetric(float64(wall.Milliseconds())/float64(b.N), "wall-ms/op")
		})
	}
}

// measure runs a command and returns its wall time and peak RSS in MB.
func measure(b *testing.B, cmd *exec.Cmd) (time.Duration, float64) {
	b.Helper()
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s: %v\n%s", cmd.Path, err, errOut.String())
	}
	wall := time.Since(start)
	var rss float64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = float64(ru.Maxrss) / 1024
	}
	return wall, rss
}

// BenchmarkTemplateVsHelmfile renders the example platform with the otomi
// binary and with helmfile template (+ helm v3, --skip-deps, the same
// helmfile.d and values) alternately, and reports both and their ratio.
func BenchmarkTemplateVsHelmfile(b *testing.B) {
	bin := os.Getenv("OTOMI_BIN")
	if bin == "" {
		b.Fatal("set OTOMI_BIN to the otomi binary ('make bench' does)")
	}
	helmfile, helm := referenceTools(b)
	top := repoRoot(b)
	key := filepath.Join(top, "testdata", "age", "test-only.agekey")
	example := filepath.Join(top, "examples", "demo")
	env := append(os.Environ(), "SOPS_AGE_KEY_FILE="+key, "TMPDIR="+b.TempDir(), "HELM_CACHE_HOME="+b.TempDir(), "HELM_CONFIG_HOME="+b.TempDir(), "HELM_DATA_HOME="+b.TempDir())
	// helmfile gets the merged values (secrets redacted) as a state values
	// file; otomi reads the values repo itself, decrypting in memory.
	valuesCmd := exec.Command(bin, "values", "--exclude-secrets", "--env-dir", example)
	valuesCmd.Env = env
	merged, err := valuesCmd.Output()
	if err != nil {
		b.Fatal(err)
	}
	stateValues := filepath.Join(b.TempDir(), "values.yaml")
	if err := os.WriteFile(stateValues, merged, 0o600); err != nil {
		b.Fatal(err)
	}
	var otomiWall, hfWall time.Duration
	var otomiRSS, hfRSS float64
	for b.Loop() {
		c := exec.Command(bin, "template", "--env-dir", example, "--platform-dir", top)
		c.Env = env
		w, r := measure(b, c)
		otomiWall += w
		otomiRSS = max(otomiRSS, r)
		h := exec.Command(helmfile, "--helm-binary", helm, "-f", filepath.Join(top, "helmfile.d"), "--state-values-file", stateValues, "template", "--skip-deps", "--kube-version", "1.35")
		h.Env = env
		w, r = measure(b, h)
		hfWall += w
		hfRSS = max(hfRSS, r)
	}
	n := float64(b.N)
	b.ReportMetric(float64(otomiWall.Milliseconds())/n, "otomi-ms/op")
	b.ReportMetric(float64(hfWall.Milliseconds())/n, "helmfile-ms/op")
	b.ReportMetric(float64(hfWall)/float64(otomiWall), "speedup-x")
	b.ReportMetric(otomiRSS, "otomi-peak-RSS-MB")
	b.ReportMetric(hfRSS, "helmfile-peak-RSS-MB")
}

// BenchmarkValidateVsKubeconform checks the example platform with otomi
// validate-templates and with `helmfile template | kubeconform` (strict,
// the same built-in schemas written in kubeconform's layout, missing
// schemas of custom kinds ignored: kubeconform has no CRD schemas here)
// alternately, and reports both and their ratio.
func BenchmarkValidateVsKubeconform(b *testing.B) {
	bin := os.Getenv("OTOMI_BIN")
	kubeconform := os.Getenv("OTOMI_TEST_KUBECONFORM")
	if bin == "" || kubeconform == "" {
		b.Fatal("set OTOMI_BIN and OTOMI_TEST_KUBECONFORM ('make bench' does)")
	}
	helmfile, helm := referenceTools(b)
	top := repoRoot(b)
	key := filepath.Join(top, "testdata", "age", "test-only.agekey")
	example := filepath.Join(top, "examples", "demo")
	schemas := b.TempDir()
	if err := validate.WriteKubeconformSchemas("1.35", schemas); err != nil {
		b.Fatal(err)
	}
	env := append(os.Environ(), "SOPS_AGE_KEY_FILE="+key, "TMPDIR="+b.TempDir(), "HELM_CACHE_HOME="+b.TempDir(), "HELM_CONFIG_HOME="+b.TempDir(), "HELM_DATA_HOME="+b.TempDir())
	valuesCmd := exec.Command(bin, "values", "--exclude-secrets", "--env-dir", example)
	valuesCmd.Env = env
	merged, err := valuesCmd.Output()
	if err != nil {
		b.Fatal(err)
	}
	stateValues := filepath.Join(b.TempDir(), "values.yaml")
	if err := os.WriteFile(stateValues, merged, 0o600); err != nil {
		b.Fatal(err)
	}
	pipeline := fmt.Sprintf("%s --helm-binary %s -f %s --state-values-file %s template --skip-deps --include-crds --kube-version 1.35 | %s -strict -summary -ignore-missing-schemas -schema-location '%s/{{ .ResourceKind }}{{ .KindSuffix }}.json'",
		helmfile, helm, filepath.Join(top, "helmfile.d"), stateValues, kubeconform, schemas)
	var otomiWall, refWall time.Duration
	var otomiRSS, refRSS float64
	for b.Loop() {
		c := exec.Command(bin, "validate-templates", "--env-dir", example, "--platform-dir", top, "--kube-version", "1.35")
		c.Env = env
		w, r := measure(b, c)
		otomiWall += w
		otomiRSS = max(otomiRSS, r)
		p := exec.Command("bash", "-o", "pipefail", "-c", pipeline)
		p.Env = env
		w, r = measure(b, p)
		refWall += w
		refRSS = max(refRSS, r)
	}
	n := float64(b.N)
	b.ReportMetric(float64(otomiWall.Milliseconds())/n, "otomi-ms/op")
	b.ReportMetric(float64(refWall.Milliseconds())/n, "helmfile+kubeconform-ms/op")
	b.ReportMetric(float64(refWall)/float64(otomiWall), "speedup-x")
	b.ReportMetric(otomiRSS, "otomi-peak-RSS-MB")
	b.ReportMetric(refRSS, "reference-peak-RSS-MB")
}
