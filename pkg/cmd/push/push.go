// Package push implements `otomi push` (alias `otomi commit`).
package push

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/otomi/otomi/pkg/cmd/encrypt"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/gitops"
	"github.com/otomi/otomi/pkg/gitops/gitnet"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/values"
)

// DefaultMessage is the commit message when -m is not given.
const DefaultMessage = "Update values (otomi push)"

// Options of push.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory

	Message     string
	Remote      string
	Branch      string
	AuthorName  string
	AuthorEmail string
	SSHKey      string

	// Getenv reads the environment (CI, OTOMI_GIT_*).
	Getenv func(string) string
	// Retry is the backoff on transient network errors.
	Retry gitnet.Retry
	// AfterFetch runs after each fetch, before the push (tests race it).
	AfterFetch func(context.Context) error
}

// NewCmdPush builds the command; runF replaces the logic in tests.
func NewCmdPush(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f, Getenv: os.Getenv, Retry: gitnet.DefaultRetry}
	cmd := &cobra.Command{
		Use:     "push",
		Aliases: []string{"commit"},
		Short:   "Validate, encrypt, commit and push the values repo",
		Long: `Commit the changes of the values repo and push them to its git remote.

In order: validate the values (an invalid repo is not committed: exit 3), encrypt
every plaintext secrets file (an unchanged one gets its committed ciphertext back),
refuse any secrets file still in plaintext while .sops.yaml exists, commit, fetch
the remote branch, integrate it (fast-forward, or replay the local commit on top of
the remote when both moved on), and push. When the remote changed the same files,
nothing is pushed and the local commit is kept. Nothing is ever force-pushed.

The remote is --remote, else the repo's origin, else otomi.git.repoUrl; the branch
is --branch, else otomi.git.branch. Credentials: those in the URL, else
$OTOMI_GIT_USERNAME/$OTOMI_GIT_PASSWORD, else otomi.git.username/password (sent
only to the host of otomi.git.repoUrl). ssh remotes use --ssh-key
($OTOMI_GIT_SSH_KEY, passphrase in $OTOMI_GIT_SSH_KEY_PASSPHRASE) or the ssh agent.
The author is --author-name/--author-email, else $OTOMI_GIT_AUTHOR_NAME/EMAIL, else
git config user.name/user.email (repository, global, system), else otomi.git.
With CI=true the default message ends with [ci skip].`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("message") && strings.TrimSpace(opts.Message) == "" {
				return cmdutil.FlagErrorf("--message must not be empty")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Message, "message", "m", "", "commit message (default \""+DefaultMessage+"\")")
	fl.StringVar(&opts.Remote, "remote", "", "remote URL (default: origin, else otomi.git.repoUrl)")
	fl.StringVar(&opts.Branch, "branch", "", "remote branch (default: otomi.git.branch)")
	fl.StringVar(&opts.AuthorName, "author-name", "", "commit author name [$OTOMI_GIT_AUTHOR_NAME]")
	fl.StringVar(&opts.AuthorEmail, "author-email", "", "commit author email [$OTOMI_GIT_AUTHOR_EMAIL]")
	fl.StringVar(&opts.SSHKey, "ssh-key", "", "private key file for ssh remotes [$OTOMI_GIT_SSH_KEY]")
	return cmd
}

// Message returns the commit message: the given one, or the default, which
// in CI ends with [ci skip] so that a pipeline run on push does not loop.
func Message(given string, getenv func(string) string) string {
	if strings.TrimSpace(given) != "" {
		return given
	}
	if ci, _ := strconv.ParseBool(getenv("CI")); ci {
		return DefaultMessage + " [ci skip]"
	}
	return DefaultMessage
}

// Run validates, encrypts, commits and pushes.
func Run(ctx context.Context, opts *Options) error {
	ios := opts.IO
	repo, err := values.Locate(opts.Factory.Globals.EnvDir)
	if err != nil {
		return err
	}
	g, err := gitops.Open(repo.Root)
	if err != nil && !errors.Is(err, gitops.ErrNotRepository) {
		return err
	}
	if g != nil {
		if err := g.Check(); err != nil {
			return err
		}
	}
	lv, err := validate(ctx, opts)
	if err != nil {
		return err
	}
	sopsConfig, hasSops := repo.SopsConfig()
	if hasSops {
		if err := encryptSecrets(ctx, opts, repo, sopsConfig); err != nil {
			return err
		}
	}
	gv := gitops.GitValuesOf(lv.Values.Tree)
	spec := gitops.Spec(gv, opts.Remote, opts.Branch, opts.SSHKey, opts.Getenv)
	if g == nil {
		if g, err = gitops.Init(repo.Root, spec.Branch); err != nil {
			return err
		}
		fmt.Fprintf(ios.ErrOut, "%s initialised a git repository in %s (branch %s)\n", ios.SuccessIcon(), repo.Root, spec.Branch)
	}
	committed, err := commit(opts, g, gv, hasSops)
	if err != nil {
		return err
	}
	return sync(ctx, opts, g, spec, committed)
}

