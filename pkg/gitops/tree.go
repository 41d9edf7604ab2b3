package gitops

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// entry is a file of a tree: its blob (or gitlink) and mode. A zero hash
// means the file is absent.
type entry struct {
	hash plumbing.Hash
	mode filemode.FileMode
}

// fileChange is one path that differs between two trees.
type fileChange struct {
	path     string
	from, to entry
}

// files lists every non-tree entry of a commit's tree by path; an absent
// commit is the empty tree.
func files(s storer.EncodedObjectStorer, c *object.Commit) (map[string]entry, error) {
	out := map[string]entry{}
	if c == nil {
		return out, nil
	}
	tree, err := object.GetTree(s, c.TreeHash)
	if err != nil {
		return nil, err
	}
	w := object.NewTreeWalker(tree, true, nil)
	defer w.Close()
	for {
		name, e, err := w.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if e.Mode == filemode.Dir {
			continue
		}
		out[name] = entry{hash: e.Hash, mode: e.Mode}
	}
}

// treeChanges lists the paths that differ between two commits, sorted.
func treeChanges(s storer.EncodedObjectStorer, from, to *object.Commit) ([]fileChange, error) {
	a, err := files(s, from)
	if err != nil {
		return nil, err
	}
	b, err := files(s, to)
	if err != nil {
		return nil, err
	}
	return diffFiles(a, b), nil
}

func diffFiles(a, b map[string]entry) []fileChange {
	var out []fileChange
	for p, ea := range a {
		if eb := b[p]; eb != ea {
			out = append(out, fileChange{path: p, from: ea, to: eb})
		}
	}
	for p, eb := range b {
		if _, ok := a[p]; !ok {
			out = append(out, fileChange{path: p, to: eb})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// writeTree stores the tree holding exactly the given files and returns
// its hash.
func writeTree(s storer.EncodedObjectStorer, fs map[string]entry) (plumbing.Hash, error) {
	type dir struct {
		files map[string]entry
		dirs  map[string]*dir
	}
	newDir := func() *dir { return &dir{files: map[string]entry{}, dirs: map[string]*dir{}} }
	top := newDir()
	for p, e := range fs {
		if e.hash.IsZero() {
			continue
		}
		parts := strings.Split(p, "/")
		d := top
		for _, seg := range parts[:len(parts)-1] {
			sub, ok := d.dirs[seg]
			if !ok {
				sub = newDir()
				d.dirs[seg] = sub
			}
			d = sub
		}
		d.files[parts[len(parts)-1]] = e
	}
	var write func(d *dir) (plumbing.Hash, error)
	write = func(d *dir) (plumbing.Hash, error) {
		var t object.Tree
		for name, e := range d.files {
			t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: e.mode, Hash: e.hash})
		}
		for name, sub := range d.dirs {
			h, err := write(sub)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
		}
		// git orders entries by name, a tree's name followed by "/".
		key := func(e object.TreeEntry) string {
			if e.Mode == filemode.Dir {
				return e.Name + "/"
			}
			return e.Name
		}
		sort.Slice(t.Entries, func(i, j int) bool { return key(t.Entries[i]) < key(t.Entries[j]) })
		obj := s.NewEncodedObject()
		if err := t.Encode(obj); err != nil {
			return plumbing.ZeroHash, err
		}
		return s.SetEncodedObject(obj)
	}
	return write(top)
}

// checkout moves the current branch from commit from (zero in an empty
// repository) to commit to, updating only the work tree files that differ
// between the two, then the index. It refuses, touching nothing, when one
// of those files has local changes. Other files, untracked and ignored ones
// included, are left alone.
func (r *Repo) checkout(from, to plumbing.Hash) error {
	var fc, tc *object.Commit
	var err error
	if !from.IsZero() {
		if fc, err = r.git.CommitObject(from); err != nil {
			return err
		}
	}
	if tc, err = r.git.CommitObject(to); err != nil {
		return err
	}
	changes, err := treeChanges(r.git.Storer, fc, tc)
	if err != nil {
		return err
	}
	if len(changes) > 0 {
		st, err := r.wt.Status()
		if err != nil {
			return fmt.Errorf("git status: %w", err)
		}
		var dirty []string
		for _, c := range changes {
			if fs, ok := st[c.path]; ok && (fs.Worktree != git.Unmodified || fs.Staging != git.Unmodified) {
				dirty = append(dirty, c.path)
			}
		}
		if len(dirty) > 0 {
			return fmt.Errorf("local changes to %s would be overwritten: commit them (otomi push) or put them aside first", strings.Join(dirty, ", "))
		}
	}
	for _, c := range changes {
		if err := r.writeFile(c); err != nil {
			return err
		}
	}
	// Point the branch at the commit (Reset cannot do it for a branch that
	// does not exist yet), then the index at its tree.
	branch, err := r.Branch()
	if err != nil {
		return err
	}
	if err := r.git.Storer.SetReference(plumbing.NewHashReference(branch, to)); err != nil {
		return fmt.Errorf("update %s: %w", branch.Short(), err)
	}
	if err := r.wt.Reset(&git.ResetOptions{Commit: to, Mode: git.MixedReset}); err != nil {
		return fmt.Errorf("update the index: %w", err)
	}
	return nil
}

func (r *Repo) writeFile(c fileChange) error {
	full := r.Abs(c.path)
	if c.to.hash.IsZero() || c.to.mode == filemode.Submodule {
		if c.from.mode == filemode.Submodule {
			return nil
		}
		if err := os.Remove(full); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		// Drop the folders the removal emptied, as git does.
		for d := filepath.Dir(full); d != r.root && strings.HasPrefix(d, r.root); d = filepath.Dir(d) {
			if os.Remove(d) != nil {
				break
			}
		}
		return nil
	}
	blob, err := r.git.BlobObject(c.to.hash)
	if err != nil {
		return fmt.Errorf("read %s: %w", c.path, err)
	}
	rd, err := blob.Reader()
	if err != nil {
		return err
	}
	defer rd.Close()
	data, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	_ = os.Remove(full)
	if c.to.mode == filemode.Symlink {
		return os.Symlink(string(data), full)
	}
	perm := os.FileMode(0o644)
	if c.to.mode == filemode.Executable {
		perm = 0o755
	}
	if err := os.WriteFile(full, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path.Clean(c.path), err)
	}
	return nil
}

// descends reports whether commit next has old among its ancestors.
func descends(s storer.EncodedObjectStorer, old, next plumbing.Hash) (bool, error) {
	oc, err := object.GetCommit(s, old)
	if err != nil {
		return false, err
	}
	nc, err := object.GetCommit(s, next)
	if err != nil {
		return false, err
	}
	return oc.IsAncestor(nc)
}
