package gitops

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi/pkg/gitops/gitnet"
)

func openRemote(t *testing.T, dir string, spec RemoteSpec) (*Repo, *Remote) {
	t.Helper()
	r, err := Open(dir)
	require.NoError(t, err)
	if spec.Branch == "" {
		spec.Branch = "main"
	}
	rem, err := r.ResolveRemote(spec)
	require.NoError(t, err)
	return r, rem
}

func TestPushFastForward(t *testing.T) {
	isolateHome(t)
	bare, _, work := seeded(t)
	r, rem := openRemote(t, work, RemoteSpec{})
	assert.Equal(t, "the origin remote", rem.Source)
	write(t, work, "a.yaml", "a: 2\n")
	commitAll(t, r, "change a")

	res, err := r.Push(context.Background(), SyncOptions{Remote: rem, Retry: fastRetry})
	require.NoError(t, err)
	assert.True(t, res.Pushed)
	assert.False(t, res.Created)
	assert.Zero(t, res.Rebased)
	assert.Equal(t, "change a\nseed", gitc(t, bare, "log", "--format=%s", "main"))
	assert.Equal(t, "Otomi Tester <tester@example.com>", gitc(t, bare, "log", "-1", "--format=%an <%ae>", "main"))
	// The tracking ref follows.
	assert.Equal(t, gitc(t, work, "rev-parse", "HEAD"), gitc(t, work, "rev-parse", "origin/main"))

	// Again: nothing to do.
	res, err = r.Push(context.Background(), SyncOptions{Remote: rem, Retry: fastRetry})
	require.NoError(t, err)
	assert.True(t, res.UpToDate)
	assert.False(t, res.Pushed)
}

func TestPushCreatesBranchInEmptyRemote(t *testing.T) {
	isolateHome(t)
	bare, url := bareRemote(t)
	work := t.TempDir()
	r, err := Init(work, "main")
	require.NoError(t, err)
	_, ok, err := r.Head()
	require.NoError(t, err)
	require.False(t, ok, "a new repository has no commit")
	write(t, work, "env/a.yaml", "a: 1\n")
	commitAll(t, r, "first")
	rem, err := r.ResolveRemote(RemoteSpec{URL: url, Branch: "values"})
	require.NoError(t, err)
	res, err := r.Push(context.Background(), SyncOptions{Remote: rem, Retry: fastRetry})
	require.NoError(t, err)
	assert.True(t, res.Pushed)
	assert.True(t, res.Created)
	assert.Equal(t, "first", gitc(t, bare, "log", "--format=%s", "values"))
	assert.Equal(t, "a: 1", gitc(t, bare, "show", "values:env/a.yaml"))
}

func TestPushNoCommits(t *testing.T) {
	_, url := bareRemote(t)
	r, err := Init(t.TempDir(), "main")
	require.NoError(t, err)
	rem, err := r.ResolveRemote(RemoteSpec{URL: url, Branch: "main"})
	require.NoError(t, err)
	_, err = r.Push(context.Background(), SyncOptions{Remote: rem})
	require.ErrorIs(t, err, ErrNoCommits)
}

// The race of the issue: another client pushes between our fetch and our
// push. A different file: both commits land. The same file: we stop, keep
// our commit, and the remote keeps theirs.
func TestPushRace(t *testing.T) {
	for _, tc := range []struct {
		name, theirFile string
		conflict        bool
	}{
		{name: "different file", theirFile: "b.yaml"},
		{name: "same file", theirFile: "a.yaml", conflict: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isolateHome(t)
			bare, url, work := seeded(t)
			r, rem := openRemote(t, work, RemoteSpec{})
			write(t, work, "a.yaml", "a: mine\n")
			commitAll(t, r, "mine")
			mine := gitc(t, work, "rev-parse", "HEAD")

			fetches := 0
			var theirs string
			res, err := r.Push(context.Background(), SyncOptions{Remote: rem, Retry: fastRetry, AfterFetch: func(context.Context) error {
				fetches++
				if fetches == 1 {
					theirs = otherPush(t, url, tc.theirFile, "theirs: 1\n", "theirs")
				}
				return nil
			}})
			if tc.conflict {
				var ce *ConflictError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, []string{"a.yaml"}, ce.Files)
				assert.Contains(t, err.Error(), "a.yaml")
				assert.Contains(t, err.Error(), "kept locally")
				assert.Equal(t, 2, fetches, "the push lost the race, fetched again, and found the conflict")
				assert.Equal(t, theirs, gitc(t, bare, "rev-parse", "main"), "the remote keeps their commit")
				assert.Equal(t, mine, gitc(t, work, "rev-parse", "HEAD"), "the local commit is kept")
				assert.Equal(t, "a: mine\n", read(t, work, "a.yaml"))
				return
			}
			require.NoError(t, err)
			assert.True(t, res.Pushed)
			assert.Equal(t, 1, res.Rebased)
			assert.Equal(t, 2, fetches)
			assert.Equal(t, "mine\ntheirs\nseed", gitc(t, bare, "log", "--format=%s", "main"))
			assert.Equal(t, theirs, gitc(t, bare, "rev-parse", "main~1"))
			// The work tree has both changes and is clean.
			assert.Equal(t, "a: mine\n", read(t, work, "a.yaml"))
			assert.Equal(t, "theirs: 1\n", read(t, work, "b.yaml"))
			assert.Empty(t, gitc(t, work, "status", "--porcelain"))
			assert.Equal(t, gitc(t, bare, "rev-parse", "main"), gitc(t, work, "rev-parse", "HEAD"))
		})
	}
}

