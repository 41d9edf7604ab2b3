package tests

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/render"
)

// BenchmarkPlatformRender measures the work of otomi template in process
// (values load + decrypt + validate, helmfile load, chart render), without
// the binary's start-up.
func BenchmarkPlatformRender(b *testing.B) {
	top := repoRoot(b)
	b.Setenv("SOPS_AGE_KEY_FILE", filepath.Join(top, "testdata", "age", "test-only.agekey"))
	ios, _, _, _ := iostreams.Test()
	f := cmdutil.New(ios)
	f.Globals.EnvDir = filepath.Join(top, "examples", "demo")
	f.Globals.EnvDirSet = true
	f.Globals.PlatformDir = top
	ctx := context.Background()
	b.Run("load", func(b *testing.B) {
		for b.Loop() {
			if _, err := cmdutil.LoadReleases(ctx, f, cmdutil.RenderFlags{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	loaded, err := cmdutil.LoadReleases(ctx, f, cmdutil.RenderFlags{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("render", func(b *testing.B) {
		for b.Loop() {
			if _, err := render.Render(ctx, loaded.Releases, render.RenderOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
