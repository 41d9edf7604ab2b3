package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/otomi/otomi/pkg/gitops/gitnet"
)

// Remote is where the values repo is pushed to and pulled from.
type Remote struct {
	Endpoint gitnet.Endpoint
	// Branch is the remote branch (without refs/heads/).
	Branch string
	// Source says where the URL came from, for messages.
	Source string
	Auth   transport.AuthMethod
	// name is a configured remote with this URL ("origin"), whose
	// tracking ref is updated; "otomi" otherwise.
	name  string
	scrub *gitnet.Scrubber
}

// String is the remote's URL with its credentials masked.
func (r *Remote) String() string { return r.Endpoint.String() }

// RemoteSpec gathers the candidate remotes and credentials, most specific
// first.
type RemoteSpec struct {
	// URL given on the command line (--remote); it wins over origin.
	URL string
	// ValuesURL and the values' credentials (otomi.git.*): the URL is used
	// when neither URL nor origin is set; the credentials are sent only to
	// that URL's host.
	ValuesURL                      string
	ValuesUsername, ValuesPassword string
	// Env credentials (OTOMI_GIT_USERNAME, OTOMI_GIT_PASSWORD) apply to any
	// remote; credentials written in the URL win over them.
	EnvUsername, EnvPassword string
	SSHKeyFile               string
	SSHKeyPassphrase         string
	Branch                   string
}

// ResolveRemote picks the remote: --remote, else the repository's origin,
// else otomi.git.repoUrl; and its credentials: those in the URL, else the
// environment's, else the values' (same host only).
func (r *Repo) ResolveRemote(spec RemoteSpec) (*Remote, error) {
	raw, source := spec.URL, "--remote"
	cfg, err := r.git.Config()
	if err != nil {
		return nil, fmt.Errorf("read git config: %w", err)
	}
	if raw == "" {
		if o, ok := cfg.Remotes["origin"]; ok && len(o.URLs) > 0 {
			raw, source = o.URLs[0], "the origin remote"
		}
	}
	if raw == "" {
		raw, source = spec.ValuesURL, "otomi.git.repoUrl"
	}
	if raw == "" {
		return nil, fmt.Errorf("%w: the repository has no origin and otomi.git.repoUrl is empty: pass --remote URL or set otomi.git.repoUrl", ErrNoRemote)
	}
	ep, err := gitnet.ParseEndpoint(raw)
	if err != nil {
		return nil, err
	}
	if spec.Branch == "" {
		return nil, errors.New("no branch to push to: set otomi.git.branch or pass --branch")
	}
	if err := validBranch(spec.Branch); err != nil {
		return nil, err
	}
	creds := gitnet.Credentials{Username: ep.Username, Password: ep.Password, SSHKeyFile: spec.SSHKeyFile, SSHKeyPassphrase: spec.SSHKeyPassphrase}
	if creds.Username == "" && creds.Password == "" {
		creds.Username, creds.Password = spec.EnvUsername, spec.EnvPassword
	}
	if creds.Username == "" && creds.Password == "" && spec.ValuesURL != "" {
		if vep, err := gitnet.ParseEndpoint(spec.ValuesURL); err == nil && (vep.SameHost(ep) || source == "otomi.git.repoUrl") {
			creds.Username, creds.Password = spec.ValuesUsername, spec.ValuesPassword
		}
	}
	auth, err := ep.Auth(creds)
	if err != nil {
		return nil, err
	}
	// Show the user name of the credentials in use, never the password.
	if ep.Scheme == "http" || ep.Scheme == "https" {
		ep.Username, ep.Password = creds.Username, creds.Password
	}
	rem := &Remote{Endpoint: ep, Branch: spec.Branch, Source: source, Auth: auth, name: "otomi",
		scrub: gitnet.NewScrubber(creds.Password, spec.ValuesPassword, spec.EnvPassword, spec.SSHKeyPassphrase)}
	for name, rc := range cfg.Remotes {
		for _, u := range rc.URLs {
			if e, err := gitnet.ParseEndpoint(u); err == nil && e.URL == ep.URL {
				rem.name = name
			}
		}
	}
	if ep.Password != "" || (ep.Scheme != "ssh" && ep.Username != "") {
		// The URL as written holds credentials: mask them too.
		rem.scrub.Add(raw)
	}
	return rem, nil
}

