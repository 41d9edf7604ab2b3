// Package platform locates the platform otomi deploys (helmfile.d, charts,
// templates): a folder given by the user, or the copy embedded in the
// binary, written once to a cache folder keyed by its content.
package platform

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// HelmfileDir is the platform's helmfile folder, relative to its root.
const HelmfileDir = "helmfile.d"

// Dir returns the root of the platform: override when set (it must hold
// helmfile.d/), otherwise the embedded platform materialised under
// cacheDir (read-only platform files; no values, no secrets).
func Dir(override string, embedded fs.FS, cacheDir string) (string, error) {
	if override != "" {
		abs, err := filepath.Abs(override)
		if err != nil {
			return "", err
		}
		if st, err := os.Stat(filepath.Join(abs, HelmfileDir)); err != nil || !st.IsDir() {
			return "", fmt.Errorf("platform dir %s holds no %s/ folder", override, HelmfileDir)
		}
		return abs, nil
	}
	sum, err := digest(embedded)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cacheDir, "platform", sum[:16])
	if st, err := os.Stat(filepath.Join(dir, HelmfileDir)); err == nil && st.IsDir() {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("platform cache: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".extract-*")
	if err != nil {
		return "", fmt.Errorf("platform cache: %w", err)
	}
	if err := extract(embedded, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("platform cache: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		// Another process extracted the same content first.
		if st, serr := os.Stat(filepath.Join(dir, HelmfileDir)); serr == nil && st.IsDir() {
			return dir, nil
		}
		return "", fmt.Errorf("platform cache: %w", err)
	}
	return dir, nil
}

// CacheDir is where the embedded platform is written: $XDG_CACHE_HOME/otomi
// (or the OS's user cache folder), falling back to the temp folder.
func CacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "otomi")
	}
	return filepath.Join(os.TempDir(), "otomi-cache")
}

func digest(fsys fs.FS) (string, error) {
	var paths []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if len(paths) == 0 {
		return "", errors.New("the binary carries no platform files")
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func extract(fsys fs.FS, dst string) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dst, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := fsys.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
