package gitops

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/otomi/otomi/pkg/gitops/gitnet"
)

// Repo is the git repository that holds a values repo. The values repo may
// be the whole work tree or a folder of it; only that folder is committed.
type Repo struct {
	git *git.Repository
	wt  *git.Worktree
	// root is the work tree; dir the values repo; prefix is dir relative
	// to root ("" or "sub/dir/"), slash-separated.
	root, dir, prefix string
}

// Open opens the git repository holding the values repo at dir.
func Open(dir string) (*Repo, error) {
	gitnet.InstallFileTransport()
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	g, err := git.PlainOpenWithOptions(abs, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("%s: %w", abs, ErrNotRepository)
	}
	if err != nil {
		return nil, fmt.Errorf("open git repository of %s: %w", abs, err)
	}
	return newRepo(g, abs)
}

// Init creates a git repository at dir whose first branch is branch.
func Init(dir, branch string) (*Repo, error) {
	gitnet.InstallFileTransport()
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	g, err := git.PlainInitWithOptions(abs, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(branch)},
	})
	if err != nil {
		return nil, fmt.Errorf("git init %s: %w", abs, err)
	}
	return newRepo(g, abs)
}

func newRepo(g *git.Repository, dir string) (*Repo, error) {
	wt, err := g.Worktree()
	if err != nil {
		return nil, fmt.Errorf("%s: a bare repository has no work tree to commit", dir)
	}
	root := wt.Filesystem.Root()
	rel, err := filepath.Rel(evalLinks(root), evalLinks(dir))
	if err != nil || strings.HasPrefix(rel, "..") {
		return nil, fmt.Errorf("%s is outside the work tree %s", dir, root)
	}
	prefix := ""
	if rel != "." {
		prefix = filepath.ToSlash(rel) + "/"
	}
	return &Repo{git: g, wt: wt, root: root, dir: dir, prefix: prefix}, nil
}

func evalLinks(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// Root returns the work tree's folder.
func (r *Repo) Root() string { return r.root }

func (r *Repo) gitDir() string {
	if fs, ok := r.git.Storer.(*filesystem.Storage); ok {
		return fs.Filesystem().Root()
	}
	return filepath.Join(r.root, git.GitDirName)
}

// Branch returns the branch HEAD names (it may not exist yet in an empty
// repository). A detached HEAD is ErrDetachedHead.
func (r *Repo) Branch() (plumbing.ReferenceName, error) {
	head, err := r.git.Storer.Reference(plumbing.HEAD)
	if err != nil {
		return "", fmt.Errorf("read HEAD: %w", err)
	}
	if head.Type() != plumbing.SymbolicReference {
		return "", fmt.Errorf("%w at %s: check out the branch to push (git switch main)", ErrDetachedHead, head.Hash().String()[:7])
	}
	if !head.Target().IsBranch() {
		return "", fmt.Errorf("HEAD points at %s, not a branch", head.Target())
	}
	return head.Target(), nil
}

// Head returns the commit of the current branch; ok is false in an empty
// repository.
func (r *Repo) Head() (hash plumbing.Hash, ok bool, err error) {
	branch, err := r.Branch()
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	ref, err := r.git.Storer.Reference(branch)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, false, nil
	}
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("read %s: %w", branch.Short(), err)
	}
	return ref.Hash(), true, nil
}

// Check refuses a repository that cannot take a commit safely: a detached
// HEAD, or an unfinished merge, rebase, cherry-pick or revert.
func (r *Repo) Check() error {
	if _, err := r.Branch(); err != nil {
		return err
	}
	gd := r.gitDir()
	state := ""
	for _, s := range []struct{ file, name string }{
		{"rebase-merge", "rebase"}, {"rebase-apply", "rebase"}, {"MERGE_HEAD", "merge"},
		{"CHERRY_PICK_HEAD", "cherry-pick"}, {"REVERT_HEAD", "revert"},
	} {
		if _, err := os.Stat(filepath.Join(gd, s.file)); err == nil {
			state = s.name
			break
		}
	}
	idx, err := r.git.Storer.Index()
	if err != nil {
		return fmt.Errorf("read the git index: %w", err)
	}
	var unmerged []string
	seen := map[string]bool{}
	for _, e := range idx.Entries {
		// Stage 0 is a merged entry (go-git's index.Merged constant is 1,
		// which is the ancestor's stage in git's format).
		if e.Stage != 0 && !seen[e.Name] {
			seen[e.Name] = true
			unmerged = append(unmerged, e.Name)
		}
	}
	if state == "" && len(unmerged) > 0 {
		state = "merge"
	}
	if state != "" {
		sort.Strings(unmerged)
		return &MergeStateError{State: state, Files: unmerged}
	}
	return nil
}