func validBranch(b string) error {
	if strings.HasPrefix(b, "-") || strings.ContainsAny(b, " ~^:?*[\\") || strings.Contains(b, "..") || strings.HasSuffix(b, "/") || strings.HasSuffix(b, ".lock") {
		return fmt.Errorf("%q is not a valid branch name", b)
	}
	return nil
}

// SyncOptions drive Push and Pull.
type SyncOptions struct {
	Remote *Remote
	Retry  gitnet.Retry
	// AfterFetch, when set, runs after each fetch, before the local branch
	// is integrated and pushed (a seam for tests that race a push).
	AfterFetch func(ctx context.Context) error
	// Rounds bounds fetch-integrate-push rounds when the remote keeps
	// moving (default 5).
	Rounds int
}

// Result says what Push or Pull did.
type Result struct {
	// Before and After are the local branch's commits.
	Before, After plumbing.Hash
	// RemoteBefore is the remote branch as first fetched (zero when it did
	// not exist).
	RemoteBefore plumbing.Hash
	// Created: the branch did not exist on the remote and was created.
	Created bool
	// FastForwarded: the local branch moved to the remote's commit.
	FastForwarded bool
	// Rebased counts local commits replayed on top of the remote.
	Rebased int
	// Pushed: the remote branch was updated.
	Pushed bool
	// UpToDate: nothing to do.
	UpToDate bool
	// RemoteAhead (Push): the remote has commits the local branch lacks,
	// and there is nothing local to push.
	RemoteAhead bool
	// LocalAhead (Pull): local commits are not pushed yet.
	LocalAhead int
	// RemoteMissing (Pull): the branch does not exist on the remote.
	RemoteMissing bool
	// Messages are what the remote printed, scrubbed.
	Messages []string
}

// retry is o.Retry telling OnRetry only scrubbed errors.
func (o *SyncOptions) retry() gitnet.Retry {
	r := o.Retry
	if on := r.OnRetry; on != nil {
		r.OnRetry = func(attempt int, wait time.Duration, err error) {
			on(attempt, wait, o.Remote.scrub.Error(err))
		}
	}
	return r
}

func (o *SyncOptions) rounds() int {
	if o.Rounds > 0 {
		return o.Rounds
	}
	return 5
}

func (r *Repo) remoteHandle(rem *Remote) *git.Remote {
	return git.NewRemote(r.git.Storer, &config.RemoteConfig{Name: rem.name, URLs: []string{rem.Endpoint.URL}})
}

func (rem *Remote) trackingRef() plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName(rem.name, rem.Branch)
}

// fetch brings the remote branch into its tracking ref. ok is false when
// the remote has no such branch (or no commit at all).
func (r *Repo) fetch(ctx context.Context, o *SyncOptions) (plumbing.Hash, bool, error) {
	rem := o.Remote
	handle := r.remoteHandle(rem)
	spec := config.RefSpec(fmt.Sprintf("+%s:%s", plumbing.NewBranchReferenceName(rem.Branch), rem.trackingRef()))
	err := o.retry().Do(ctx, func() error {
		err := handle.FetchContext(ctx, &git.FetchOptions{RemoteName: rem.name, RemoteURL: rem.Endpoint.URL, RefSpecs: []config.RefSpec{spec}, Auth: rem.Auth, Tags: git.NoTags})
		if errors.Is(err, git.NoErrAlreadyUpToDate) {
			return nil
		}
		return err
	})
	var noMatch git.NoMatchingRefSpecError
	if errors.As(err, &noMatch) || errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return plumbing.ZeroHash, false, nil
	}
	if err != nil {
		return plumbing.ZeroHash, false, networkError("fetch from", rem, err)
	}
	ref, err := r.git.Storer.Reference(rem.trackingRef())
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("read %s: %w", rem.trackingRef().Short(), err)
	}
	return ref.Hash(), true, nil
}

