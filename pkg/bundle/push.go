package bundle

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// PushOptions say what to push where.
type PushOptions struct {
	// ReadOptions.Bundle is a bundle file or a folder it was extracted to.
	ReadOptions
	// Registry is HOST[/PREFIX]; each image goes to Registry/<its path>.
	Registry string
	// Transport talks to the registry (nil: remote.DefaultTransport).
	Transport http.RoundTripper
	// Remote (auth, ...) and Name (insecure) options of the registry client.
	Remote []remote.Option
	Name   []name.Option
	// TempDir receives the image layout of a bundle file while it is pushed.
	TempDir  string
	Jobs     int
	Progress func(Progress)
}

// PushReport says what was pushed.
type PushReport struct {
	Images []PushedImage
	// Uploaded blobs and their bytes; blobs the registry had are skipped.
	Uploaded int64
	Bytes    int64
}

// PushedImage is an image in the site's registry.
type PushedImage struct {
	Ref    string // as the bundle names it
	Target string // where it is now
	Digest string
}

// Target is where push-images puts an image: below registry, by tag (or
// by digest when the reference has no tag).
func Target(img Image, registry string) string {
	r := ImageRef{Host: strings.TrimSuffix(registry, "/"), Path: img.Path, Tag: img.Tag}
	if r.Tag == "" {
		r.Digest = img.Digest
	}
	return r.String()
}

// PushImages pushes every image of the bundle to the registry, keeping
// digests. Blobs and manifests the registry already has are not sent
// again. A bundle file is checked and its image layout unpacked to a
// temporary folder first (streamed; the images are never held in memory).
func PushImages(ctx context.Context, opts PushOptions) (*PushReport, error) {
	dir := opts.Bundle
	var m *Manifest
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
		if err != nil {
			return nil, fmt.Errorf("%s is not an extracted bundle: %w", dir, err)
		}
		if m, err = DecodeManifest(data); err != nil {
			return nil, err
		}
	} else {
		tmp, err := os.MkdirTemp(opts.TempDir, "otomi-bundle-push-*")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = filepath.Join(tmp, "bundle")
		ex := ExtractOptions{ReadOptions: opts.ReadOptions, Dir: dir, Files: func(f File) bool {
			return strings.HasPrefix(f.Path, ImagesDir+"/")
		}}
		h, err := Extract(ctx, ex)
		if err != nil {
			return nil, err
		}
		m = h.Manifest
	}
	idx, err := layout.ImageIndexFromPath(filepath.Join(dir, ImagesDir))
	if err != nil {
		return nil, err
	}
	base := opts.Transport
	if base == nil {
		base = remote.DefaultTransport
	}
	ct := &countingTransport{base: base}
	ropts := append([]remote.Option{remote.WithContext(ctx), remote.WithTransport(ct)}, opts.Remote...)
	if opts.Jobs > 0 {
		ropts = append(ropts, remote.WithJobs(opts.Jobs))
	}
	rep := &PushReport{}
	var fails []ImageFailure
	p := Progress{Phase: "push", Total: len(m.Images)}
	for _, img := range m.Images {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		target := Target(img, opts.Registry)
		p.Item = target
		if opts.Progress != nil {
			p.DoneBytes = ct.bytes.Load()
			opts.Progress(p)
		}
		if err := pushOne(idx, img, target, ropts, opts.Name); err != nil {
			fails = append(fails, ImageFailure{Ref: target, Err: err})
			continue
		}
		rep.Images = append(rep.Images, PushedImage{Ref: img.Ref, Target: target, Digest: img.Digest})
		p.Done++
	}
	rep.Uploaded, rep.Bytes = ct.blobs.Load(), ct.bytes.Load()
	if len(fails) > 0 {
		return rep, &ImageErrors{What: "could not be pushed", Failures: fails}
	}
	return rep, nil
}

func pushOne(idx v1.ImageIndex, img Image, target string, ropts []remote.Option, nopts []name.Option) error {
	ref, err := name.ParseReference(target, nopts...)
	if err != nil {
		return err
	}
	h, err := v1.NewHash(img.Digest)
	if err != nil {
		return err
	}
	if strings.Contains(img.MediaType, "index") || strings.Contains(img.MediaType, "manifest.list") {
		child, err := idx.ImageIndex(h)
		if err != nil {
			return err
		}
		err = remote.WriteIndex(ref, child, ropts...)
		if err != nil {
			return err
		}
	} else {
		child, err := idx.Image(h)
		if err != nil {
			return err
		}
		if err := remote.Write(ref, child, ropts...); err != nil {
			return err
		}
	}
	got, err := remote.Head(ref, ropts...)
	if err != nil {
		return fmt.Errorf("check after push: %w", err)
	}
	if got.Digest.String() != img.Digest {
		return fmt.Errorf("the registry has digest %s, the bundle %s", got.Digest, img.Digest)
	}
	return nil
}

// countingTransport counts the blobs uploaded and the bytes sent for them.
type countingTransport struct {
	base  http.RoundTripper
	blobs atomic.Int64
	bytes atomic.Int64
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	upload := strings.Contains(req.URL.Path, "/blobs/uploads/")
	if upload && req.Body != nil && (req.Method == http.MethodPatch || req.Method == http.MethodPut || req.Method == http.MethodPost) {
		req.Body = &countingBody{ReadCloser: req.Body, n: &t.bytes}
	}
	resp, err := t.base.RoundTrip(req)
	if err == nil && upload && req.Method == http.MethodPut && resp.StatusCode == http.StatusCreated {
		t.blobs.Add(1)
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
