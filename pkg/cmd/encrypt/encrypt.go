// Package encrypt implements `otomi encrypt`.
package encrypt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/gitops"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/secrets"
	"github.com/otomi/otomi/pkg/values"
)

// Options of encrypt.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	Files   []string
}

// NewCmdEncrypt builds the command; runF replaces the logic in tests.
func NewCmdEncrypt(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "encrypt [FILE...]",
		Short: "Encrypt plaintext secrets files in place with SOPS",
		Long: `Encrypt the plaintext secrets.*.yaml files of the values repo in place, following
the creation rules of the repo's .sops.yaml. Without FILE, every plaintext secrets file
under env/ is encrypted.

A file that is already encrypted is left alone. A file whose plaintext equals the
committed (HEAD) version gets the committed ciphertext back, so an unchanged secret
makes no git diff. A file is replaced only once its encryption succeeded.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	return cmd
}

// Run encrypts the files.
func Run(ctx context.Context, opts *Options) error {
	repo, err := values.Locate(opts.Factory.Globals.EnvDir)
	if err != nil {
		return err
	}
	sopsConfig, ok := repo.SopsConfig()
	if !ok {
		return fmt.Errorf("no %s in %s: write one with creation_rules for env/**/secrets.*.yaml (otomi bootstrap does)", values.SopsConfigFile, repo.Root)
	}
	files := opts.Files
	if len(files) == 0 {
		if files, err = values.PlaintextSecretsFiles(repo); err != nil {
			return err
		}
		if len(files) == 0 {
			fmt.Fprintf(opts.IO.ErrOut, "%s no plaintext secrets files in %s\n", opts.IO.SuccessIcon(), repo.Env)
			return nil
		}
	}
	if failed := EncryptFiles(ctx, opts.IO, opts.Factory.Crypto(), repo, sopsConfig, files); failed > 0 {
		return &cmdutil.SilentError{Code: cmdutil.ExitError}
	}
	return ctx.Err()
}

// EncryptFiles encrypts files in place following .sops.yaml (see
// secrets.EncryptFile), reports each on stderr and returns how many failed.
func EncryptFiles(ctx context.Context, ios *iostreams.IOStreams, codec secrets.Codec, repo values.Repo, sopsConfig string, files []string) (failed int) {
	for _, file := range files {
		if ctx.Err() != nil {
			return failed + 1
		}
		name := displayName(repo, file)
		outcome, err := encryptOne(ctx, codec, sopsConfig, file)
		if err != nil {
			failed++
			fmt.Fprintf(ios.ErrOut, "%s %s: %v\n", ios.FailureIcon(), name, err)
			continue
		}
		fmt.Fprintf(ios.ErrOut, "%s %s: %s\n", ios.SuccessIcon(), name, outcome)
	}
	return failed
}

func encryptOne(ctx context.Context, codec secrets.Codec, sopsConfig, file string) (secrets.Outcome, error) {
	st, err := os.Stat(file)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return 0, errors.New("no such file")
	case err != nil:
		return 0, err
	case !st.Mode().IsRegular():
		return 0, errors.New("not a regular file")
	}
	rule, err := secrets.RuleFor(sopsConfig, file)
	if err != nil {
		return 0, err
	}
	return secrets.EncryptFile(ctx, codec, rule, file, gitops.CommittedFile)
}

func displayName(repo values.Repo, file string) string {
	abs, err := filepath.Abs(file)
	if err != nil {
		return file
	}
	rel := repo.Rel(abs)
	if strings.HasPrefix(rel, "..") {
		return file
	}
	return rel
}
