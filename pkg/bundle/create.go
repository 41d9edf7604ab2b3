package bundle

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"sigs.k8s.io/yaml"
)

// PlatformFiles are the top-level names of the platform a bundle carries.
var PlatformFiles = []string{"charts", "helmfile.d", "templates", "policies", "values-schema.yaml", "values-changes.yaml", "values-changes.schema.yaml"}

// CreateOptions say what goes into a bundle.
type CreateOptions struct {
	// Binary is the otomi binary to carry.
	Binary string
	// Platform holds the platform files (PlatformFiles).
	Platform fs.FS
	// Values is bundle-values.yaml: the non-secret values the image list
	// was rendered with.
	Values []byte
	// Images are the references to pull, as the rendered platform names them.
	Images []string
	// Registry is otomi.imageRegistry of the values the images were
	// rendered with: the part of each reference that is not its path.
	Registry string
	// Apps is "all" or "enabled" (recorded in the manifest).
	Apps string
	// Platforms of multi-arch images to keep ("linux/amd64"); none: all.
	Platforms []string
	// RequireDigests refuses references not pinned by digest.
	RequireDigests bool
	// SignKey signs bundle.json when set.
	SignKey ed25519.PrivateKey
	// Base makes an incremental bundle: files the base carries are left out.
	Base *Head
	// Remote and Name are the registry client's options (auth, transport,
	// insecure registries).
	Remote []remote.Option
	Name   []name.Option
	// Jobs is how many images are resolved at once (default 4).
	Jobs     int
	Version  string
	Commit   string
	Created  time.Time
	Progress func(Progress)
}

// Progress reports bytes written of the total.
type Progress struct {
	Phase            string
	Done, Total      int
	DoneBytes, Bytes int64
	Item             string
}

// ImageFailure is an image that could not be pulled or is not acceptable.
type ImageFailure struct {
	Ref string
	Err error
}

// ImageErrors lists every image that failed, not only the first.
type ImageErrors struct {
	What     string
	Failures []ImageFailure
}

func (e *ImageErrors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of the platform's images %s:", len(e.Failures), e.What)
	for _, f := range e.Failures {
		fmt.Fprintf(&b, "\n  %s: %v", f.Ref, f.Err)
	}
	return b.String()
}

// blob is one blob of the layout: small ones (manifests, configs) held,
// layers opened when written.
type blob struct {
	digest    string
	size      int64
	mediaType string
	kind      string
	data      []byte
	open      func() (io.ReadCloser, error)
	ref       string
}

type resolved struct {
	image Image
	blobs []blob
}

// CreateFile writes the bundle to path, through a temporary file renamed
// at the end: a failed create leaves nothing behind.
func CreateFile(ctx context.Context, path string, opts CreateOptions) (*Manifest, error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return nil, err
	}
	m, err := Create(ctx, tmp, opts)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return nil, err
	}
	return m, nil
}

