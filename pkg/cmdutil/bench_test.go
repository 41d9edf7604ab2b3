package cmdutil

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/otomi/otomi"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/schema"
)

// BenchmarkLoadValues measures the work behind validate-values on the
// bundled example repo: read, decrypt (sops, age), merge, defaults, validate.
func BenchmarkLoadValues(b *testing.B) {
	key, _ := filepath.Abs("../../testdata/age/test-only.agekey")
	b.Setenv("SOPS_AGE_KEY_FILE", key)
	ios, _, _, _ := iostreams.Test()
	f := New(ios)
	f.Globals.EnvDir = "../../examples/demo"
	if _, err := f.Schema(); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		lv, err := LoadValues(ctx, f, false)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(lv.Problems.Errors()); n > 0 {
			b.Fatalf("example repo has %d problems: %v", n, lv.Problems)
		}
	}
}

// BenchmarkSchemaCompile measures compiling the embedded values schema,
// which every command that reads values pays once.
func BenchmarkSchemaCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := schema.Load(schema.FileName, otomi.ValuesSchema); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMain(m *testing.M) {
	for _, k := range []string{"SOPS_AGE_KEY", "SOPS_AGE_KEY_CMD"} {
		os.Unsetenv(k)
	}
	os.Exit(m.Run())
}
