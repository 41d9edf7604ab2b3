// Package bundle builds, checks, unpacks and publishes air-gap bundles: one
// tar archive, zstd-compressed, holding the otomi binary, the platform
// (charts/, helmfile.d/, templates/, policies/, values-schema.yaml), the
// non-secret values the image list was rendered with, and every image as an
// OCI image layout under images/, described by a manifest (bundle.json)
// that lists every file with its sha256 and may be signed (ed25519).
//
// The archive starts with bundle.json, bundle.json.sha256 and, when signed,
// bundle.json.sig, so a reader knows what to expect (and whether a base
// bundle is needed) before it reads any other file.
package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
)

// Names of the files that describe a bundle.
const (
	ManifestFile    = "bundle.json"
	ChecksumFile    = "bundle.json.sha256"
	SignatureFile   = "bundle.json.sig"
	BinaryFile      = "otomi"
	ValuesFile      = "bundle-values.yaml"
	ImagesDir       = "images"
	APIVersion      = "otomi.io/bundle/v1"
	refNameAnnotion = "org.opencontainers.image.ref.name"
)

// Kinds of files.
const (
	KindBinary   = "binary"
	KindPlatform = "platform"
	KindValues   = "values"
	KindLayout   = "layout"   // images/oci-layout, images/index.json
	KindManifest = "manifest" // an image manifest or index blob
	KindConfig   = "config"
	KindLayer    = "layer"
)

// Manifest describes a bundle: bundle.json.
type Manifest struct {
	APIVersion   string `json:"apiVersion"`
	OtomiVersion string `json:"otomiVersion"`
	OtomiCommit  string `json:"otomiCommit,omitempty"`
	Created      string `json:"created"`
	// Apps is how the image list was made: "all" (every app enabled) or
	// "enabled" (the values as given).
	Apps string `json:"apps"`
	// Registry is otomi.imageRegistry of the values the images were
	// rendered and pulled with ("" for their upstream registries).
	Registry string `json:"registry,omitempty"`
	// Platforms kept of multi-arch images; empty: all of them.
	Platforms []string `json:"platforms,omitempty"`
	// Base is set on an incremental bundle: the bundle it builds on.
	Base   *Base   `json:"base,omitempty"`
	Charts []Chart `json:"charts"`
	Images []Image `json:"images"`
	Files  []File  `json:"files"`
}

// Base names the bundle an incremental bundle builds on.
type Base struct {
	// SHA256 is the sha256 of the base's bundle.json.
	SHA256       string `json:"sha256"`
	OtomiVersion string `json:"otomiVersion"`
	Created      string `json:"created"`
}

// Chart is a chart of the bundled platform.
type Chart struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	AppVersion string `json:"appVersion,omitempty"`
}

// Image is an image of the bundle.
type Image struct {
	// Ref is the reference as the rendered platform names it.
	Ref string `json:"ref"`
	// Path is the repository without its registry (the image rule), where
	// push-images puts it below the site's registry.
	Path string `json:"path"`
	Tag  string `json:"tag,omitempty"`
	// Digest of the manifest or index stored (and pushed).
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
	Size      int64  `json:"size"`
	// SourceDigest is the registry's digest when the stored index keeps
	// only some platforms (and so has a digest of its own).
	SourceDigest string   `json:"sourceDigest,omitempty"`
	Platforms    []string `json:"platforms,omitempty"`
}

// File is a file of the bundle.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Kind   string `json:"kind"`
	Mode   int64  `json:"mode,omitempty"`
	// InBase marks a file an incremental bundle leaves to its base.
	InBase bool `json:"inBase,omitempty"`
}

// Key is the image's identity whatever registry it is relocated to.
func (i Image) Key() string {
	return ImageRef{Path: i.Path, Tag: i.Tag, Digest: ParseImageRef(i.Ref).Digest}.Key()
}

// Encode returns bundle.json.
func (m *Manifest) Encode() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// DecodeManifest parses bundle.json and checks that its file paths are
// clean relative paths.
func DecodeManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestFile, err)
	}
	if m.APIVersion != APIVersion {
		return nil, fmt.Errorf("%s: apiVersion %q, want %q", ManifestFile, m.APIVersion, APIVersion)
	}
	seen := map[string]bool{}
	for _, f := range m.Files {
		if err := checkPath(f.Path); err != nil {
			return nil, fmt.Errorf("%s: %w", ManifestFile, err)
		}
		if seen[f.Path] {
			return nil, fmt.Errorf("%s: file %s listed twice", ManifestFile, f.Path)
		}
		seen[f.Path] = true
	}
	return &m, nil
}

func checkPath(p string) error {
	if p == "" || path.IsAbs(p) || path.Clean(p) != p || p == "." || strings.HasPrefix(p, "../") || strings.Contains(p, "\\") {
		return fmt.Errorf("unsafe path %q", p)
	}
	switch p {
	case ManifestFile, ChecksumFile, SignatureFile:
		return fmt.Errorf("reserved path %q", p)
	}
	return nil
}

// Incremental reports whether the bundle needs its base.
func (m *Manifest) Incremental() bool { return m.Base != nil }

// Carried returns the files the bundle itself holds (not those of its base).
func (m *Manifest) Carried() []File {
	var out []File
	for _, f := range m.Files {
		if !f.InBase {
			out = append(out, f)
		}
	}
	return out
}

// FileMap indexes the files by path.
func (m *Manifest) FileMap() map[string]File {
	out := make(map[string]File, len(m.Files))
	for _, f := range m.Files {
		out[f.Path] = f
	}
	return out
}

// BlobPath is the layout path of a blob digest ("sha256:abc...").
func BlobPath(digest string) string {
	algo, hex, _ := strings.Cut(digest, ":")
	return path.Join(ImagesDir, "blobs", algo, hex)
}

func sortFiles(files []File) {
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ErrBaseRequired is returned for an incremental bundle read without its base.
var ErrBaseRequired = errors.New("incremental bundle: its base bundle is needed")

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
