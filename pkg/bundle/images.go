package bundle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/otomi/otomi/pkg/render"
	"github.com/otomi/otomi/pkg/schema"
	"github.com/otomi/otomi/pkg/values"
)

// AllApps is the state values layer that enables every app the schema
// knows (core apps are always on anyway).
func AllApps(sch *schema.Schema) map[string]any {
	apps := map[string]any{}
	names := make([]string, 0)
	for app := range sch.Apps() {
		names = append(names, app)
	}
	sort.Strings(names)
	for _, app := range names {
		apps[app] = map[string]any{"enabled": true}
	}
	return map[string]any{"apps": apps}
}

// RenderImages renders the platform in platformDir with the values tree
// (with every app enabled when allApps) and returns its sorted images.
func RenderImages(ctx context.Context, platformDir string, tree map[string]any, allApps bool) ([]string, error) {
	if allApps {
		data, err := os.ReadFile(filepath.Join(platformDir, schema.FileName))
		if err != nil {
			return nil, err
		}
		sch, err := schema.Load(schema.FileName, data)
		if err != nil {
			return nil, err
		}
		tree = render.MergeValues(tree, AllApps(sch))
	}
	kv, _ := values.Get(tree, "/cluster/k8sVersion")
	kvs, _ := kv.(string)
	releases, err := render.Load(ctx, render.LoadOptions{File: filepath.Join(platformDir, "helmfile.d"), StateValues: tree, KubeVersion: kvs})
	if err != nil {
		return nil, err
	}
	manifests, err := render.Render(ctx, releases, render.RenderOptions{})
	if err != nil {
		return nil, err
	}
	return render.Images(manifests), nil
}

// RenderBundled renders the platform of an extracted bundle (or the
// platform files verify unpacked) with the values it was made with.
func RenderBundled(ctx context.Context, dir string, m *Manifest) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, ValuesFile))
	if err != nil {
		return nil, err
	}
	tree, _, problems := values.ParseYAML(ValuesFile, data)
	if errs := problems.Errors(); len(errs) > 0 {
		return nil, fmt.Errorf("%s: %s", ValuesFile, errs[0].Message)
	}
	if tree == nil {
		tree = map[string]any{}
	}
	return RenderImages(ctx, dir, tree, m.Apps == "all")
}

// SetImageRegistry writes otomi.imageRegistry into the values repo's
// env/settings.yaml (a plain file), keeping its comments and layout, and
// returns the file written.
func SetImageRegistry(envDir, registry string) (string, error) {
	repo, err := values.Locate(envDir)
	if err != nil {
		return "", err
	}
	p := filepath.Join(repo.Env, "settings.yaml")
	old, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		return "", err
	}
	if values.IsEncrypted(old) {
		return "", fmt.Errorf("%s is encrypted: settings.yaml must be a plain file", p)
	}
	tree := map[string]any{}
	if len(old) > 0 {
		var problems values.Problems
		tree, _, problems = values.ParseYAML("env/settings.yaml", old)
		if errs := problems.Errors(); len(errs) > 0 {
			return "", fmt.Errorf("%s: %s", p, errs[0].Message)
		}
		if tree == nil {
			tree = map[string]any{}
		}
	}
	otomi, _ := tree["otomi"].(map[string]any)
	if otomi == nil {
		otomi = map[string]any{}
	}
	otomi["imageRegistry"] = registry
	tree["otomi"] = otomi
	out, err := values.EncodeOver(old, tree)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(p)
	mode := os.FileMode(0o644)
	if err == nil {
		mode = st.Mode().Perm()
	}
	return p, os.WriteFile(p, out, mode)
}
