// Package printvalues implements `otomi values`.
package printvalues

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/schema"
)

// Options of values.
type Options struct {
	IO             *iostreams.IOStreams
	Factory        *cmdutil.Factory
	ExcludeSecrets bool
	FilesOnly      bool
	Output         string
}

// NewCmdValues builds the command; runF replaces the logic in tests.
func NewCmdValues(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "values",
		Short: "Print the merged values of the values repo",
		Long: `Print the merged values of the values repo (--env-dir) on stdout: the schema's
defaults, then every values file, secrets decrypted in memory.

With --exclude-secrets every secret (x-secret in the schema, or read from an
encrypted file) prints as <redacted>. With --files-only the schema defaults are
left out.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Output != "yaml" && opts.Output != "json" {
				return cmdutil.FlagErrorf("--output must be yaml or json, got %q", opts.Output)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.ExcludeSecrets, "exclude-secrets", false, "print secrets as "+schema.Redacted)
	cmd.Flags().BoolVar(&opts.FilesOnly, "files-only", false, "leave out the schema defaults: only what the files set")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "yaml", "output format: yaml or json")
	return cmd
}

// Run prints the values.
func Run(ctx context.Context, opts *Options) error {
	lv, err := cmdutil.LoadValues(ctx, opts.Factory, opts.FilesOnly)
	if err != nil {
		return err
	}
	if len(lv.LoadProblems.Errors()) > 0 {
		cmdutil.PrintProblems(opts.IO, opts.IO.ErrOut, "values", lv.Problems)
		return cmdutil.ErrValidation
	}
	if n := len(lv.Problems.Errors()); n > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "%s the values do not validate (%d errors): run 'otomi validate-values'\n", opts.IO.WarningIcon(), n)
	}
	tree := lv.Values.Tree
	if opts.ExcludeSecrets {
		tree = lv.Schema.Redact(lv.Values)
	}
	if opts.Output == "json" {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(tree)
	}
	enc := yaml.NewEncoder(opts.IO.Out)
	enc.SetIndent(2)
	if err := enc.Encode(tree); err != nil {
		return err
	}
	return enc.Close()
}
