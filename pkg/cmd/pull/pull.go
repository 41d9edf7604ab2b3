// Package pull implements `otomi pull`.
package pull

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/gitops"
	"github.com/otomi/otomi/pkg/gitops/gitnet"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/values"
)

// Options of pull.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory

	Remote string
	Branch string
	SSHKey string

	// Getenv reads the environment (OTOMI_GIT_*).
	Getenv func(string) string
	// Retry is the backoff on transient network errors.
	Retry gitnet.Retry
	// AfterFetch runs after the fetch, before the local branch moves.
	AfterFetch func(context.Context) error
}

// NewCmdPull builds the command; runF replaces the logic in tests.
func NewCmdPull(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f, Getenv: os.Getenv, Retry: gitnet.DefaultRetry}
	cmd := &cobra.Command{
		Use:   "pull",
		Short: "Bring the values repo up to date with its git remote, then validate it",
		Long: `Fetch the remote branch of the values repo and fast-forward the local branch to it,
or replay the local commits not pushed yet on top of it. When both sides changed the
same file, nothing moves. Local changes are kept, unless the incoming commits touch
the same files (then nothing moves either). Then the values are validated (exit 3
when invalid).

Remote, branch and credentials are chosen as for otomi push.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Remote, "remote", "", "remote URL (default: origin, else otomi.git.repoUrl)")
	fl.StringVar(&opts.Branch, "branch", "", "remote branch (default: otomi.git.branch)")
	fl.StringVar(&opts.SSHKey, "ssh-key", "", "private key file for ssh remotes [$OTOMI_GIT_SSH_KEY]")
	return cmd
}

// Run pulls and validates.
func Run(ctx context.Context, opts *Options) error {
	ios := opts.IO
	ok := ios.SuccessIcon()
	repo, err := values.Locate(opts.Factory.Globals.EnvDir)
	if err != nil {
		return err
	}
	g, err := gitops.Open(repo.Root)
	if err != nil {
		return fmt.Errorf("%w: clone the values repo first (git clone URL)", err)
	}
	if err := g.Check(); err != nil {
		return err
	}
	// The remote and its credentials may live in the values (even invalid
	// ones: pulling may be how they get fixed).
	var gv gitops.GitValues
	if lv, err := cmdutil.LoadValues(ctx, opts.Factory, true); err == nil {
		gv = gitops.GitValuesOf(lv.Values.Tree)
	}
	remote, err := g.ResolveRemote(gitops.Spec(gv, opts.Remote, opts.Branch, opts.SSHKey, opts.Getenv))
	if err != nil {
		return err
	}
	r := opts.Retry
	r.OnRetry = func(attempt int, wait time.Duration, err error) {
		fmt.Fprintf(ios.ErrOut, "%s %s; retrying in %s (attempt %d of %d)\n", ios.WarningIcon(), err, wait, attempt+1, max(r.Attempts, 1))
	}
	opts.Factory.Logger.Debug("pull", "remote", remote.String(), "source", remote.Source, "branch", remote.Branch)
	res, err := g.Pull(ctx, gitops.SyncOptions{Remote: remote, Retry: r, AfterFetch: opts.AfterFetch})
	if err != nil {
		return err
	}
	short := func(h fmt.Stringer) string { return h.String()[:7] }
	switch {
	case res.RemoteMissing:
		fmt.Fprintf(ios.ErrOut, "%s %s has no branch %s yet: nothing to pull (otomi push creates it)\n", ios.WarningIcon(), remote, remote.Branch)
	case res.UpToDate:
		fmt.Fprintf(ios.ErrOut, "%s already up to date with %s %s\n", ok, remote, remote.Branch)
	case res.LocalAhead > 0:
		fmt.Fprintf(ios.ErrOut, "%s up to date; %d local commit(s) not pushed yet (otomi push)\n", ok, res.LocalAhead)
	case res.FastForwarded:
		fmt.Fprintf(ios.ErrOut, "%s fast-forwarded to %s from %s %s\n", ok, short(res.After), remote, remote.Branch)
	case res.Rebased > 0:
		fmt.Fprintf(ios.ErrOut, "%s replayed %d local commit(s) on top of %s %s (%s); push them with otomi push\n", ok, res.Rebased, remote, remote.Branch, short(res.RemoteBefore))
	default:
		fmt.Fprintf(ios.ErrOut, "%s now at %s %s (%s)\n", ok, remote, remote.Branch, short(res.After))
	}

	lv, err := cmdutil.LoadValues(ctx, opts.Factory, false)
	if err != nil {
		return err
	}
	cmdutil.PrintProblems(ios, ios.ErrOut, "values", lv.Problems)
	if len(lv.Problems.Errors()) > 0 {
		return cmdutil.ErrValidation
	}
	fmt.Fprintf(ios.ErrOut, "%s values valid\n", ok)
	return nil
}