// relation of the local and remote commits.
type relation int

const (
	same relation = iota
	localAhead
	remoteAhead
	diverged
)

func (r *Repo) relate(local, remote plumbing.Hash) (relation, error) {
	if local == remote {
		return same, nil
	}
	ok, err := descends(r.git.Storer, remote, local)
	if err != nil {
		return 0, err
	}
	if ok {
		return localAhead, nil
	}
	if ok, err = descends(r.git.Storer, local, remote); err != nil {
		return 0, err
	}
	if ok {
		return remoteAhead, nil
	}
	return diverged, nil
}

// Push integrates the remote branch (fast-forward, or replaying the local
// commits on top of it) and pushes the current branch to it, creating it
// when missing. It never forces: when the remote moves between fetch and
// push, it fetches and integrates again.
func (r *Repo) Push(ctx context.Context, o SyncOptions) (*Result, error) {
	branch, err := r.Branch()
	if err != nil {
		return nil, err
	}
	local, ok, err := r.Head()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNoCommits
	}
	res := &Result{Before: local, After: local}
	for round := 0; round < o.rounds(); round++ {
		remote, exists, err := r.fetch(ctx, &o)
		if err != nil {
			return res, err
		}
		if round == 0 {
			res.RemoteBefore = remote
		}
		if o.AfterFetch != nil {
			if err := o.AfterFetch(ctx); err != nil {
				return res, err
			}
		}
		if exists {
			rel, err := r.relate(local, remote)
			if err != nil {
				return res, err
			}
			switch rel {
			case same:
				res.UpToDate = !res.Pushed && res.Rebased == 0
				return res, nil
			case remoteAhead:
				res.RemoteAhead = true
				return res, nil
			case diverged:
				head, n, err := r.rebase(local, remote, o.Remote.Branch)
				if err != nil {
					return res, err
				}
				if err := r.checkout(local, head); err != nil {
					return res, err
				}
				local, res.After = head, head
				res.Rebased += n
				if n == 0 { // every local change was already on the remote
					return res, nil
				}
			}
		} else {
			remote = plumbing.ZeroHash
		}
		err = r.pushOnce(ctx, &o, branch, local, remote, exists, res)
		if errors.Is(err, errRemoteMoved) {
			continue
		}
		if err != nil {
			return res, err
		}
		res.Pushed, res.Created = true, !exists
		return res, nil
	}
	return res, fmt.Errorf("the remote branch %s kept moving: gave up after %d attempts; run otomi push again", o.Remote.Branch, o.rounds())
}

func (r *Repo) pushOnce(ctx context.Context, o *SyncOptions, branch plumbing.ReferenceName, local, remote plumbing.Hash, exists bool, res *Result) error {
	rem := o.Remote
	dst := plumbing.NewBranchReferenceName(rem.Branch)
	opts := &git.PushOptions{
		RemoteName: rem.name,
		RemoteURL:  rem.Endpoint.URL,
		RefSpecs:   []config.RefSpec{config.RefSpec(branch.String() + ":" + dst.String())},
		Auth:       rem.Auth,
	}
	if exists {
		// Compare-and-swap: the remote must still be where it was fetched.
		opts.RequireRemoteRefs = []config.RefSpec{config.RefSpec(remote.String() + ":" + dst.String())}
	}
	var progress bytes.Buffer
	err := o.retry().Do(ctx, func() error {
		progress.Reset()
		opts.Progress = &progress
		return r.remoteHandle(rem).PushContext(ctx, opts)
	})
	res.Messages = remoteMessages(rem.scrub.String(progress.String()))
	if errors.Is(err, git.NoErrAlreadyUpToDate) {
		err = nil
	}
	if err == nil {
		return r.git.Storer.SetReference(plumbing.NewHashReference(rem.trackingRef(), local))
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "required to be") || strings.Contains(msg, "non-fast-forward") ||
		strings.Contains(msg, "fetch first") || strings.Contains(msg, "cannot lock ref") || strings.Contains(msg, "stale info"):
		return errRemoteMoved
	case strings.Contains(msg, "command error on"):
		reason := msg[strings.LastIndex(msg, ": ")+2:]
		return &RejectedError{Branch: rem.Branch, Reason: rem.scrub.String(reason), Messages: res.Messages}
	}
	return networkError("push to", rem, err)
}

