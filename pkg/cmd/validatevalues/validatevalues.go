// Package validatevalues implements `otomi validate-values`.
package validatevalues

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/values"
)

// Options of validate-values.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	Output  string
}

// NewCmdValidateValues builds the command; runF replaces the logic in tests.
func NewCmdValidateValues(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "validate-values",
		Short: "Validate the values repo against the values schema",
		Long: `Validate the merged values of the values repo (--env-dir) against values-schema.yaml.

Every violation is reported with the file, line and column that set the value, its
JSON pointer, and what was expected. Secrets files are decrypted in memory; values
from them print as <redacted>. Exits 3 when the values are invalid.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Output != "text" && opts.Output != "json" {
				return cmdutil.FlagErrorf("--output must be text or json, got %q", opts.Output)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "report format: text or json")
	return cmd
}

// Report is the JSON form of the result.
type Report struct {
	Valid    bool            `json:"valid"`
	Errors   int             `json:"errors"`
	Warnings int             `json:"warnings"`
	Files    int             `json:"files"`
	Problems values.Problems `json:"problems"`
}

// Run validates the values repo.
func Run(ctx context.Context, opts *Options) error {
	lv, err := cmdutil.LoadValues(ctx, opts.Factory, false)
	if err != nil {
		return err
	}
	errs := lv.Problems.Errors()
	if opts.Output == "json" {
		r := Report{Valid: len(errs) == 0, Errors: len(errs), Warnings: len(lv.Problems) - len(errs), Files: len(lv.Values.Sources), Problems: lv.Problems}
		if r.Problems == nil {
			r.Problems = values.Problems{}
		}
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		cmdutil.PrintProblems(opts.IO, opts.IO.ErrOut, "values", lv.Problems)
	}
	if len(errs) > 0 {
		return cmdutil.ErrValidation
	}
	if opts.Output == "text" {
		secrets := 0
		for _, f := range lv.Values.Files() {
			if f.Secret {
				secrets++
			}
		}
		fmt.Fprintf(opts.IO.ErrOut, "%s values valid: %d files (%d secrets files) in %s\n",
			opts.IO.SuccessIcon(), len(lv.Values.Sources), secrets, lv.Values.Repo.Root)
	}
	return nil
}
