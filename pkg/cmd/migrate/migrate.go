// Package migrate implements `otomi migrate`.
package migrate

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/otomi/otomi/pkg/bootstrap"
	cmdbootstrap "github.com/otomi/otomi/pkg/cmd/bootstrap"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/migrate"
	"github.com/otomi/otomi/pkg/secrets"
)

// Options of migrate.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	DryRun  bool
	// Changes replaces the built-in values-changes.yaml.
	Changes string
}

// NewCmdMigrate builds the command; runF replaces the logic in tests.
func NewCmdMigrate(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Bring the values repo to the current values format",
		Long: `Apply the pending changes of values-changes.yaml (those with a version above the repo's
settings version) to the values repo: file renamings, relocations, additions, mutations and
deletions, {team} standing for every team. The result is checked against the values schema;
then the files that changed are written, secrets files encrypted in memory first, and
version records the level reached. A change that cannot apply stops everything: nothing is
written.

The values diff (secrets redacted) is printed on stdout. --dry-run prints it and writes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the values diff and write nothing")
	cmd.Flags().StringVar(&opts.Changes, "changes", "", "use this values-changes file instead of the one built in (to try a new migration)")
	return cmd
}

// Run migrates the repo.
func Run(ctx context.Context, opts *Options) error {
	f := opts.Factory
	ios := opts.IO
	sch, err := f.Schema()
	if err != nil {
		return err
	}
	changes, err := cmdbootstrap.LoadChanges(opts.Changes)
	if err != nil {
		return cmdbootstrap.ReportInvalid(ios, err)
	}
	keys, err := cmdbootstrap.AgeKeysFromEnv()
	if err != nil {
		return err
	}
	if p := bootstrap.ClusterKeyFile(keys, f.Globals.EnvDir); p != "" {
		defer secrets.UseAgeKeyFile(p)()
	}
	res, err := migrate.Run(ctx, migrate.Options{
		EnvDir:  f.Globals.EnvDir,
		Schema:  sch,
		Codec:   f.Crypto(),
		Changes: changes,
		DryRun:  opts.DryRun,
	})
	if err != nil {
		return cmdbootstrap.ReportInvalid(ios, err)
	}
	Print(ios.Out, ios.ErrOut, ios, res, opts.DryRun)
	return nil
}

// Print writes the diff on out and the summary on errOut.
func Print(out, errOut io.Writer, ios *iostreams.IOStreams, res *migrate.Result, dryRun bool) {
	if len(res.Applied) == 0 {
		fmt.Fprintf(errOut, "%s values repo %s is at version %d: nothing to migrate\n", ios.SuccessIcon(), res.Root, res.To)
		return
	}
	fmt.Fprint(out, res.Diff)
	changed := 0
	for _, w := range res.Writes {
		if w.Action != secrets.Unchanged {
			changed++
		}
	}
	for _, ch := range res.Applied {
		desc := ch.Description
		if desc == "" {
			desc = "(no description)"
		}
		fmt.Fprintf(errOut, "  version %d: %s\n", ch.Version, desc)
	}
	if dryRun {
		fmt.Fprintf(errOut, "%s dry run: migrating from version %d to %d would change %d files; nothing written\n", ios.WarningIcon(), res.From, res.To, changed)
		return
	}
	fmt.Fprintf(errOut, "%s migrated %s from version %d to %d: %d files changed\n", ios.SuccessIcon(), res.Root, res.From, res.To, changed)
}