// Change is a file of the values repo that differs from HEAD.
type Change struct {
	// Path is relative to the work tree, slash-separated.
	Path string
	// Deleted is true when the file is gone from the work tree.
	Deleted bool
}

// Changes lists the files of the values repo that differ from HEAD, in
// the work tree or the index (untracked files included, ignored ones not).
func (r *Repo) Changes() ([]Change, error) {
	st, err := r.wt.Status()
	if err != nil {
		return nil, fmt.Errorf("git status: %w", err)
	}
	var out []Change
	for path, fs := range st {
		if !strings.HasPrefix(path, r.prefix) {
			continue
		}
		if fs.Worktree == git.Unmodified && fs.Staging == git.Unmodified {
			continue
		}
		_, err := os.Lstat(filepath.Join(r.root, filepath.FromSlash(path)))
		out = append(out, Change{Path: path, Deleted: errors.Is(err, os.ErrNotExist)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Abs returns the absolute path of a work tree path.
func (r *Repo) Abs(path string) string {
	return filepath.Join(r.root, filepath.FromSlash(path))
}

// Identity is a commit author.
type Identity struct{ Name, Email string }

// Commit stages changes and commits them with message as author (also the
// committer). ErrNothingToCommit when the index then equals HEAD.
func (r *Repo) Commit(changes []Change, message string, author Identity) (plumbing.Hash, error) {
	for _, c := range changes {
		var err error
		if c.Deleted {
			_, err = r.wt.Remove(c.Path)
		} else {
			_, err = r.wt.Add(c.Path)
		}
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("stage %s: %w", c.Path, err)
		}
	}
	sig := &object.Signature{Name: author.Name, Email: author.Email, When: time.Now()}
	h, err := r.wt.Commit(message, &git.CommitOptions{Author: sig, Committer: sig})
	if errors.Is(err, git.ErrEmptyCommit) {
		return plumbing.ZeroHash, ErrNothingToCommit
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("commit: %w", err)
	}
	return h, nil
}

// CommitInfo is what a person sees of a commit.
type CommitInfo struct {
	Hash    plumbing.Hash
	Subject string
	Author  Identity
	Files   []string
}

// Describe returns the subject, author and changed files of a commit.
func (r *Repo) Describe(h plumbing.Hash) (CommitInfo, error) {
	c, err := r.git.CommitObject(h)
	if err != nil {
		return CommitInfo{}, err
	}
	info := CommitInfo{Hash: h, Subject: strings.SplitN(c.Message, "\n", 2)[0], Author: Identity{c.Author.Name, c.Author.Email}}
	var parent *object.Commit
	if c.NumParents() > 0 {
		if parent, err = c.Parent(0); err != nil {
			return CommitInfo{}, err
		}
	}
	changes, err := treeChanges(r.git.Storer, parent, c)
	if err != nil {
		return CommitInfo{}, err
	}
	for _, ch := range changes {
		info.Files = append(info.Files, ch.path)
	}
	return info, nil
}

// IdentitySource is one place an author may be configured.
type IdentitySource struct {
	// From names the place for messages ("--author-name/--author-email").
	From string
	Identity
}

// ConfigIdentities returns the user.name/user.email of the repository's
// git config, then the global (~/.gitconfig or $XDG_CONFIG_HOME/git/config)
// and the system one, as go-git reads those scopes.
func (r *Repo) ConfigIdentities() ([]IdentitySource, error) {
	var out []IdentitySource
	local, err := r.git.Config()
	if err != nil {
		return nil, fmt.Errorf("read git config: %w", err)
	}
	out = append(out, IdentitySource{From: "git config (repository)", Identity: Identity{local.User.Name, local.User.Email}})
	for _, s := range []struct {
		scope config.Scope
		name  string
	}{{config.GlobalScope, "git config --global"}, {config.SystemScope, "git config --system"}} {
		c, err := config.LoadConfig(s.scope)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", s.name, err)
		}
		out = append(out, IdentitySource{From: s.name, Identity: Identity{c.User.Name, c.User.Email}})
	}
	return out, nil
}

// ResolveAuthor takes the name and the email each from the first source
// that sets it.
func ResolveAuthor(sources []IdentitySource) (Identity, error) {
	var id Identity
	for _, s := range sources {
		if id.Name == "" {
			id.Name = strings.TrimSpace(s.Name)
		}
		if id.Email == "" {
			id.Email = strings.TrimSpace(s.Email)
		}
	}
	var missing []string
	if id.Name == "" {
		missing = append(missing, "name")
	}
	if id.Email == "" {
		missing = append(missing, "email")
	}
	if len(missing) > 0 {
		var from []string
		for _, s := range sources {
			from = append(from, s.From)
		}
		return id, fmt.Errorf("no commit author %s: set it with %s", strings.Join(missing, " or "), strings.Join(from, ", "))
	}
	return id, nil
}
