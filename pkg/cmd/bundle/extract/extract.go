// Package extract implements `otomi bundle extract`.
package extract

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/otomi/otomi/pkg/bundle"
	"github.com/otomi/otomi/pkg/cmd/bundle/shared"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
)

// Options of bundle extract.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	Bundle  string
	Dir     string
	Base    string
	Key     string
}

// NewCmdExtract builds the command; runF replaces the logic in tests.
func NewCmdExtract(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "extract FILE DIR",
		Short: "Unpack a bundle, checking every file",
		Long: `Unpack a bundle into DIR (new or empty), checking every file against the manifest as
it goes. Any failure (a checksum mismatch, a truncated bundle, a full disk) removes what
was written. An incremental bundle needs its base (--base OLD_BUNDLE).

DIR then holds the otomi binary, the platform, bundle-values.yaml and the OCI layout
images/; every command works from it with no network:
  DIR/otomi --platform-dir DIR validate-templates --env-dir VALUES`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Bundle, opts.Dir = args[0], args[1]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Base, "base", "", "the base bundle of an incremental bundle")
	cmd.Flags().StringVar(&opts.Key, "key", "", "require a signature by this ed25519 public key (PEM)")
	return cmd
}

// Run extracts the bundle.
func Run(ctx context.Context, opts *Options) error {
	ios := opts.IO
	key, err := shared.PublicKey(opts.Key)
	if err != nil {
		return err
	}
	h, err := bundle.Extract(ctx, bundle.ExtractOptions{
		ReadOptions: bundle.ReadOptions{Bundle: opts.Bundle, Base: opts.Base, PublicKey: key},
		Dir:         opts.Dir,
	})
	if err != nil {
		return err
	}
	var size int64
	for _, f := range h.Manifest.Files {
		size += f.Size
	}
	fmt.Fprintf(ios.ErrOut, "%s %s extracted to %s: %d files, %s, checksums match\n", ios.SuccessIcon(), opts.Bundle, opts.Dir, len(h.Manifest.Files), shared.MB(size))
	fmt.Fprintf(ios.ErrOut, "  next: %s --platform-dir %s validate-templates --env-dir VALUES\n", filepath.Join(opts.Dir, bundle.BinaryFile), opts.Dir)
	return nil
}
