// Package decrypt implements `otomi decrypt`.
package decrypt

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/values"
)

// Options of decrypt.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	File    string
}

// NewCmdDecrypt builds the command; runF replaces the logic in tests.
func NewCmdDecrypt(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "decrypt FILE",
		Short: "Print the plaintext of a SOPS-encrypted file on stdout",
		Long: `Decrypt a SOPS-encrypted YAML file in memory and print its plaintext on stdout.
Nothing is written to disk; the file is left encrypted.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	return cmd
}

// Run decrypts the file to stdout.
func Run(ctx context.Context, opts *Options) error {
	data, err := os.ReadFile(opts.File)
	if err != nil {
		return fmt.Errorf("decrypt: %w", err)
	}
	if !values.IsEncrypted(data) {
		return fmt.Errorf("decrypt %s: not a SOPS-encrypted YAML file", opts.File)
	}
	plain, err := opts.Factory.Crypto().Decrypt(ctx, opts.File, data)
	if err != nil {
		return fmt.Errorf("decrypt %s: %w", opts.File, err)
	}
	_, err = opts.IO.Out.Write(plain)
	return err
}
