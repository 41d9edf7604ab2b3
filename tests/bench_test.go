package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
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