// remoteMessages keeps the lines a remote printed for people.
func remoteMessages(s string) []string {
	var out []string
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "Counting objects") || strings.HasPrefix(line, "Compressing objects") ||
			strings.HasPrefix(line, "Resolving deltas") || strings.HasPrefix(line, "Total ") || strings.HasPrefix(line, "Enumerating") ||
			strings.HasPrefix(line, "Writing objects") || strings.HasPrefix(line, "Delta compression") {
			continue
		}
		out = append(out, line)
	}
	return out
}

// Pull fetches the remote branch and fast-forwards the current branch to
// it, or replays the local commits on top of it. Local changes are kept
// unless the incoming commits touch the same files (then nothing moves).
func (r *Repo) Pull(ctx context.Context, o SyncOptions) (*Result, error) {
	if _, err := r.Branch(); err != nil {
		return nil, err
	}
	local, hasLocal, err := r.Head()
	if err != nil {
		return nil, err
	}
	res := &Result{Before: local, After: local}
	remote, exists, err := r.fetch(ctx, &o)
	if err != nil {
		return res, err
	}
	res.RemoteBefore = remote
	if o.AfterFetch != nil {
		if err := o.AfterFetch(ctx); err != nil {
			return res, err
		}
	}
	if !exists {
		res.RemoteMissing = true
		return res, nil
	}
	if !hasLocal {
		if err := r.checkout(plumbing.ZeroHash, remote); err != nil {
			return res, err
		}
		res.After, res.FastForwarded = remote, true
		return res, nil
	}
	rel, err := r.relate(local, remote)
	if err != nil {
		return res, err
	}
	switch rel {
	case same:
		res.UpToDate = true
	case localAhead:
		n, err := r.countCommits(local, remote)
		if err != nil {
			return res, err
		}
		res.LocalAhead = n
	case remoteAhead:
		if err := r.checkout(local, remote); err != nil {
			return res, err
		}
		res.After, res.FastForwarded = remote, true
	case diverged:
		head, n, err := r.rebase(local, remote, o.Remote.Branch)
		var ce *ConflictError
		if errors.As(err, &ce) {
			ce.Pull = true
		}
		if err != nil {
			return res, err
		}
		if err := r.checkout(local, head); err != nil {
			return res, err
		}
		res.After, res.Rebased = head, n
	}
	return res, nil
}