func TestPushRebasesSeveralCommits(t *testing.T) {
	isolateHome(t)
	bare, url, work := seeded(t)
	otherPush(t, url, "dir/new.yaml", "n: 1\n", "theirs")
	r, rem := openRemote(t, work, RemoteSpec{})
	write(t, work, "a.yaml", "a: 2\n")
	commitAll(t, r, "one")
	require.NoError(t, os.Remove(filepath.Join(work, "b.yaml")))
	write(t, work, "c/d/e.yaml", "e: 1\n")
	commitAll(t, r, "two")
	res, err := r.Push(context.Background(), SyncOptions{Remote: rem, Retry: fastRetry})
	require.NoError(t, err)
	assert.Equal(t, 2, res.Rebased)
	assert.Equal(t, "two\none\ntheirs\nseed", gitc(t, bare, "log", "--format=%s", "main"))
	assert.Equal(t, "a.yaml\nc/d/e.yaml\ndir/new.yaml", gitc(t, bare, "ls-tree", "-r", "--name-only", "main"))
	// git itself finds the rewritten history sound.
	gitc(t, bare, "fsck", "--strict")
	assert.Empty(t, gitc(t, work, "status", "--porcelain"))
	_, err = os.Stat(filepath.Join(work, "b.yaml"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Equal(t, "n: 1\n", read(t, work, "dir/new.yaml"))
}

func TestPushRemoteAhead(t *testing.T) {
	isolateHome(t)
	_, url, work := seeded(t)
	otherPush(t, url, "b.yaml", "b: 2\n", "theirs")
	r, rem := openRemote(t, work, RemoteSpec{})
	res, err := r.Push(context.Background(), SyncOptions{Remote: rem, Retry: fastRetry})
	require.NoError(t, err)
	assert.True(t, res.RemoteAhead)
	assert.False(t, res.Pushed)
}

func TestPull(t *testing.T) {
	t.Run("fast-forward keeps unrelated local edits", func(t *testing.T) {
		isolateHome(t)
		_, url, work := seeded(t)
		theirs := otherPush(t, url, "b.yaml", "b: 2\n", "theirs")
		write(t, work, "a.yaml", "a: local edit\n")
		write(t, work, "untracked.txt", "keep me\n")
		r, rem := openRemote(t, work, RemoteSpec{})
		res, err := r.Pull(context.Background(), SyncOptions{Remote: rem, Retry: fastRetry})
		require.NoError(t, err)
		assert.True(t, res.FastForwarded)
		assert.Equal(t, theirs, gitc(t, work, "rev-parse", "HEAD"))
		assert.Equal(t, "b: 2\n", read(t, work, "b.yaml"))
		assert.Equal(t, "a: local edit\n", read(t, work, "a.yaml"))
		assert.Equal(t, "keep me\n", read(t, work, "untracked.txt"))
		assert.Equal(t, "M a.yaml\n?? untracked.txt", gitc(t, work, "status", "--porcelain"))
	})
	t.Run("local edit of an incoming file stops it", func(t *testing.T) {
		isolateHome(t)
		_, url, work := seeded(t)
		otherPush(t, url, "b.yaml", "b: 2\n", "theirs")
		write(t, work, "b.yaml", "b: local\n")
		before := gitc(t, work, "rev-parse", "HEAD")
		r, rem := openRemote(t, work, RemoteSpec{})
		_, err := r.Pull(context.Background(), SyncOptions{Remote: rem, Retry: fastRetry})
		require.ErrorContains(t, err, "local changes to b.yaml would be overwritten")
		assert.Equal(t, before, gitc(t, work, "rev-parse", "HEAD"))
		assert.Equal(t, "b: local\n", read(t, work, "b.yaml"))
	})
	t.Run("rebase of unpushed commits", func(t *testing.T) {
		isolateHome(t)
		_, url, work := seeded(t)
		otherPush(t, url, "b.yaml", "b: 2\n", "theirs")
		r, rem := openRemote(t, work, RemoteSpec{})
		write(t, work, "a.yaml", "a: 2\n")
		commitAll(t, r, "mine")
		res, err := r.Pull(context.Background(), SyncOptions{Remote: rem, Retry: fastRetry})
		require.NoError(t, err)
		assert.Equal(t, 1, res.Rebased)
		assert.Equal(t, "mine\ntheirs\nseed", gitc(t, work, "log", "--format=%s"))
		assert.Empty(t, gitc(t, work, "status", "--porcelain"))
	})
	t.Run("conflict leaves everything", func(t *testing.T) {
		isolateHome(t)
		_, url, work := seeded(t)
		otherPush(t, url, "a.yaml", "a: theirs\n", "theirs")
		r, rem := openRemote(t, work, RemoteSpec{})
		write(t, work, "a.yaml", "a: mine\n")
		commitAll(t, r, "mine")
		mine := gitc(t, work, "rev-parse", "HEAD")
		_, err := r.Pull(context.Background(), SyncOptions{Remote: rem, Retry: fastRetry})
		var ce *ConflictError
		require.ErrorAs(t, err, &ce)
		assert.True(t, ce.Pull)
		assert.Contains(t, err.Error(), "a.yaml; nothing changed locally")
		assert.Equal(t, mine, gitc(t, work, "rev-parse", "HEAD"))
		assert.Equal(t, "a: mine\n", read(t, work, "a.yaml"))
	})
	t.Run("branch missing on the remote", func(t *testing.T) {
		isolateHome(t)
		_, _, work := seeded(t)
		r, rem := openRemote(t, work, RemoteSpec{Branch: "nope"})
		res, err := r.Pull(context.Background(), SyncOptions{Remote: rem, Retry: fastRetry})
		require.NoError(t, err)
		assert.True(t, res.RemoteMissing)
	})
	t.Run("into an empty repository", func(t *testing.T) {
		isolateHome(t)
		_, url, _ := seeded(t)
		work := t.TempDir()
		r, err := Init(work, "main")
		require.NoError(t, err)
		rem, err := r.ResolveRemote(RemoteSpec{URL: url, Branch: "main"})
		require.NoError(t, err)
		res, err := r.Pull(context.Background(), SyncOptions{Remote: rem, Retry: fastRetry})
		require.NoError(t, err)
		assert.True(t, res.FastForwarded)
		assert.Equal(t, "a: 1\n", read(t, work, "a.yaml"))
		assert.Empty(t, gitc(t, work, "status", "--porcelain"))
	})
}

func TestCheck(t *testing.T) {
	isolateHome(t)
	t.Run("detached HEAD", func(t *testing.T) {
		_, _, work := seeded(t)
		gitc(t, work, "checkout", "--quiet", "--detach")
		r, err := Open(work)
		require.NoError(t, err)
		err = r.Check()
		require.ErrorIs(t, err, ErrDetachedHead)
		assert.Contains(t, err.Error(), "check out the branch")
	})
	t.Run("unresolved merge", func(t *testing.T) {
		_, url, work := seeded(t)
		otherPush(t, url, "a.yaml", "a: theirs\n", "theirs")
		write(t, work, "a.yaml", "a: mine\n")
		gitc(t, work, "commit", "--quiet", "-am", "mine")
		gitc(t, work, "fetch", "--quiet")
		cmd := []string{"merge", "--quiet", "origin/main"}
		c := gitCmd(t, work, cmd...)
		require.Error(t, c.Run(), "the merge conflicts")
		r, err := Open(work)
		require.NoError(t, err)
		err = r.Check()
		var me *MergeStateError
		require.ErrorAs(t, err, &me)
		assert.Equal(t, "merge", me.State)
		assert.Equal(t, []string{"a.yaml"}, me.Files)
	})
	t.Run("rebase in progress", func(t *testing.T) {
		_, _, work := seeded(t)
		r, err := Open(work)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Join(work, ".git", "rebase-merge"), 0o755))
		var me *MergeStateError
		require.ErrorAs(t, r.Check(), &me)
		assert.Equal(t, "rebase", me.State)
	})
	t.Run("clean", func(t *testing.T) {
		_, _, work := seeded(t)
		r, err := Open(work)
		require.NoError(t, err)
		require.NoError(t, r.Check())
	})
	t.Run("not a repository", func(t *testing.T) {
		_, err := Open(t.TempDir())
		require.ErrorIs(t, err, ErrNotRepository)
	})
}