// Create pulls every image and writes the bundle to w. It fails before
// writing anything when an image cannot be pulled (listing all of them) or,
// with RequireDigests, is not pinned by digest.
func Create(ctx context.Context, w io.Writer, opts CreateOptions) (*Manifest, error) {
	if opts.Apps == "" {
		opts.Apps = "all"
	}
	specs, err := parsePlatforms(opts.Platforms)
	if err != nil {
		return nil, err
	}
	refs := uniqueSorted(opts.Images)
	if opts.RequireDigests {
		var fails []ImageFailure
		for _, r := range refs {
			if !ParseImageRef(r).Pinned() {
				fails = append(fails, ImageFailure{Ref: r, Err: fmt.Errorf("not pinned by digest (@sha256:...)")})
			}
		}
		if len(fails) > 0 {
			return nil, &ImageErrors{What: "are not pinned by digest (--require-digests)", Failures: fails}
		}
	}
	images, err := resolveAll(ctx, refs, specs, opts)
	if err != nil {
		return nil, err
	}

	m := &Manifest{
		APIVersion: APIVersion, OtomiVersion: opts.Version, OtomiCommit: opts.Commit,
		Created: opts.Created.UTC().Format(time.RFC3339), Apps: opts.Apps, Registry: opts.Registry, Platforms: opts.Platforms,
	}
	if opts.Created.IsZero() {
		m.Created = time.Now().UTC().Format(time.RFC3339)
	}
	type source struct {
		file File
		open func() (io.ReadCloser, error)
	}
	var sources []source
	addBytes := func(p, kind string, data []byte) {
		sources = append(sources, source{File{Path: p, Size: int64(len(data)), SHA256: sha256Hex(data), Kind: kind}, func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}})
	}

	// The binary.
	bin, err := hashFile(opts.Binary)
	if err != nil {
		return nil, fmt.Errorf("otomi binary: %w", err)
	}
	bin.Path, bin.Kind, bin.Mode = BinaryFile, KindBinary, 0o755
	sources = append(sources, source{bin, func() (io.ReadCloser, error) { return os.Open(opts.Binary) }})

	// The platform.
	charts, err := platformFiles(opts.Platform, func(p string, data []byte) { addBytes(p, KindPlatform, data) })
	if err != nil {
		return nil, err
	}
	m.Charts = charts
	addBytes(ValuesFile, KindValues, opts.Values)

	// The images: oci-layout, index.json, blobs once each.
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	seen := map[string]bool{}
	var blobs []blob
	for _, r := range images {
		m.Images = append(m.Images, r.image)
		index.Manifests = append(index.Manifests, v1.Descriptor{
			MediaType: types.MediaType(r.image.MediaType), Size: r.image.Size, Digest: mustHash(r.image.Digest),
			Annotations: map[string]string{refNameAnnotion: r.image.Ref, "io.containerd.image.name": r.image.Ref},
		})
		for _, b := range r.blobs {
			if !seen[b.digest] {
				seen[b.digest] = true
				blobs = append(blobs, b)
			}
		}
	}
	indexJSON, err := json.MarshalIndent(index, "", "  ")
	if err != nil {
		return nil, err
	}
	addBytes(path.Join(ImagesDir, "oci-layout"), KindLayout, []byte(`{"imageLayoutVersion":"1.0.0"}`))
	addBytes(path.Join(ImagesDir, "index.json"), KindLayout, indexJSON)
	var total int64
	for _, b := range blobs {
		b := b
		f := File{Path: BlobPath(b.digest), Size: b.size, SHA256: strings.TrimPrefix(b.digest, "sha256:"), Kind: b.kind}
		open := b.open
		if b.data != nil {
			data := b.data
			open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		}
		sources = append(sources, source{f, open})
	}

	// Incremental: leave out what the base carries.
	if opts.Base != nil {
		bm := opts.Base.Manifest
		m.Base = &Base{SHA256: opts.Base.SHA256, OtomiVersion: bm.OtomiVersion, Created: bm.Created}
		carried := map[string]string{}
		for _, f := range bm.Carried() {
			carried[f.Path] = f.SHA256
		}
		for i := range sources {
			if carried[sources[i].file.Path] == sources[i].file.SHA256 {
				sources[i].file.InBase = true
			}
		}
	}
	for _, s := range sources {
		m.Files = append(m.Files, s.file)
		if !s.file.InBase {
			total += s.file.Size
		}
	}
	sortFiles(m.Files)
	raw, err := m.Encode()
	if err != nil {
		return nil, err
	}

	aw, err := newArchiveWriter(w)
	if err != nil {
		return nil, err
	}
	if err := aw.addBytes(ctx, ManifestFile, raw); err != nil {
		return nil, err
	}
	if err := aw.addBytes(ctx, ChecksumFile, []byte(sha256Hex(raw)+"  "+ManifestFile+"\n")); err != nil {
		return nil, err
	}
	if opts.SignKey != nil {
		if err := aw.addBytes(ctx, SignatureFile, ed25519.Sign(opts.SignKey, raw)); err != nil {
			return nil, err
		}
	}
	p := Progress{Phase: "write", Total: len(sources), Bytes: total}
	for _, s := range sources {
		if s.file.InBase {
			p.Done++
			continue
		}
		p.Item = s.file.Path
		if opts.Progress != nil {
			opts.Progress(p)
		}
		rc, err := s.open()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.file.Path, err)
		}
		sum, err := aw.add(ctx, s.file.Path, s.file.Mode, s.file.Size, &progressReader{r: rc, p: &p, fn: opts.Progress})
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", s.file.Path, err)
		}
		if sum != s.file.SHA256 {
			return nil, &ChecksumError{Bundle: "the pulled content", Path: s.file.Path, Want: s.file.SHA256, Got: sum}
		}
		p.Done++
	}
	if opts.Progress != nil {
		p.Item = ""
		opts.Progress(p)
	}
	if err := aw.Close(); err != nil {
		return nil, err
	}
	return m, nil
}

