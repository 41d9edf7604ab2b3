package bundle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// ExtractOptions name the bundle and where it goes.
type ExtractOptions struct {
	ReadOptions
	// Dir receives the bundle; it must be empty or not exist.
	Dir string
	// Files, when set, selects the files to write (the others are still
	// checked); nil writes all.
	Files func(File) bool
}

// Extract unpacks a bundle into opts.Dir, checking every file against the
// manifest as it goes. On any failure (a checksum mismatch, a truncated
// bundle, a full disk) it removes what it wrote and says so. The folder
// then holds the otomi binary, the platform (use it with --platform-dir),
// bundle-values.yaml, the OCI layout images/ and the bundle's manifest.
//
// `otomi apply --bundle FILE` is Extract into a temporary folder followed
// by apply with that folder as the platform dir.
func Extract(ctx context.Context, opts ExtractOptions) (*Head, error) {
	o, err := open(opts.ReadOptions)
	if err != nil {
		return nil, err
	}
	defer o.close()
	dir := opts.Dir
	created, err := prepareDir(dir)
	if err != nil {
		return nil, err
	}
	cleanup := func(err error) error {
		if created {
			os.RemoveAll(dir)
		} else if entries, rerr := os.ReadDir(dir); rerr == nil {
			for _, e := range entries {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
		if errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("the disk is full: %w; removed the partial extraction from %s", err, dir)
		}
		return fmt.Errorf("%w; removed the partial extraction from %s", err, dir)
	}
	err = o.walk(ctx, func(f File, r io.Reader) error {
		if opts.Files != nil && !opts.Files(f) {
			return nil
		}
		mode := os.FileMode(0o644)
		if f.Mode != 0 {
			mode = os.FileMode(f.Mode) & 0o777
		}
		return writeFile(filepath.Join(dir, filepath.FromSlash(f.Path)), r, mode)
	})
	if err == nil {
		// The manifest last: a folder holding bundle.json is complete.
		h := o.head
		files := map[string][]byte{ChecksumFile: []byte(h.SHA256 + "  " + ManifestFile + "\n"), ManifestFile: h.Raw}
		if h.Signature != nil {
			files[SignatureFile] = h.Signature
		}
		for _, name := range []string{SignatureFile, ChecksumFile, ManifestFile} {
			if data, ok := files[name]; ok && err == nil {
				err = os.WriteFile(filepath.Join(dir, name), data, 0o644)
			}
		}
	}
	if err != nil {
		return nil, cleanup(err)
	}
	return o.head, nil
}

// prepareDir makes sure dir exists and is empty; created tells whether it
// made it.
func prepareDir(dir string) (created bool, err error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return true, os.MkdirAll(dir, 0o755)
	case err != nil:
		return false, err
	case len(entries) > 0:
		return false, fmt.Errorf("%s is not empty: extract into a new or empty folder", dir)
	}
	return false, nil
}