func (r *Repo) countCommits(from, stop plumbing.Hash) (int, error) {
	c, err := r.git.CommitObject(from)
	if err != nil {
		return 0, err
	}
	n := 0
	for c.Hash != stop && n < 1000 {
		n++
		if c.NumParents() == 0 {
			break
		}
		if c, err = c.Parent(0); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// rebase replays the local commits (those since the merge base) on top of
// remote and returns the new head. A file changed by the local commits
// and by the remote since the merge base is a conflict, unless both sides
// ended with the same content. Commits whose changes are all on the remote
// already are dropped. Nothing is changed when it fails.
func (r *Repo) rebase(local, remote plumbing.Hash, branch string) (plumbing.Hash, int, error) {
	s := r.git.Storer
	lc, err := r.git.CommitObject(local)
	if err != nil {
		return plumbing.ZeroHash, 0, err
	}
	rc, err := r.git.CommitObject(remote)
	if err != nil {
		return plumbing.ZeroHash, 0, err
	}
	bases, err := lc.MergeBase(rc)
	if err != nil {
		return plumbing.ZeroHash, 0, err
	}
	if len(bases) == 0 {
		return plumbing.ZeroHash, 0, fmt.Errorf("the local branch and the remote branch %s share no history: integrate them by hand", branch)
	}
	base := bases[0]
	// The local commits, newest first, along first parents.
	var mine []*object.Commit
	for c := lc; c.Hash != base.Hash; {
		if c.NumParents() != 1 {
			return plumbing.ZeroHash, 0, fmt.Errorf("local commit %s is a merge: integrate with the remote branch %s by hand", c.Hash.String()[:7], branch)
		}
		mine = append(mine, c)
		if c, err = c.Parent(0); err != nil {
			return plumbing.ZeroHash, 0, err
		}
	}
	baseFiles, err := files(s, base)
	if err != nil {
		return plumbing.ZeroHash, 0, err
	}
	remoteFiles, err := files(s, rc)
	if err != nil {
		return plumbing.ZeroHash, 0, err
	}
	localFiles, err := files(s, lc)
	if err != nil {
		return plumbing.ZeroHash, 0, err
	}
	theirs := map[string]bool{}
	for _, ch := range diffFiles(baseFiles, remoteFiles) {
		theirs[ch.path] = true
	}
	// Replay oldest first.
	tree := remoteFiles
	parent := rc.Hash
	parentTree := rc.TreeHash
	var conflicts []string
	seen := map[string]bool{}
	type replay struct {
		c       *object.Commit
		changes []fileChange
	}
	var plan []replay
	for i := len(mine) - 1; i >= 0; i-- {
		c := mine[i]
		p, err := c.Parent(0)
		if err != nil {
			return plumbing.ZeroHash, 0, err
		}
		changes, err := treeChanges(s, p, c)
		if err != nil {
			return plumbing.ZeroHash, 0, err
		}
		for _, ch := range changes {
			if theirs[ch.path] && !seen[ch.path] && localFiles[ch.path] != remoteFiles[ch.path] {
				seen[ch.path] = true
				conflicts = append(conflicts, ch.path)
			}
		}
		plan = append(plan, replay{c, changes})
	}
	if len(conflicts) > 0 {
		sort.Strings(conflicts)
		return plumbing.ZeroHash, 0, &ConflictError{Branch: branch, Files: conflicts, Local: local, Remote: remote}
	}
	n := 0
	for _, step := range plan {
		next := make(map[string]entry, len(tree))
		for k, v := range tree {
			next[k] = v
		}
		for _, ch := range step.changes {
			if ch.to.hash.IsZero() {
				delete(next, ch.path)
			} else {
				next[ch.path] = ch.to
			}
		}
		th, err := writeTree(s, next)
		if err != nil {
			return plumbing.ZeroHash, 0, fmt.Errorf("write tree: %w", err)
		}
		if th == parentTree {
			continue // already on the remote
		}
		committer := step.c.Committer
		committer.When = time.Now()
		nc := &object.Commit{
			Author:       step.c.Author,
			Committer:    committer,
			Message:      step.c.Message,
			TreeHash:     th,
			ParentHashes: []plumbing.Hash{parent},
		}
		obj := s.NewEncodedObject()
		if err := nc.Encode(obj); err != nil {
			return plumbing.ZeroHash, 0, err
		}
		h, err := s.SetEncodedObject(obj)
		if err != nil {
			return plumbing.ZeroHash, 0, err
		}
		tree, parent, parentTree = next, h, th
		n++
	}
	return parent, n, nil
}

// Tracking returns the remote branch as last fetched or pushed (ok false
// when it was never seen).
func (r *Repo) Tracking(rem *Remote) (plumbing.Hash, bool) {
	ref, err := r.git.Storer.Reference(rem.trackingRef())
	if err != nil {
		return plumbing.ZeroHash, false
	}
	return ref.Hash(), true
}
