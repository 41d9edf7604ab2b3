package bundle

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// VerifyOptions say what to check.
type VerifyOptions struct {
	ReadOptions
	// RenderImages lists the images of the bundled platform (extracted to
	// platformDir) rendered with the bundle's values; nil skips the
	// completeness check.
	RenderImages func(ctx context.Context, platformDir string, m *Manifest) ([]string, error)
	// TempDir receives the platform files for the render ("" = os.TempDir).
	TempDir string
}

// VerifyReport is what verify found.
type VerifyReport struct {
	Head *Head
	// Files and Bytes checked (the base's included).
	Files int
	Bytes int64
	// SignatureChecked is true when a public key was given and matched.
	SignatureChecked bool
	// Rendered are the images the bundled platform uses (nil when the
	// completeness check was skipped).
	Rendered []string
}

// Verify checks a bundle: its manifest's checksum, its signature when a
// key is given, every file's sha256, that the image layout holds every blob
// its manifests reference, and that every image the bundled platform
// renders is in the layout.
func Verify(ctx context.Context, opts VerifyOptions) (*VerifyReport, error) {
	o, err := open(opts.ReadOptions)
	if err != nil {
		return nil, err
	}
	defer o.close()
	rep := &VerifyReport{Head: o.head, SignatureChecked: opts.PublicKey != nil}
	tmp, err := os.MkdirTemp(opts.TempDir, "otomi-bundle-verify-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	small := map[string][]byte{}
	err = o.walk(ctx, func(f File, r io.Reader) error {
		rep.Files++
		rep.Bytes += f.Size
		switch f.Kind {
		case KindPlatform, KindValues:
			return writeFile(filepath.Join(tmp, filepath.FromSlash(f.Path)), r, 0o644)
		case KindManifest, KindLayout:
			data, err := io.ReadAll(r)
			small[f.Path] = data
			return err
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	m := o.head.Manifest
	if err := checkLayout(m, small); err != nil {
		return rep, err
	}
	if opts.RenderImages == nil {
		return rep, nil
	}
	rendered, err := opts.RenderImages(ctx, tmp, m)
	if err != nil {
		return rep, fmt.Errorf("render the bundled platform: %w", err)
	}
	rep.Rendered = rendered
	return rep, CheckComplete(m, rendered)
}

// CheckComplete fails listing every rendered image the bundle lacks.
func CheckComplete(m *Manifest, rendered []string) error {
	have := map[string]bool{}
	for _, img := range m.Images {
		have[img.Key()] = true
	}
	var fails []ImageFailure
	for _, ref := range rendered {
		if !have[SplitRef(ref, m.Registry).Key()] {
			fails = append(fails, ImageFailure{Ref: ref, Err: fmt.Errorf("not in the bundle")})
		}
	}
	if len(fails) > 0 {
		return &ImageErrors{What: "are missing from the bundle", Failures: fails}
	}
	return nil
}

// checkLayout walks the OCI layout from index.json: every image of the
// manifest is there with its digest, and every manifest, config and layer
// it references is a file of the bundle.
func checkLayout(m *Manifest, small map[string][]byte) error {
	files := m.FileMap()
	idxPath := path.Join(ImagesDir, "index.json")
	var index v1.IndexManifest
	if err := json.Unmarshal(small[idxPath], &index); err != nil {
		return fmt.Errorf("%s: %w", idxPath, err)
	}
	inIndex := map[string]string{}
	for _, d := range index.Manifests {
		inIndex[d.Annotations[refNameAnnotion]] = d.Digest.String()
	}
	var problems []string
	for _, img := range m.Images {
		if got := inIndex[img.Ref]; got != img.Digest {
			problems = append(problems, fmt.Sprintf("%s: %s has digest %q, the manifest says %s", img.Ref, idxPath, got, img.Digest))
		}
	}
	var walkDesc func(d v1.Descriptor, from string)
	walkDesc = func(d v1.Descriptor, from string) {
		p := BlobPath(d.Digest.String())
		f, ok := files[p]
		if !ok {
			if d.MediaType.IsDistributable() {
				problems = append(problems, fmt.Sprintf("%s: references %s, which the bundle lacks", from, d.Digest))
			}
			return
		}
		if f.Size != d.Size {
			problems = append(problems, fmt.Sprintf("%s: references %s with size %d, the file has %d", from, d.Digest, d.Size, f.Size))
		}
		if f.Kind != KindManifest {
			return
		}
		data := small[p]
		switch {
		case d.MediaType.IsIndex():
			var im v1.IndexManifest
			if err := json.Unmarshal(data, &im); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", p, err))
				return
			}
			for _, c := range im.Manifests {
				walkDesc(c, p)
			}
		case d.MediaType.IsImage():
			var mf v1.Manifest
			if err := json.Unmarshal(data, &mf); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", p, err))
				return
			}
			walkDesc(mf.Config, p)
			for _, l := range mf.Layers {
				walkDesc(l, p)
			}
		}
	}
	for _, d := range index.Manifests {
		walkDesc(d, idxPath)
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("image layout incomplete: %d problems:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	return nil
}

// writeFile writes r to p (creating its folder), failing with the path.
func writeFile(p string, r io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
