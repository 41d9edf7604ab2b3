package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/otomi/otomi/pkg/gitops/gitnet"
)

var (
	// ErrNotRepository: the values repo is not in a git repository.
	ErrNotRepository = errors.New("not a git repository")
	// ErrDetachedHead: HEAD names a commit, not a branch.
	ErrDetachedHead = errors.New("HEAD is detached")
	// ErrNothingToCommit: the values repo has no change to commit.
	ErrNothingToCommit = errors.New("nothing to commit")
	// ErrNoCommits: the repository has no commit yet.
	ErrNoCommits = errors.New("the repository has no commit yet")
	// ErrNoRemote: no remote is configured anywhere.
	ErrNoRemote = errors.New("no git remote")
	// ErrAuth: the remote refused the credentials (or asked for some).
	ErrAuth = errors.New("authentication failed")
	// ErrRemoteNotFound: the remote repository does not exist.
	ErrRemoteNotFound = errors.New("remote repository not found")
)

// MergeStateError: an earlier merge, rebase, cherry-pick or revert was left
// unfinished; nothing is committed on top of it.
type MergeStateError struct {
	// State names what is in progress ("merge", "rebase", ...).
	State string
	// Files are the paths with unresolved conflicts in the index.
	Files []string
}

func (e *MergeStateError) Error() string {
	msg := fmt.Sprintf("a %s is in progress in the values repo", e.State)
	if len(e.Files) > 0 {
		msg += fmt.Sprintf(" with unresolved conflicts in %s", strings.Join(e.Files, ", "))
	}
	return msg + ": finish or abort it with git first (git " + e.State + " --continue or --abort)"
}

// ConflictError: the local commits and the remote changed the same files;
// the local commits are kept as they are and nothing is pushed.
type ConflictError struct {
	// Pull is true when it stopped a pull (else a push).
	Pull   bool
	Branch string
	Files  []string
	// Local is the local head that was kept; Remote is the remote head.
	Local, Remote plumbing.Hash
}

func (e *ConflictError) Error() string {
	kept := "your commit is kept locally and nothing was pushed"
	if e.Pull {
		kept = "nothing changed locally"
	}
	return fmt.Sprintf("the remote branch %s changed the same files as your commits (up to %s): %s; %s: integrate by hand (git pull --rebase), resolve, then otomi push",
		e.Branch, e.Local.String()[:7], strings.Join(e.Files, ", "), kept)
}

// RejectedError: the remote refused to update the branch (protected
// branch, hook, policy).
type RejectedError struct {
	Branch string
	Reason string
	// Messages are what the remote printed (its "remote:" lines).
	Messages []string
}

func (e *RejectedError) Error() string {
	msg := fmt.Sprintf("the remote rejected the push to %s: %s", e.Branch, e.Reason)
	if len(e.Messages) > 0 {
		msg += " (remote: " + strings.Join(e.Messages, "; ") + ")"
	}
	return msg + " (a protected branch or a server hook: ask the repository's owner)"
}

// errRemoteMoved: the remote branch changed since it was fetched.
var errRemoteMoved = errors.New("the remote branch moved")

// networkError turns a go-git transport error into one a person can act
// on, scrubbed of credentials.
func networkError(op string, remote *Remote, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	where := remote.String()
	is := func(target error) bool { return gitnet.Is(err, target) }
	switch {
	case is(transport.ErrAuthenticationRequired):
		hint := "check the user name and password or token (otomi.git.username/password, OTOMI_GIT_USERNAME/OTOMI_GIT_PASSWORD, or the URL)"
		if remote.Auth == nil {
			hint = "the remote needs credentials: set otomi.git.username/password in the values or OTOMI_GIT_USERNAME/OTOMI_GIT_PASSWORD"
		}
		return fmt.Errorf("%s %s: %w: %s", op, where, ErrAuth, hint)
	case is(transport.ErrAuthorizationFailed):
		return fmt.Errorf("%s %s: %w: the user may not access this repository", op, where, ErrAuth)
	case is(transport.ErrRepositoryNotFound):
		return fmt.Errorf("%s %s: %w (check the URL, and that the user may see it)", op, where, ErrRemoteNotFound)
	}
	msg := remote.scrub.String(err.Error())
	if strings.Contains(msg, "unable to authenticate") || strings.Contains(msg, "no supported methods remain") {
		return fmt.Errorf("%s %s: %w: the ssh server refused the key (%s)", op, where, ErrAuth, msg)
	}
	return remote.scrub.Wrap(fmt.Sprintf("%s %s: %s", op, where, msg), err)
}
