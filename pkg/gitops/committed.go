// Package gitops reads and writes the values repo through git (go-git, no
// git binary).
package gitops

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// CommittedFile returns the content of the file at path as committed at
// HEAD of the git repository that holds it. ok is false when path is not in
// a git repository, the repository has no commit yet, or HEAD lacks the file.
func CommittedFile(path string) (data []byte, ok bool, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, false, err
	}
	repo, err := git.PlainOpenWithOptions(filepath.Dir(abs), &git.PlainOpenOptions{DetectDotGit: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("open git repository of %s: %w", path, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return nil, false, nil // bare repository: nothing checked out
	}
	rel, err := filepath.Rel(wt.Filesystem.Root(), abs)
	if err != nil {
		return nil, false, nil
	}
	head, err := repo.Head()
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read HEAD: %w", err)
	}
	commit, err := repo.CommitObject(head.Hash())
	if err != nil {
		return nil, false, fmt.Errorf("read HEAD commit: %w", err)
	}
	f, err := commit.File(filepath.ToSlash(rel))
	if errors.Is(err, object.ErrFileNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s at HEAD: %w", rel, err)
	}
	content, err := f.Contents()
	if err != nil {
		return nil, false, fmt.Errorf("read %s at HEAD: %w", rel, err)
	}
	return []byte(content), true, nil
}
