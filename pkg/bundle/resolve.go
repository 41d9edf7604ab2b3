package bundle

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// resolve fetches an image's manifest (or index and the manifests of the
// platforms kept) and configs; layers are only described, and streamed when
// the bundle is written.
func resolve(ctx context.Context, ref string, specs []v1.Platform, opts CreateOptions) (*resolved, error) {
	r, err := name.ParseReference(ref, opts.Name...)
	if err != nil {
		return nil, err
	}
	ropts := append([]remote.Option{remote.WithContext(ctx)}, opts.Remote...)
	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return nil, err
	}
	ir := SplitRef(ref, opts.Registry)
	out := &resolved{image: Image{Ref: ref, Path: ir.Path, Tag: ir.Tag, MediaType: string(desc.MediaType)}}
	add := func(b blob) { b.ref = ref; out.blobs = append(out.blobs, b) }
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, err
		}
		raw := desc.Manifest
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		keep := im.Manifests
		// A reference pinned to the index's digest keeps every platform:
		// filtering would give the index another digest.
		if len(specs) > 0 && !ir.Pinned() {
			keep = nil
			var have []string
			for _, c := range im.Manifests {
				if c.Platform == nil || matchesAny(*c.Platform, specs) {
					keep = append(keep, c)
				}
				if c.Platform != nil {
					have = append(have, c.Platform.String())
				}
			}
			if len(keep) == 0 {
				return nil, fmt.Errorf("no manifest for %s (it has %s)", platformList(specs), strings.Join(have, ", "))
			}
			if len(keep) < len(im.Manifests) {
				if raw, err = filterIndex(raw, keep); err != nil {
					return nil, err
				}
				out.image.SourceDigest = desc.Digest.String()
			}
		}
		dg, size, _ := v1.SHA256(bytesReader(raw))
		out.image.Digest, out.image.Size = dg.String(), size
		add(blob{digest: dg.String(), size: size, mediaType: string(desc.MediaType), kind: KindManifest, data: raw})
		for _, c := range keep {
			if c.Platform != nil {
				out.image.Platforms = append(out.image.Platforms, c.Platform.String())
			}
			if err := addChild(idx, c, add); err != nil {
				return nil, fmt.Errorf("%s: %w", c.Digest, err)
			}
		}
		sort.Strings(out.image.Platforms)
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return nil, err
		}
		out.image.Digest, out.image.Size = desc.Digest.String(), desc.Size
		if err := addImage(img, desc.Manifest, desc.Digest, add); err != nil {
			return nil, err
		}
		if cf, err := img.ConfigFile(); err == nil && cf.OS != "" {
			out.image.Platforms = []string{(&v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}).String()}
		}
	default:
		return nil, fmt.Errorf("unsupported media type %s", desc.MediaType)
	}
	return out, nil
}

func addChild(idx v1.ImageIndex, c v1.Descriptor, add func(blob)) error {
	switch {
	case c.MediaType.IsIndex():
		child, err := idx.ImageIndex(c.Digest)
		if err != nil {
			return err
		}
		raw, err := child.RawManifest()
		if err != nil {
			return err
		}
		add(blob{digest: c.Digest.String(), size: int64(len(raw)), mediaType: string(c.MediaType), kind: KindManifest, data: raw})
		im, err := child.IndexManifest()
		if err != nil {
			return err
		}
		for _, cc := range im.Manifests {
			if err := addChild(child, cc, add); err != nil {
				return err
			}
		}
		return nil
	case c.MediaType.IsImage():
		img, err := idx.Image(c.Digest)
		if err != nil {
			return err
		}
		raw, err := img.RawManifest()
		if err != nil {
			return err
		}
		return addImage(img, raw, c.Digest, add)
	default:
		return fmt.Errorf("unsupported media type %s", c.MediaType)
	}
}

// addImage adds the manifest and config (held: small) and the layers
// (streamed later) of an image.
func addImage(img v1.Image, raw []byte, digest v1.Hash, add func(blob)) error {
	if got, _, _ := v1.SHA256(bytesReader(raw)); got != digest {
		return fmt.Errorf("manifest has digest %s, want %s", got, digest)
	}
	mf, err := v1.ParseManifest(bytesReader(raw))
	if err != nil {
		return err
	}
	add(blob{digest: digest.String(), size: int64(len(raw)), mediaType: string(mf.MediaType), kind: KindManifest, data: raw})
	cfg, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("config %s: %w", mf.Config.Digest, err)
	}
	if got, _, _ := v1.SHA256(bytesReader(cfg)); got != mf.Config.Digest {
		return fmt.Errorf("config has digest %s, want %s", got, mf.Config.Digest)
	}
	add(blob{digest: mf.Config.Digest.String(), size: int64(len(cfg)), mediaType: string(mf.Config.MediaType), kind: KindConfig, data: cfg})
	for _, l := range mf.Layers {
		if !l.MediaType.IsDistributable() {
			continue
		}
		d := l.Digest
		add(blob{digest: d.String(), size: l.Size, mediaType: string(l.MediaType), kind: KindLayer, open: func() (io.ReadCloser, error) {
			layer, err := img.LayerByDigest(d)
			if err != nil {
				return nil, err
			}
			return layer.Compressed()
		}})
	}
	return nil
}

// filterIndex rewrites the index's manifest list, keeping every other field
// as it was.
func filterIndex(raw []byte, keep []v1.Descriptor) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	list, err := json.Marshal(keep)
	if err != nil {
		return nil, err
	}
	doc["manifests"] = list
	return json.Marshal(doc)
}

func matchesAny(p v1.Platform, specs []v1.Platform) bool {
	for _, s := range specs {
		if p.Satisfies(s) {
			return true
		}
	}
	return false
}

func platformList(specs []v1.Platform) string {
	var s []string
	for _, p := range specs {
		s = append(s, p.String())
	}
	return strings.Join(s, ", ")
}
