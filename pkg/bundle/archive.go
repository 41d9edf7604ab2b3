package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// archiveWriter writes the tar stream, zstd-compressed. Entries carry a
// fixed time and no owner, so equal input gives an equal archive.
type archiveWriter struct {
	zw *zstd.Encoder
	tw *tar.Writer
}

func newArchiveWriter(w io.Writer) (*archiveWriter, error) {
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
	if err != nil {
		return nil, err
	}
	return &archiveWriter{zw: zw, tw: tar.NewWriter(zw)}, nil
}

// add writes one file of exactly size bytes from r and returns its sha256.
func (a *archiveWriter) add(ctx context.Context, name string, mode, size int64, r io.Reader) (string, error) {
	if mode == 0 {
		mode = 0o644
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: mode, ModTime: time.Unix(0, 0).UTC(), Format: tar.FormatPAX}
	if err := a.tw.WriteHeader(hdr); err != nil {
		return "", err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(a.tw, h), ctxReader{ctx, r})
	if err != nil {
		return "", err
	}
	if n != size {
		return "", fmt.Errorf("%s: got %d bytes, want %d", name, n, size)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (a *archiveWriter) addBytes(ctx context.Context, name string, data []byte) error {
	_, err := a.add(ctx, name, 0o644, int64(len(data)), bytes.NewReader(data))
	return err
}

func (a *archiveWriter) Close() error {
	if err := a.tw.Close(); err != nil {
		return err
	}
	return a.zw.Close()
}

// archiveReader reads a bundle entry by entry.
type archiveReader struct {
	path string
	f    *os.File
	zr   *zstd.Decoder
	tr   *tar.Reader
	// last is the name of the last entry read (for errors).
	last string
	// pending is a header read ahead (the first file of an unsigned bundle).
	pending *tar.Header
}

func openArchive(path string) (*archiveReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(2), zstd.WithDecoderLowmem(true))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &archiveReader{path: path, f: f, zr: zr, tr: tar.NewReader(zr)}, nil
}

func (a *archiveReader) Close() {
	a.zr.Close()
	a.f.Close()
}

// next returns the next regular file; io.EOF at the end.
func (a *archiveReader) next() (*tar.Header, error) {
	if a.pending != nil {
		hdr := a.pending
		a.pending = nil
		return hdr, nil
	}
	for {
		hdr, err := a.tr.Next()
		if err == io.EOF {
			return nil, io.EOF
		}
		if err != nil {
			return nil, a.readError(err)
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			a.last = hdr.Name
			return hdr, nil
		case tar.TypeDir:
			continue
		default:
			return nil, fmt.Errorf("%s: %s: not a regular file (type %q): not an otomi bundle", a.path, hdr.Name, hdr.Typeflag)
		}
	}
}

// readError explains a failed read: a truncated or corrupted archive.
func (a *archiveReader) readError(err error) error {
	where := "at its start"
	if a.last != "" {
		where = "after " + a.last
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: truncated %s: %w", a.path, where, err)
	}
	return fmt.Errorf("%s: corrupted %s: %w", a.path, where, err)
}

// Head is what a bundle starts with: its manifest, the manifest's own
// checksum and, when signed, its signature.
type Head struct {
	Manifest *Manifest
	// Raw is bundle.json as stored (what the signature covers).
	Raw []byte
	// SHA256 of Raw: the bundle's identity (an incremental bundle names
	// its base by it).
	SHA256    string
	Signature []byte
}

const maxHeadFile = 64 << 20

// readHead reads the head entries of an open archive.
func readHead(a *archiveReader) (*Head, error) {
	head := &Head{}
	var sum []byte
	for i := 0; i < 3; i++ {
		hdr, err := a.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if hdr.Size > maxHeadFile {
			return nil, fmt.Errorf("%s: %s too large", a.path, hdr.Name)
		}
		want := []string{ManifestFile, ChecksumFile, SignatureFile}[i]
		if hdr.Name != want {
			if i == 2 {
				// Unsigned: this is the first file; the caller reads it.
				return head.finish(a, sum, hdr)
			}
			return nil, fmt.Errorf("%s: starts with %s, want %s: not an otomi bundle", a.path, hdr.Name, want)
		}
		data, err := io.ReadAll(a.tr)
		if err != nil {
			return nil, a.readError(err)
		}
		switch i {
		case 0:
			head.Raw = data
		case 1:
			sum = data
		case 2:
			head.Signature = data
		}
	}
	return head.finish(a, sum, nil)
}

func (h *Head) finish(a *archiveReader, sum []byte, pending *tar.Header) (*Head, error) {
	if h.Raw == nil {
		return nil, fmt.Errorf("%s: no %s: not an otomi bundle", a.path, ManifestFile)
	}
	h.SHA256 = sha256Hex(h.Raw)
	want, _, _ := strings.Cut(strings.TrimSpace(string(sum)), " ")
	if want != h.SHA256 {
		return nil, fmt.Errorf("%s: checksum mismatch: %s says sha256 %s, the manifest has %s (the manifest is corrupted)", ManifestFile, ChecksumFile, short(want), short(h.SHA256))
	}
	m, err := DecodeManifest(h.Raw)
	if err != nil {
		return nil, err
	}
	h.Manifest = m
	a.pending = pending
	return h, nil
}

func short(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	if s == "" {
		return "(none)"
	}
	return s
}

// ReadHead reads the head of the bundle at path: manifest (checksum
// checked), signature. It reads no further.
func ReadHead(path string) (*Head, error) {
	a, err := openArchive(path)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	return readHead(a)
}

// ctxReader stops a long copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