func TestRemoteErrors(t *testing.T) {
	isolateHome(t)
	_, _, work := seeded(t)
	r, err := Open(work)
	require.NoError(t, err)
	write(t, work, "a.yaml", "a: 2\n")
	commitAll(t, r, "mine")

	t.Run("does not exist", func(t *testing.T) {
		rem, err := r.ResolveRemote(RemoteSpec{URL: "file://" + filepath.Join(t.TempDir(), "nope.git"), Branch: "main"})
		require.NoError(t, err)
		_, err = r.Push(context.Background(), SyncOptions{Remote: rem, Retry: fastRetry})
		require.ErrorIs(t, err, ErrRemoteNotFound)
	})
	t.Run("non-bare target", func(t *testing.T) {
		other := t.TempDir()
		gitc(t, other, "init", "--quiet", "--initial-branch=main")
		rem, err := r.ResolveRemote(RemoteSpec{URL: "file://" + other, Branch: "main"})
		require.NoError(t, err)
		_, err = r.Push(context.Background(), SyncOptions{Remote: rem, Retry: fastRetry})
		require.ErrorContains(t, err, "not a bare repository")
	})
	t.Run("no remote anywhere", func(t *testing.T) {
		fresh, err := Init(t.TempDir(), "main")
		require.NoError(t, err)
		_, err = fresh.ResolveRemote(RemoteSpec{Branch: "main"})
		require.ErrorIs(t, err, ErrNoRemote)
	})
	t.Run("bad branch", func(t *testing.T) {
		_, err := r.ResolveRemote(RemoteSpec{Branch: "a..b"})
		require.ErrorContains(t, err, "not a valid branch name")
	})
}

