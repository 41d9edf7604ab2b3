package tests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
			var maxRSS float64
			var wall time.Duration
			for b.Loop() {
				cmd := exec.Command(bin, c.args...)
				cmd.Env = append(os.Environ(), "SOPS_AGE_KEY_FILE="+key)
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				w, rss, err := runMeasured(cmd)
				if err != nil {
					b.Fatalf("%v: %v\n%s", c.args, err, out.String())
				}
				wall += w
				maxRSS = max(maxRSS, rss)
			}
			b.ReportMetric(maxRSS, "peak-RSS-MB")
			b.ReportMetric(float64(wall.Milliseconds())/float64(b.N), "wall-ms/op")
		})
	}
}

// measure runs a command and returns its wall time and peak RSS in MB (see
// runMeasured).
func measure(b *testing.B, cmd *exec.Cmd) (time.Duration, float64) {
	b.Helper()
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	wall, rss, err := runMeasured(cmd)
	if err != nil {
		b.Fatalf("%s: %v\n%s", cmd.Path, err, errOut.String())
	}
	return wall, rss
}

// runMeasured runs cmd and returns its wall time and the peak RSS (MB) of
// the largest process of its tree (the command and every process it
// starts: helmfile's helm, a pipeline's commands), from each one's VmHWM,
// polled every 10 ms. The rusage of a child of this test process would
// not do: Linux keeps the high-water mark across exec, so a child started
// by this large process reports at least this process's memory.
func runMeasured(cmd *exec.Cmd) (time.Duration, float64, error) {
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	done := make(chan struct{})
	peak := make(chan int64, 1)
	go func() {
		var hwm int64
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, pid := range processTree(cmd.Process.Pid) {
				hwm = max(hwm, vmHWM(pid))
			}
			select {
			case <-done:
				peak <- hwm
				return
			case <-tick.C:
			}
		}
	}()
	err := cmd.Wait()
	wall := time.Since(start)
	close(done)
	return wall, float64(<-peak) / 1024, err
}

// processTree lists root and its descendants, from /proc/*/stat.
func processTree(root int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return []int{root}
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		rest := string(data[strings.LastIndexByte(string(data), ')')+1:])
		fields := strings.Fields(rest)
		if len(fields) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(fields[1]); err == nil {
			children[ppid] = append(children[ppid], pid)
		}
	}
	tree := []int{root}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree
}

// vmHWM is a process's peak resident set size in kB (0 once it is gone).
func vmHWM(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		var kb int64
		if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &kb); err == nil {
			return kb
		}
	}
	return 0
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
