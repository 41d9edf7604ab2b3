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
		if files, err = plaintextSecrets(repo); err != nil {
			return err
		}
		if len(files) == 0 {
			fmt.Fprintf(opts.IO.ErrOut, "%s no plaintext secrets files in %s\n", opts.IO.SuccessIcon(), repo.Env)
			return nil
		}
	}
	codec := opts.Factory.Crypto()
	failed := 0
	for _, file := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := displayName(repo, file)
		outcome, err := encryptOne(ctx, codec, sopsConfig, file)
		if err != nil {
			failed++
			fmt.Fprintf(opts.IO.ErrOut, "%s %s: %v\n", opts.IO.FailureIcon(), name, err)
			continue
		}
		fmt.Fprintf(opts.IO.ErrOut, "%s %s: %s\n", opts.IO.SuccessIcon(), name, outcome)
	}
	if failed > 0 {
		return &cmdutil.SilentError{Code: cmdutil.ExitError}
	}
	return nil
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

// plaintextSecrets lists the secrets files under env/ that are not encrypted.
func plaintextSecrets(repo values.Repo) ([]string, error) {
	var out []string
	err := filepath.WalkDir(repo.Env, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != repo.Env {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), "secrets.") || !strings.HasSuffix(d.Name(), ".yaml") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !values.IsEncrypted(data) {
			out = append(out, p)
		}
		return nil
	})
	return out, err
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