// The in-process file server refuses to move a branch backwards or
// sideways, whatever the client claims.
func TestFileServerRefusesNonFastForward(t *testing.T) {
	isolateHome(t)
	bare, url, work := seeded(t)
	otherPush(t, url, "b.yaml", "b: 2\n", "theirs")
	theirs := gitc(t, bare, "rev-parse", "main")
	r, err := Open(work)
	require.NoError(t, err)
	write(t, work, "a.yaml", "a: 2\n")
	commitAll(t, r, "mine")
	// Bypass the client's checks with a forced refspec.
	h := r.remoteHandle(&Remote{Endpoint: gitnet.Endpoint{URL: url, Scheme: "file"}, Branch: "main", name: "origin"})
	err = h.Push(&git.PushOptions{RemoteName: "origin", RefSpecs: []config.RefSpec{"+refs/heads/main:refs/heads/main"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "non-fast-forward")
	assert.Equal(t, theirs, gitc(t, bare, "rev-parse", "main"))
	assert.True(t, strings.HasPrefix(gitc(t, bare, "log", "-1", "--format=%s", "main"), "theirs"))
}

func TestPushCreatesMissingBranch(t *testing.T) {
	isolateHome(t)
	bare, _, work := seeded(t)
	r, rem := openRemote(t, work, RemoteSpec{Branch: "staging"})
	write(t, work, "a.yaml", "a: staging\n")
	commitAll(t, r, "for staging")
	res, err := r.Push(context.Background(), SyncOptions{Remote: rem, Retry: fastRetry})
	require.NoError(t, err)
	assert.True(t, res.Created)
	assert.Equal(t, "for staging\nseed", gitc(t, bare, "log", "--format=%s", "staging"))
	assert.Equal(t, "seed", gitc(t, bare, "log", "--format=%s", "main"), "main is untouched")
}

// A values repo in a folder of a bigger work tree: only that folder is
// committed; other changes stay as they are.
func TestNestedValuesRepo(t *testing.T) {
	isolateHome(t)
	bare, _, work := seeded(t)
	write(t, work, "values/env/x.yaml", "x: 1\n")
	write(t, work, "a.yaml", "a: outside\n")
	r, err := Open(filepath.Join(work, "values"))
	require.NoError(t, err)
	changes, err := r.Changes()
	require.NoError(t, err)
	assert.Equal(t, []Change{{Path: "values/env/x.yaml"}}, changes)
	_, err = r.Commit(changes, "values only", me)
	require.NoError(t, err)
	rem, err := r.ResolveRemote(RemoteSpec{Branch: "main"})
	require.NoError(t, err)
	_, err = r.Push(context.Background(), SyncOptions{Remote: rem, Retry: fastRetry})
	require.NoError(t, err)
	assert.Equal(t, "values/env/x.yaml", gitc(t, bare, "show", "--format=", "--name-only", "main"))
	assert.Equal(t, "M a.yaml", gitc(t, work, "status", "--porcelain"))
}
