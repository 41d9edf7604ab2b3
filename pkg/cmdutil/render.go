package cmdutil

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/otomi/otomi"
	"github.com/otomi/otomi/pkg/platform"
	"github.com/otomi/otomi/pkg/render"
	"github.com/otomi/otomi/pkg/values"
)

// RenderFlags are the flags of the commands that render (template, list,
// images, validate-templates, ...).
type RenderFlags struct {
	// File renders another helmfile (file or folder) instead of the platform.
	File        string
	Selectors   []string
	KubeVersion string
	Environment string
	// StateValuesFiles are merged over the values repo's values, in order,
	// as helmfile's --state-values-file (maps merge, lists replace).
	StateValuesFiles []string
}

// Loaded is what a rendering command starts from.
type Loaded struct {
	Releases []*render.Release
	// Values are the values repo's (nil when rendering -f without --env-dir).
	Values *values.Values
	// PlatformDir is the platform rendered ("" with -f).
	PlatformDir string
	// StateValues are the values the helmfile saw: the values repo's with
	// the --state-values-file layers merged over them (nil when none).
	StateValues map[string]any
}

// LoadReleases loads the releases to render: the platform's helmfile.d
// with the values repo as state values (refusing invalid values with the
// validate-values report, exit 3), or the helmfile named by --file, with
// the values repo's values only when --env-dir was given.
func LoadReleases(ctx context.Context, f *Factory, flags RenderFlags) (*Loaded, error) {
	opts := render.LoadOptions{File: flags.File, Selectors: flags.Selectors, Environment: flags.Environment, KubeVersion: flags.KubeVersion}
	loaded := &Loaded{}
	if flags.File == "" {
		dir, err := platform.Dir(f.Globals.PlatformDir, otomi.Platform(), platform.CacheDir())
		if err != nil {
			return nil, err
		}
		loaded.PlatformDir = dir
		opts.File = filepath.Join(dir, platform.HelmfileDir)
	}
	if flags.File == "" || f.Globals.EnvDirSet {
		lv, err := LoadValues(ctx, f, false)
		if err != nil {
			return nil, err
		}
		if len(lv.Problems.Errors()) > 0 {
			PrintProblems(f.IOStreams, f.IOStreams.ErrOut, "values", lv.Problems)
			return nil, ErrValidation
		}
		loaded.Values = lv.Values
		opts.StateValues = lv.Values.Tree
		if opts.KubeVersion == "" {
			if kv, ok := values.Get(lv.Values.Tree, "/cluster/k8sVersion"); ok {
				opts.KubeVersion, _ = kv.(string)
			}
		}
	}
	for _, file := range flags.StateValuesFiles {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("state values file: %w", err)
		}
		var layer map[string]any
		if err := yaml.Unmarshal(data, &layer); err != nil {
			return nil, fmt.Errorf("state values file %s: %w", file, err)
		}
		if opts.StateValues == nil {
			opts.StateValues = map[string]any{}
		}
		opts.StateValues = render.MergeValues(opts.StateValues, layer)
	}
	releases, err := render.Load(ctx, opts)
	if err != nil {
		return nil, err
	}
	f.Logger.Debug("releases loaded", "count", len(releases))
	loaded.Releases = releases
	loaded.StateValues = opts.StateValues
	return loaded, nil
}

// RenderError wraps render errors so that each failing release shows on a
// line of its own.
func RenderError(err error) error {
	lines := strings.Split(err.Error(), "\n")
	if len(lines) == 1 {
		return err
	}
	return fmt.Errorf("%d problems:\n  %s", len(lines), strings.Join(lines, "\n  "))
}
