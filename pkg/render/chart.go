package render

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

// RenderOptions tune how charts are rendered.
type RenderOptions struct {
	// IncludeCRDs adds the charts' crds/ to the output, as helm
	// template --include-crds does.
	IncludeCRDs bool
	// Concurrency bounds the releases rendered at once (GOMAXPROCS when 0).
	Concurrency int
}

// Manifest is the rendered output of one release.
type Manifest struct {
	Release *Release
	// Text is what `helm template` prints for the release.
	Text string
	// Objects are the documents of Text, parsed.
	Objects []*Object
}

// DefaultKubeVersion is the Kubernetes version charts see when neither the
// caller nor the helmfile names one.
const DefaultKubeVersion = "v1.35.0"

// Render renders the charts of the installed releases in parallel and
// returns their manifests in release order. Every failing release is
// reported, each error naming the release, its chart and the template.
func Render(ctx context.Context, releases []*Release, opts RenderOptions) ([]*Manifest, error) {
	workers := opts.Concurrency
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := make([]*Manifest, len(releases))
	errs := make([]error, len(releases))
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i, r := range releases {
		if !r.Installed {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := ctx.Err(); err != nil {
				errs[i] = err
				return
			}
			m, err := renderRelease(ctx, r, opts)
			if err != nil {
				errs[i] = fmt.Errorf("release %s (chart %s): %w", r.Name, r.Chart, err)
				return
			}
			out[i] = m
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var manifests []*Manifest
	for _, m := range out {
		if m != nil {
			manifests = append(manifests, m)
		}
	}
	return manifests, nil
}

func renderRelease(ctx context.Context, r *Release, opts RenderOptions) (*Manifest, error) {
	ch, err := loader.Load(r.ChartPath)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", r.Chart, err)
	}
	r.ChartVersion = ch.Metadata.Version
	kv, err := chartutil.ParseKubeVersion(firstNonEmpty(r.kubeVersion, DefaultKubeVersion))
	if err != nil {
		return nil, fmt.Errorf("kube version %q: %w", r.kubeVersion, err)
	}
	// One Configuration per render: Install.Run writes to it.
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.DryRun = true
	install.DryRunOption = "true"
	install.ClientOnly = true
	install.Replace = true
	install.ReleaseName = r.Name
	install.Namespace = r.Namespace
	install.IncludeCRDs = opts.IncludeCRDs
	install.KubeVersion = kv
	install.APIVersions = chartutil.VersionSet(r.apiVersions)
	// The chart gets its own copy: helm may change the values it is given.
	rel, err := install.RunWithContext(ctx, ch, deepCopyMap(r.Values))
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString(strings.TrimSpace(rel.Manifest))
	b.WriteString("\n")
	for _, h := range rel.Hooks {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", h.Path, h.Manifest)
	}
	return NewManifest(r, b.String())
}

// NewManifest parses the rendered text of a release into a Manifest.
func NewManifest(r *Release, text string) (*Manifest, error) {
	objs, err := parseObjects(r, text)
	if err != nil {
		return nil, err
	}
	return &Manifest{Release: r, Text: text, Objects: objs}, nil
}

func deepCopyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopy(v)
	}
	return out
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return deepCopyMap(t)
	case []any:
		out := make([]any, len(t))
		for i, c := range t {
			out[i] = deepCopy(c)
		}
		return out
	}
	return v
}
