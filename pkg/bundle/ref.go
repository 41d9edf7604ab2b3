package bundle

import (
	"strings"
)

// ImageRef is an image reference split the way the charts build them:
// repository[:tag][@digest], the repository's registry host told apart by
// the platform's image rule (docs/platform.md).
type ImageRef struct {
	// Host is the registry host: the first path element of the repository
	// when it contains "." or ":" or is "localhost", else docker.io.
	Host string
	// Path is the repository below the host; official docker.io images get
	// their implicit "library/".
	Path   string
	Tag    string
	Digest string
}

// ParseImageRef splits an image reference such as
// "quay.io/jetstack/cert-manager-controller:v1.19.1" or "nginx@sha256:...".
func ParseImageRef(ref string) ImageRef {
	var r ImageRef
	repo := ref
	if i := strings.Index(repo, "@"); i >= 0 {
		r.Digest = repo[i+1:]
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		r.Tag = repo[i+1:]
		repo = repo[:i]
	}
	parts := strings.Split(repo, "/")
	r.Host = "docker.io"
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		r.Host = parts[0]
		parts = parts[1:]
	}
	if (r.Host == "docker.io" || r.Host == "index.docker.io") && len(parts) == 1 {
		parts = append([]string{"library"}, parts...)
	}
	r.Path = strings.Join(parts, "/")
	return r
}

// SplitRef splits a reference rendered with otomi.imageRegistry set to
// registry (a host with an optional path prefix): that prefix is the host,
// the rest the path. Without registry (or a reference outside it) it is
// ParseImageRef.
func SplitRef(ref, registry string) ImageRef {
	registry = strings.TrimSuffix(registry, "/")
	if registry == "" || !strings.HasPrefix(ref, registry+"/") {
		return ParseImageRef(ref)
	}
	r := ParseImageRef("example.invalid/" + strings.TrimPrefix(ref, registry+"/"))
	r.Host = registry
	return r
}

// Relocate applies the platform's image rule: the registry host of ref is
// replaced by registry (a host with an optional path prefix), as the charts
// do with global.imageRegistry.
func Relocate(ref, registry string) string {
	r := ParseImageRef(ref)
	r.Host = strings.TrimSuffix(registry, "/")
	return r.String()
}

// String joins the reference back together.
func (r ImageRef) String() string {
	s := r.Path
	if r.Host != "" {
		s = r.Host + "/" + r.Path
	}
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Key identifies an image whatever registry it is relocated to: path (below
// the registry and its prefix), tag (latest when neither tag nor digest is
// given) and digest.
func (r ImageRef) Key() string {
	k := r.Path
	tag := r.Tag
	if tag == "" && r.Digest == "" {
		tag = "latest"
	}
	if tag != "" {
		k += ":" + tag
	}
	if r.Digest != "" {
		k += "@" + r.Digest
	}
	return k
}

// Pinned reports whether the reference names a digest.
func (r ImageRef) Pinned() bool { return r.Digest != "" }
