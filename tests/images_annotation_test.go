package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/render"
)

// annotatedImages are images that workloads start themselves (named in flags,
// env vars, ConfigMaps or custom-resource fields, not in a container list):
// the charts list them in the annotation otomi.io/images.
var annotatedImages = []string{
	"ghcr.io/tektoncd/pipeline/entrypoint-bff0a22da108bc2f16c818c97641a296:v1.3.0", // tekton -entrypoint-image
	"ghcr.io/tektoncd/triggers/eventlistenersink-7ad1faa98cddbcb0c24990303b220bb8:v0.33.0",
	"gcr.io/knative-releases/knative.dev/serving/cmd/queue:v1.19.0", // knative config-deployment
	"ghcr.io/cloudnative-pg/postgresql:17.6",                        // POSTGRES_IMAGE_NAME, Cluster imageName
	"docker.io/istio/proxyv2:1.28.3",                                // sidecar injector
	"mirror.gcr.io/aquasec/trivy:0.58.1",                            // trivy scan jobs
	"docker.io/drone/git:1.2.1",                                     // drone clone
	"quay.io/jetstack/cert-manager-acmesolver:v1.19.1",
}

// TestImagesAnnotation: render.Images lists the images of the otomi.io/images
// annotations, and a registry override relocates them like every other image.
func TestImagesAnnotation(t *testing.T) {
	_, manifests := examplePlatform(t, cmdutil.RenderFlags{})
	imgs := render.Images(manifests)
	annotated := map[string]bool{}
	for _, m := range manifests {
		for _, o := range m.Objects {
			for _, img := range render.AnnotatedImages(o.Body) {
				annotated[img] = true
			}
		}
	}
	for _, want := range annotatedImages {
		assert.Contains(t, imgs, want)
		assert.True(t, annotated[want], "not in an %s annotation: %s", render.ImagesAnnotation, want)
	}

	const mirror = "registry.internal.example:5000/mirror"
	override := filepath.Join(t.TempDir(), "registry.yaml")
	require.NoError(t, os.WriteFile(override, []byte("otomi:\n  imageRegistry: "+mirror+"\n"), 0o644))
	_, relocated := examplePlatform(t, cmdutil.RenderFlags{StateValuesFiles: []string{override}})
	moved := render.Images(relocated)
	for _, want := range annotatedImages {
		_, path, _ := strings.Cut(want, "/")
		assert.Contains(t, moved, mirror+"/"+path)
		assert.NotContains(t, moved, want)
	}
}
