package bundle

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The examples of docs/platform.md and the chart helper's corner cases.
func TestRelocate(t *testing.T) {
	cases := []struct{ ref, registry, want string }{
		{"registry.k8s.io/ingress-nginx/controller:v1.13.2", "harbor.corp.example/mirror", "harbor.corp.example/mirror/ingress-nginx/controller:v1.13.2"},
		{"quay.io/jetstack/cert-manager-webhook:v1.19.1", "harbor.corp.example/mirror", "harbor.corp.example/mirror/jetstack/cert-manager-webhook:v1.19.1"},
		{"nginx", "harbor.corp.example/mirror", "harbor.corp.example/mirror/library/nginx"},
		{"docker.io/nginx:1.27", "h.example", "h.example/library/nginx:1.27"},
		{"index.docker.io/nginx:1.27", "h.example", "h.example/library/nginx:1.27"},
		{"bitnami/redis:7", "h.example/", "h.example/bitnami/redis:7"},
		{"localhost/app/x@sha256:abc", "h.example", "h.example/app/x@sha256:abc"},
		{"127.0.0.1:5000/a/b:1@sha256:abc", "10.0.0.5:5000", "10.0.0.5:5000/a/b:1@sha256:abc"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, Relocate(c.ref, c.registry), c.ref)
	}
}

func TestSplitRefAndKey(t *testing.T) {
	cases := []struct{ ref, registry, path, tag, digest, key string }{
		{"quay.io/jetstack/x:v1", "", "jetstack/x", "v1", "", "jetstack/x:v1"},
		{"nginx", "", "library/nginx", "", "", "library/nginx:latest"},
		{"h.example/mirror/jetstack/x:v1", "h.example/mirror", "jetstack/x", "v1", "", "jetstack/x:v1"},
		{"h.example/mirror/library/nginx@sha256:abc", "h.example/mirror/", "library/nginx", "", "sha256:abc", "library/nginx@sha256:abc"},
		// Outside the registry: the plain rule.
		{"quay.io/jetstack/x:v1", "h.example/mirror", "jetstack/x", "v1", "", "jetstack/x:v1"},
	}
	for _, c := range cases {
		r := SplitRef(c.ref, c.registry)
		assert.Equal(t, c.path, r.Path, c.ref)
		assert.Equal(t, c.tag, r.Tag, c.ref)
		assert.Equal(t, c.digest, r.Digest, c.ref)
		assert.Equal(t, c.key, r.Key(), c.ref)
	}
}

func TestTarget(t *testing.T) {
	assert.Equal(t, "site.example/p/jetstack/x:v1", Target(Image{Path: "jetstack/x", Tag: "v1", Digest: "sha256:abc"}, "site.example/p/"))
	assert.Equal(t, "site.example/jetstack/x@sha256:abc", Target(Image{Path: "jetstack/x", Digest: "sha256:abc"}, "site.example"))
}

func TestDecodeManifestRefusesUnsafePaths(t *testing.T) {
	for _, p := range []string{"../x", "/etc/passwd", "a/../../b", "bundle.json", "a//b", "."} {
		_, err := DecodeManifest([]byte(`{"apiVersion":"` + APIVersion + `","files":[{"path":"` + p + `"}]}`))
		assert.Error(t, err, p)
	}
	_, err := DecodeManifest([]byte(`{"apiVersion":"other/v9"}`))
	assert.ErrorContains(t, err, "apiVersion")
}

func TestKeys(t *testing.T) {
	priv, pub, err := GenerateKey()
	assert.NoError(t, err)
	k, err := ParsePrivateKey(priv)
	assert.NoError(t, err)
	p, err := ParsePublicKey(pub)
	assert.NoError(t, err)
	assert.Equal(t, k.Public(), p)
	_, err = ParsePrivateKey(pub)
	assert.Error(t, err)
	_, err = ParsePublicKey(priv)
	assert.Error(t, err)
}
