package bundle

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
)

// ChecksumError is a file whose content does not match the manifest.
type ChecksumError struct {
	Bundle, Path, Want, Got string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s: checksum mismatch in %s: the manifest says sha256 %s, the file has %s", e.Path, e.Bundle, short(e.Want), short(e.Got))
}

// opened is a bundle (and its base) with their heads read.
type opened struct {
	head, baseHead *Head
	a, base        *archiveReader
}

// ReadOptions name the bundle to read.
type ReadOptions struct {
	Bundle string
	// Base is the base bundle of an incremental bundle.
	Base string
	// PublicKey, when set, must have signed the bundle.
	PublicKey ed25519.PublicKey
}

// open reads the heads: the manifest's checksum, the signature when a key
// is given, and the base when the bundle is incremental.
func open(opts ReadOptions) (*opened, error) {
	a, err := openArchive(opts.Bundle)
	if err != nil {
		return nil, err
	}
	o := &opened{a: a}
	if o.head, err = readHead(a); err != nil {
		o.close()
		return nil, err
	}
	if opts.PublicKey != nil {
		if err := checkSignature(opts.PublicKey, o.head.Raw, o.head.Signature); err != nil {
			o.close()
			return nil, err
		}
	}
	m := o.head.Manifest
	if !m.Incremental() {
		return o, nil
	}
	if opts.Base == "" {
		o.close()
		return nil, fmt.Errorf("%s is an incremental bundle of the bundle with manifest sha256 %s (otomi %s, created %s): %w; give it with --base OLD_BUNDLE",
			opts.Bundle, short(m.Base.SHA256), m.Base.OtomiVersion, m.Base.Created, ErrBaseRequired)
	}
	if o.base, err = openArchive(opts.Base); err != nil {
		o.close()
		return nil, err
	}
	if o.baseHead, err = readHead(o.base); err != nil {
		o.close()
		return nil, fmt.Errorf("base %w", err)
	}
	if o.baseHead.SHA256 != m.Base.SHA256 {
		o.close()
		return nil, fmt.Errorf("%s is not the base of %s: its manifest has sha256 %s, the bundle wants %s", opts.Base, opts.Bundle, short(o.baseHead.SHA256), short(m.Base.SHA256))
	}
	return o, nil
}

func (o *opened) close() {
	if o.a != nil {
		o.a.Close()
	}
	if o.base != nil {
		o.base.Close()
	}
}

// sink receives each file of the bundle, in archive order (the base's
// first). It need not read r to the end.
type sink func(f File, r io.Reader) error

// walk streams every file of the bundle (and the files it takes from its
// base) to fn, checking each against the manifest; it fails naming the
// first file that differs and lists the files that are missing.
func (o *opened) walk(ctx context.Context, fn sink) error {
	m := o.head.Manifest
	got := map[string]bool{}
	if o.base != nil {
		baseFiles := map[string]File{}
		for _, f := range o.baseHead.Manifest.Carried() {
			baseFiles[f.Path] = f
		}
		take := map[string]File{}
		for _, f := range m.Files {
			if !f.InBase {
				continue
			}
			if bf, ok := baseFiles[f.Path]; !ok || bf.SHA256 != f.SHA256 {
				return fmt.Errorf("%s: the base bundle %s does not carry it", f.Path, o.base.path)
			}
			take[f.Path] = f
		}
		if err := walkArchive(ctx, o.base, baseFiles, take, fn, got); err != nil {
			return err
		}
	}
	carried := map[string]File{}
	for _, f := range m.Carried() {
		carried[f.Path] = f
	}
	if err := walkArchive(ctx, o.a, carried, carried, fn, got); err != nil {
		return err
	}
	var missing []string
	for _, f := range m.Files {
		if !got[f.Path] {
			missing = append(missing, f.Path)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		more := ""
		if len(missing) > 10 {
			more = fmt.Sprintf(" and %d more", len(missing)-10)
			missing = missing[:10]
		}
		return fmt.Errorf("%s: truncated or incomplete: %d files of its manifest are missing: %s%s", o.a.path, len(missing), strings.Join(missing, ", "), more)
	}
	return nil
}

func walkArchive(ctx context.Context, a *archiveReader, described, take map[string]File, fn sink, got map[string]bool) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := a.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if _, ok := described[hdr.Name]; !ok {
			return fmt.Errorf("%s: %s is not in the bundle's manifest", a.path, hdr.Name)
		}
		f, ok := take[hdr.Name]
		if !ok {
			if _, err := io.Copy(io.Discard, ctxReader{ctx, a.tr}); err != nil {
				return a.readError(err)
			}
			continue
		}
		if got[hdr.Name] {
			return fmt.Errorf("%s: %s appears twice", a.path, hdr.Name)
		}
		h := sha256.New()
		r := io.TeeReader(&entryReader{ctx: ctx, a: a}, h)
		if err := fn(f, r); err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
		if sum := hex.EncodeToString(h.Sum(nil)); sum != f.SHA256 || hdr.Size != f.Size {
			return &ChecksumError{Bundle: a.path, Path: hdr.Name, Want: f.SHA256, Got: sum}
		}
		got[hdr.Name] = true
	}
}

// entryReader reads the current entry, explaining a failed read.
type entryReader struct {
	ctx context.Context
	a   *archiveReader
}

func (r *entryReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := r.a.tr.Read(p)
	if err != nil && err != io.EOF {
		err = r.a.readError(err)
	}
	return n, err
}
