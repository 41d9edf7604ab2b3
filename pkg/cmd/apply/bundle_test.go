package apply

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otomi/otomi/pkg/bundle"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/render"
)

// TestBundleCheckImages: apply --bundle warns when otomi.imageRegistry is
// unset, and lists the rendered images the bundle does not carry (relocated
// to the site registry or not), and says nothing when it carries them all.
func TestBundleCheckImages(t *testing.T) {
	b := &openedBundle{file: "site.tar.zst", manifest: &bundle.Manifest{Images: []bundle.Image{
		{Ref: "quay.io/jetstack/cert-manager-controller:v1.19.1", Path: "jetstack/cert-manager-controller", Tag: "v1.19.1"},
	}}}
	pod := func(image string) *render.Object {
		return &render.Object{Kind: "Pod", Body: map[string]any{"kind": "Pod", "spec": map[string]any{
			"containers": []any{map[string]any{"name": "c", "image": image}}}}}
	}
	target := func(registry string, images ...string) *Target {
		m := &render.Manifest{Release: &render.Release{Name: "r"}}
		for _, img := range images {
			m.Objects = append(m.Objects, pod(img))
		}
		sv := map[string]any{}
		if registry != "" {
			sv["otomi"] = map[string]any{"imageRegistry": registry}
		}
		return &Target{Loaded: &cmdutil.Loaded{StateValues: sv}, Manifests: []*render.Manifest{m}}
	}
	check := func(tg *Target) string {
		ios, _, _, errOut := iostreams.Test()
		b.checkImages(cmdutil.New(ios), tg)
		return errOut.String()
	}

	out := check(target("", "quay.io/jetstack/cert-manager-controller:v1.19.1"))
	assert.Contains(t, out, "otomi.imageRegistry is not set")
	assert.Contains(t, out, "otomi bundle push-images site.tar.zst")

	assert.Empty(t, check(target("registry.site:5000/mirror", "registry.site:5000/mirror/jetstack/cert-manager-controller:v1.19.1")))

	out = check(target("registry.site:5000/mirror",
		"registry.site:5000/mirror/jetstack/cert-manager-controller:v1.19.1",
		"registry.site:5000/mirror/team-demo/hello:1.4.0"))
	assert.Contains(t, out, "1 images are not in the bundle; registry.site:5000/mirror must serve them")
	assert.Contains(t, out, "registry.site:5000/mirror/team-demo/hello:1.4.0")
	assert.NotContains(t, out, "cert-manager-controller")
}