type progressReader struct {
	r    io.Reader
	p    *Progress
	fn   func(Progress)
	last time.Time
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.p.DoneBytes += int64(n)
	if r.fn != nil && time.Since(r.last) > 100*time.Millisecond {
		r.last = time.Now()
		r.fn(*r.p)
	}
	return n, err
}

func hashFile(p string) (File, error) {
	f, err := os.Open(p)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, err
	}
	return File{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// platformFiles passes every platform file to add and returns the charts.
func platformFiles(fsys fs.FS, add func(p string, data []byte)) ([]Chart, error) {
	var charts []Chart
	for _, top := range PlatformFiles {
		st, err := fs.Stat(fsys, top)
		if err != nil {
			if os.IsNotExist(err) && top != "helmfile.d" && top != "charts" {
				continue
			}
			return nil, fmt.Errorf("platform: %w", err)
		}
		if !st.IsDir() {
			data, err := fs.ReadFile(fsys, top)
			if err != nil {
				return nil, err
			}
			add(top, data)
			continue
		}
		err = fs.WalkDir(fsys, top, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			add(p, data)
			if dir, file := path.Split(p); file == "Chart.yaml" && path.Dir(path.Clean(dir)) == "charts" {
				var c Chart
				if err := yaml.Unmarshal(data, &c); err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
				charts = append(charts, c)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("platform: %w", err)
		}
	}
	sort.Slice(charts, func(i, j int) bool { return charts[i].Name < charts[j].Name })
	return charts, nil
}

func uniqueSorted(in []string) []string {
	set := map[string]bool{}
	var out []string
	for _, s := range in {
		if s != "" && !set[s] {
			set[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func parsePlatforms(in []string) ([]v1.Platform, error) {
	var out []v1.Platform
	for _, s := range in {
		p, err := v1.ParsePlatform(s)
		if err != nil {
			return nil, fmt.Errorf("platform %q: %w", s, err)
		}
		out = append(out, *p)
	}
	return out, nil
}

func mustHash(s string) v1.Hash {
	h, err := v1.NewHash(s)
	if err != nil {
		panic(err)
	}
	return h
}

// resolveAll fetches the manifests and configs of every image, a few at a
// time, and lists every image that fails.
func resolveAll(ctx context.Context, refs []string, specs []v1.Platform, opts CreateOptions) ([]*resolved, error) {
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	out := make([]*resolved, len(refs))
	errs := make([]error, len(refs))
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for i, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = resolve(ctx, ref, specs, opts)
			mu.Lock()
			done++
			if opts.Progress != nil {
				opts.Progress(Progress{Phase: "resolve", Done: done, Total: len(refs), Item: ref})
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var fails []ImageFailure
	for i, err := range errs {
		if err != nil {
			fails = append(fails, ImageFailure{Ref: refs[i], Err: err})
		}
	}
	if len(fails) > 0 {
		return nil, &ImageErrors{What: "cannot be pulled", Failures: fails}
	}
	return out, nil
}