// validate loads and checks the values. Plaintext secrets files are what
// the push encrypts next: their problems do not stop it.
func validate(ctx context.Context, opts *Options) (*cmdutil.LoadedValues, error) {
	ios := opts.IO
	lv, err := cmdutil.LoadValues(ctx, opts.Factory, false)
	if err != nil {
		return nil, err
	}
	var problems values.Problems
	for _, p := range lv.Problems {
		if p.Rule == "encryption" && !p.Warning {
			continue
		}
		problems = append(problems, p)
	}
	cmdutil.PrintProblems(ios, ios.ErrOut, "values", problems)
	if len(problems.Errors()) > 0 {
		fmt.Fprintf(ios.ErrOut, "%s nothing committed: fix the values first\n", ios.FailureIcon())
		return nil, cmdutil.ErrValidation
	}
	fmt.Fprintf(ios.ErrOut, "%s values valid\n", ios.SuccessIcon())
	return lv, nil
}

// commit stages and commits the changes of the values repo; false when
// there were none.
func commit(opts *Options, g *gitops.Repo, gv gitops.GitValues, hasSops bool) (bool, error) {
	changes, err := g.Changes()
	if err != nil {
		return false, err
	}
	if hasSops {
		if err := refusePlaintext(g, changes); err != nil {
			return false, err
		}
	}
	if len(changes) == 0 {
		return false, nil
	}
	author, err := resolveAuthor(g, opts, gv)
	if err != nil {
		return false, err
	}
	h, err := g.Commit(changes, Message(opts.Message, opts.Getenv), author)
	if errors.Is(err, gitops.ErrNothingToCommit) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	info, err := g.Describe(h)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(opts.IO.ErrOut, "%s committed %s %q as %s <%s>: %s\n", opts.IO.SuccessIcon(), short(h), info.Subject,
		info.Author.Name, info.Author.Email, filesSummary(info.Files))
	return true, nil
}

// sync integrates the remote branch and pushes. Without a new commit it
// only pushes what an earlier push left behind.
func sync(ctx context.Context, opts *Options, g *gitops.Repo, spec gitops.RemoteSpec, committed bool) error {
	ios := opts.IO
	ok := ios.SuccessIcon()
	remote, err := g.ResolveRemote(spec)
	if committed && err != nil {
		return fmt.Errorf("%w; the commit is kept locally", err)
	}
	if !committed {
		head, hasHead, herr := g.Head()
		switch {
		case herr != nil:
			return herr
		case !hasHead:
			fmt.Fprintf(ios.ErrOut, "%s nothing to commit (the repository has no commit yet)\n", ok)
			return nil
		case errors.Is(err, gitops.ErrNoRemote):
			fmt.Fprintf(ios.ErrOut, "%s nothing to commit, working tree clean (no remote configured)\n", ok)
			return nil
		case err != nil:
			return err
		}
		if last, seen := g.Tracking(remote); seen && last == head {
			fmt.Fprintf(ios.ErrOut, "%s nothing to commit, working tree clean; %s is up to date with %s\n", ok, remote.Branch, remote)
			return nil
		}
		fmt.Fprintf(ios.ErrOut, "%s nothing to commit; pushing the local commits not on %s %s yet\n", ok, remote, remote.Branch)
	}
	opts.Factory.Logger.Debug("push", "remote", remote.String(), "source", remote.Source, "branch", remote.Branch)
	r := opts.Retry
	r.OnRetry = func(attempt int, wait time.Duration, err error) {
		fmt.Fprintf(ios.ErrOut, "%s %s; retrying in %s (attempt %d of %d)\n", ios.WarningIcon(), err, wait, attempt+1, max(r.Attempts, 1))
	}
	res, err := g.Push(ctx, gitops.SyncOptions{Remote: remote, Retry: r, AfterFetch: opts.AfterFetch})
	var conflict *gitops.ConflictError
	switch {
	case err == nil:
		report(ios, remote, res)
		return nil
	case committed && !errors.As(err, &conflict):
		return fmt.Errorf("%w (the commit is kept locally: run otomi push again)", err)
	default:
		return err
	}
}

