package bootstrap

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// DefaultBranch is the branch of a values repo that bootstrap creates.
const DefaultBranch = "main"

// inGitRepo reports whether dir (or a folder above it) is in a git work tree.
func inGitRepo(dir string) (bool, error) {
	_, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, git.ErrRepositoryNotExists):
		return false, nil
	default:
		return false, fmt.Errorf("open git repository at %s: %w", dir, err)
	}
}

// gitInit creates a git repository in dir with branch main and the sops
// diff driver that .gitattributes names. Nothing is committed.
func gitInit(dir string) error {
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(DefaultBranch)},
	})
	if err != nil {
		return fmt.Errorf("git init %s: %w", dir, err)
	}
	cfg, err := repo.Config()
	if err != nil {
		return fmt.Errorf("git config: %w", err)
	}
	cfg.Raw.Section("diff").Subsection("sopsdiffer").SetOption("textconv", "otomi decrypt")
	if err := repo.SetConfig(cfg); err != nil {
		return fmt.Errorf("git config: %w", err)
	}
	return nil
}

// removeGit undoes gitInit.
func removeGit(dir string) error {
	return os.RemoveAll(filepath.Join(dir, ".git"))
}
