package secrets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"

	"github.com/otomi/otomi/pkg/values"
)

// StoredFile is a values file as it is on disk, with its content read
// (decrypted in memory for an encrypted file).
type StoredFile struct {
	Data      []byte
	Tree      map[string]any
	Encrypted bool
}

// Stored returns the files of a loaded repo with their bytes on disk.
func Stored(v *values.Values) (map[string]StoredFile, error) {
	out := map[string]StoredFile{}
	for _, s := range v.Sources {
		data, err := os.ReadFile(filepath.Join(v.Repo.Root, filepath.FromSlash(s.File.Path)))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", s.File.Path, err)
		}
		out[s.File.Path] = StoredFile{Data: data, Tree: s.Tree, Encrypted: s.File.Encrypted}
	}
	return out, nil
}

// Action says what a write does to a file.
type Action string

// Actions of a FileWrite.
const (
	Create    Action = "created"
	Update    Action = "updated"
	Remove    Action = "removed"
	Unchanged Action = "unchanged"
)

// FileWrite is one file to write (or remove), relative to the repo root.
type FileWrite struct {
	Path   string
	Data   []byte
	Perm   fs.FileMode
	Action Action
	// Secret marks an encrypted secrets file: Data is ciphertext.
	Secret bool
}

// RuleSource returns the creation rule for a file path relative to the root.
type RuleSource func(rel string) (*Rule, error)

// PlanValues returns what turns the stored values files into fr. A file
// whose values did not change keeps its bytes (an encrypted one also its
// ciphertext, unless its keys changed), so writing twice changes nothing.
// A secrets file is encrypted in memory: its plaintext never reaches disk.
func PlanValues(ctx context.Context, codec Codec, rules RuleSource, root string, stored map[string]StoredFile, fr values.Fragments) ([]FileWrite, error) {
	var out []FileWrite
	for _, p := range fr.Paths() {
		f, err := values.CheckPath(p)
		if err != nil {
			return nil, err
		}
		tree := fr[p]
		old, existed := stored[p]
		action := Create
		if existed {
			action = Update
		}
		if existed && reflect.DeepEqual(old.Tree, tree) && old.Encrypted == f.Secret {
			keep := true
			if f.Secret {
				rule, err := rules(p)
				if err != nil {
					return nil, err
				}
				have, err := FileRecipients(old.Data)
				keep = err == nil && slices.Equal(have, rule.Recipients())
			}
			if keep {
				out = append(out, FileWrite{Path: p, Data: old.Data, Perm: 0o644, Action: Unchanged, Secret: f.Secret})
				continue
			}
		}
		var plain []byte
		if existed && !old.Encrypted && !f.Secret {
			plain, err = values.EncodeOver(old.Data, tree)
		} else {
			plain, err = values.Encode(tree)
		}
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", p, err)
		}
		if !f.Secret {
			out = append(out, FileWrite{Path: p, Data: plain, Perm: 0o644, Action: action})
			continue
		}
		rule, err := rules(p)
		if err != nil {
			return nil, err
		}
		enc, err := codec.Encrypt(ctx, rule, filepath.Join(root, filepath.FromSlash(p)), plain)
		if err != nil {
			return nil, fmt.Errorf("encrypt %s: %w", p, err)
		}
		out = append(out, FileWrite{Path: p, Data: enc, Perm: 0o644, Action: action, Secret: true})
	}
	var gone []string
	for p := range stored {
		if _, ok := fr[p]; !ok {
			gone = append(gone, p)
		}
	}
	sort.Strings(gone)
	for _, p := range gone {
		out = append(out, FileWrite{Path: p, Action: Remove})
	}
	return out, nil
}

// Disk is what a Tx writes through; OSDisk is the real one.
type Disk interface {
	// WriteFile replaces path with data atomically.
	WriteFile(path string, data []byte, perm fs.FileMode) error
	Remove(path string) error
	Mkdir(path string, perm fs.FileMode) error
}

// OSDisk writes to the operating system's file system.
type OSDisk struct{}

// WriteFile writes through a temporary file and a rename.
func (OSDisk) WriteFile(path string, data []byte, perm fs.FileMode) error {
	return WriteFileAtomic(path, data, perm)
}

// Remove removes a file or an empty folder.
func (OSDisk) Remove(path string) error { return os.Remove(path) }

// Mkdir creates one folder.
func (OSDisk) Mkdir(path string, perm fs.FileMode) error { return os.Mkdir(path, perm) }

// Tx writes files and folders and can undo everything it did, so that a
// failure half-way leaves the disk as it was.
type Tx struct {
	Disk Disk
	undo []func() error
}

// NewTx starts a transaction on disk (OSDisk when nil).
func NewTx(disk Disk) *Tx {
	if disk == nil {
		disk = OSDisk{}
	}
	return &Tx{Disk: disk}
}

// MkdirAll creates path and its missing parents.
func (t *Tx) MkdirAll(path string, perm fs.FileMode) error {
	st, err := os.Stat(path)
	if err == nil {
		if !st.IsDir() {
			return fmt.Errorf("%s exists and is not a directory", path)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if parent := filepath.Dir(path); parent != path {
		if err := t.MkdirAll(parent, perm); err != nil {
			return err
		}
	}
	if err := t.Disk.Mkdir(path, perm); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	t.undo = append(t.undo, func() error { return t.Disk.Remove(path) })
	return nil
}

// WriteFile writes data to path, creating its folder.
func (t *Tx) WriteFile(path string, data []byte, perm fs.FileMode) error {
	if err := t.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	restore, err := t.snapshot(path)
	if err != nil {
		return err
	}
	if err := t.Disk.WriteFile(path, data, perm); err != nil {
		return err
	}
	t.undo = append(t.undo, restore)
	return nil
}

// Remove removes the file at path, if any.
func (t *Tx) Remove(path string) error {
	restore, err := t.snapshot(path)
	if err != nil {
		return err
	}
	if err := t.Disk.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	t.undo = append(t.undo, restore)
	return nil
}

// snapshot returns what puts path back as it is now. A file's old content
// is ciphertext or plain values: no plaintext secret is held.
func (t *Tx) snapshot(path string) (func() error, error) {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return func() error {
			if err := t.Disk.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			return nil
		}, nil
	}
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	old, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	perm := st.Mode().Perm()
	return func() error { return t.Disk.WriteFile(path, old, perm) }, nil
}

// OnRollback registers an extra undo step (for work done outside the Tx).
func (t *Tx) OnRollback(fn func() error) { t.undo = append(t.undo, fn) }

// Rollback undoes everything, last first, and reports what could not be
// undone.
func (t *Tx) Rollback() error {
	var errs []error
	for i := len(t.undo) - 1; i >= 0; i-- {
		if err := t.undo[i](); err != nil {
			errs = append(errs, err)
		}
	}
	t.undo = nil
	return errors.Join(errs...)
}

// Apply writes (or removes) every file of writes that changes, below root.
// On an error the caller rolls the Tx back.
func (t *Tx) Apply(root string, writes []FileWrite) error {
	for _, w := range writes {
		full := filepath.Join(root, filepath.FromSlash(w.Path))
		switch w.Action {
		case Unchanged:
			continue
		case Remove:
			if err := t.Remove(full); err != nil {
				return err
			}
		default:
			if err := t.WriteFile(full, w.Data, w.Perm); err != nil {
				return err
			}
		}
	}
	return nil
}