// encryptSecrets encrypts every plaintext secrets file of env/ in place
// (an unchanged one gets its committed ciphertext back), as otomi encrypt.
func encryptSecrets(ctx context.Context, opts *Options, repo values.Repo, sopsConfig string) error {
	files, err := values.PlaintextSecretsFiles(repo)
	if err != nil {
		return fmt.Errorf("encrypt secrets files: %w", err)
	}
	if len(files) == 0 {
		return nil
	}
	if failed := encrypt.EncryptFiles(ctx, opts.IO, opts.Factory.Crypto(), repo, sopsConfig, files); failed > 0 {
		return fmt.Errorf("%d secrets files could not be encrypted: nothing committed", failed)
	}
	return nil
}

func isSecretsFile(name string) bool {
	return strings.HasPrefix(name, "secrets.") && (strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml"))
}

// refusePlaintext is the last guard before a commit: no secrets file may
// be committed in plaintext while the repo has a .sops.yaml.
func refusePlaintext(g *gitops.Repo, changes []gitops.Change) error {
	var plain []string
	for _, c := range changes {
		if c.Deleted || !isSecretsFile(path.Base(c.Path)) {
			continue
		}
		data, err := os.ReadFile(g.Abs(c.Path))
		if err != nil {
			return err
		}
		if !values.IsEncrypted(data) {
			plain = append(plain, c.Path)
		}
	}
	if len(plain) > 0 {
		return fmt.Errorf("refusing to commit secrets files in plaintext while .sops.yaml exists: %s (encrypt them with otomi encrypt, or move them where .sops.yaml's creation rules apply)", strings.Join(plain, ", "))
	}
	return nil
}

func resolveAuthor(g *gitops.Repo, opts *Options, gv gitops.GitValues) (gitops.Identity, error) {
	sources := []gitops.IdentitySource{
		{From: "--author-name/--author-email", Identity: gitops.Identity{Name: opts.AuthorName, Email: opts.AuthorEmail}},
		{From: "$" + gitops.EnvAuthorName + "/$" + gitops.EnvAuthorEmail, Identity: gitops.Identity{Name: opts.Getenv(gitops.EnvAuthorName), Email: opts.Getenv(gitops.EnvAuthorEmail)}},
	}
	fromConfig, err := g.ConfigIdentities()
	if err != nil {
		return gitops.Identity{}, err
	}
	sources = append(sources, fromConfig...)
	sources = append(sources, gitops.IdentitySource{From: "otomi.git.username/email", Identity: gitops.Identity{Name: gv.Username, Email: gv.Email}})
	return gitops.ResolveAuthor(sources)
}

func filesSummary(files []string) string {
	const show = 5
	if len(files) <= show {
		return strings.Join(files, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(files[:show], ", "), len(files)-show)
}

func short(h interface{ String() string }) string { return h.String()[:7] }

func report(ios *iostreams.IOStreams, remote *gitops.Remote, res *gitops.Result) {
	ok := ios.SuccessIcon()
	if res.Rebased > 0 {
		fmt.Fprintf(ios.ErrOut, "%s replayed %d local commit(s) on top of %s (%s)\n", ok, res.Rebased, remote.Branch, short(res.RemoteBefore))
	}
	switch {
	case res.Pushed && res.Created:
		fmt.Fprintf(ios.ErrOut, "%s pushed %s to %s, creating branch %s\n", ok, short(res.After), remote, remote.Branch)
	case res.Pushed:
		fmt.Fprintf(ios.ErrOut, "%s pushed %s to %s %s\n", ok, short(res.After), remote, remote.Branch)
	case res.RemoteAhead:
		fmt.Fprintf(ios.ErrOut, "%s nothing to push: %s %s has newer commits (run otomi pull)\n", ios.WarningIcon(), remote, remote.Branch)
	default:
		fmt.Fprintf(ios.ErrOut, "%s %s %s is up to date\n", ok, remote, remote.Branch)
	}
}
