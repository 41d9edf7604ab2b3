// Package keygen implements `otomi bundle keygen`.
package keygen

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/otomi/otomi/pkg/bundle"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
)

// Options of bundle keygen.
type Options struct {
	IO     *iostreams.IOStreams
	Output string
}

// NewCmdKeygen builds the command; runF replaces the logic in tests.
func NewCmdKeygen(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Make an ed25519 key pair to sign bundles",
		Long: `Write an ed25519 private key (PEM PKCS#8, mode 0600) to FILE and its public key (PEM
PKIX) to FILE.pub: sign with 'bundle create --sign-key FILE', check with
'bundle verify --key FILE.pub'. openssl makes and reads the same formats.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "otomi-bundle.key", "the private key file (the public key goes to FILE.pub)")
	return cmd
}

// Run writes the key pair.
func Run(_ context.Context, opts *Options) error {
	for _, p := range []string{opts.Output, opts.Output + ".pub"} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s exists: not overwriting a key", p)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	priv, pub, err := bundle.GenerateKey()
	if err != nil {
		return err
	}
	if err := os.WriteFile(opts.Output, priv, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(opts.Output+".pub", pub, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "%s private key %s, public key %s.pub\n", opts.IO.SuccessIcon(), opts.Output, opts.Output)
	return nil
}
