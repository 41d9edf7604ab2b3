// Package bootstrap implements `otomi bootstrap`.
package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/otomi/otomi"
	"github.com/otomi/otomi/pkg/bootstrap"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/migrate"
	"github.com/otomi/otomi/pkg/secrets"
)

// Options of bootstrap.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory

	// Input is a values file, "-" for stdin, "" for none.
	Input        string
	ClusterName  string
	Provider     string
	DomainSuffix string
	KMS          string
	KMSKeys      []string
	// Changes replaces the built-in values-changes.yaml.
	Changes string
}

// NewCmdBootstrap builds the command; runF replaces the logic in tests.
func NewCmdBootstrap(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Create or repair a values repo: layout, secrets, keys, git",
		Long: `Create a values repo in --env-dir, or repair an existing one, so that it validates and renders:

  - the skeleton: env/, .gitignore, .gitattributes (sops diff driver), README.md,
    .pre-commit-config.yaml, .vscode/ (the values schema for editors);
  - the values of --input (a YAML file, "-" for stdin) and the flags, split by the schema:
    secret (x-secret) values into the secrets files, the rest into their plain files;
  - every secret the schema can generate and the repo lacks (yours and the stored ones are
    kept), a root CA unless otomi.ca is given;
  - the keys: with --kms age (the default) the key of SOPS_AGE_KEY(_FILE), or a new key pair
    written to $XDG_CONFIG_HOME/otomi/keys/<cluster>.txt (mode 0600, never in the repo);
    with aws, gcp, azure, vault or pgp the key ids of --kms-key;
  - .sops.yaml, and every secrets file encrypted before it is written;
  - pending migrations of the values format (values-changes.yaml);
  - a git repository on branch main when there is none (nothing is committed).

Run it again with the same input and it changes nothing. Nothing is written unless every
step succeeded. Invalid values are reported like validate-values does (exit 3).`,
		Example: `  otomi bootstrap --env-dir my-values --cluster-name demo --provider custom --domain-suffix demo.example.com
  otomi bootstrap --env-dir my-values --input values.yaml
  otomi bootstrap --env-dir my-values --kms aws --kms-key arn:aws:kms:eu-west-1:111122223333:key/abcd`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.KMS != "" {
				if _, ok := secrets.Providers[opts.KMS]; !ok {
					return cmdutil.FlagErrorf("--kms must be one of %s, got %q", strings.Join(secrets.ProviderNames(), ", "), opts.KMS)
				}
			}
			if opts.Provider != "" {
				if err := checkProvider(opts.Factory, opts.Provider); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Input, "input", "i", "", `values to bootstrap with: a YAML file (may be SOPS-encrypted), "-" for stdin`)
	fl.StringVar(&opts.ClusterName, "cluster-name", "", "cluster.name")
	fl.StringVar(&opts.Provider, "provider", "", "cluster.provider (aws, azure, google, digitalocean, linode, ovh, scaleway, vultr, custom)")
	fl.StringVar(&opts.DomainSuffix, "domain-suffix", "", "cluster.domainSuffix")
	fl.StringVar(&opts.KMS, "kms", "", "key provider for the secrets files: age, aws, azure, gcp, pgp or vault (default: the repo's, else age)")
	fl.StringArrayVar(&opts.KMSKeys, "kms-key", nil, "key id for --kms (repeatable): age public key, KMS ARN, key resource id, key URL, transit URI or PGP fingerprint")
	fl.StringVar(&opts.Changes, "changes", "", "use this values-changes file instead of the one built in (to try a new migration)")
	return cmd
}

// checkProvider refuses a cluster provider the schema does not list.
func checkProvider(f *cmdutil.Factory, provider string) error {
	sch, err := f.Schema()
	if err != nil {
		return err
	}
	enum, ok := sch.Keyword("/cluster/provider", "enum")
	list, _ := enum.([]any)
	if !ok || len(list) == 0 {
		return nil
	}
	var names []string
	for _, e := range list {
		names = append(names, fmt.Sprint(e))
	}
	if !slices.Contains(names, provider) {
		return cmdutil.FlagErrorf("--provider must be one of %s, got %q", strings.Join(names, ", "), provider)
	}
	return nil
}

// Run bootstraps the values repo and reports what it did on stderr.
func Run(ctx context.Context, opts *Options) error {
	f := opts.Factory
	ios := opts.IO
	sch, err := f.Schema()
	if err != nil {
		return err
	}
	changes, err := LoadChanges(opts.Changes)
	if err != nil {
		return ReportInvalid(ios, err)
	}
	var input []byte
	name := opts.Input
	switch opts.Input {
	case "":
	case "-":
		name = "<stdin>"
		if input, err = io.ReadAll(ios.In); err != nil {
			return fmt.Errorf("read values from stdin: %w", err)
		}
	default:
		if input, err = os.ReadFile(opts.Input); err != nil {
			return fmt.Errorf("input: %w", err)
		}
	}
	keys, err := AgeKeysFromEnv()
	if err != nil {
		return err
	}
	res, err := bootstrap.Run(ctx, bootstrap.Options{
		EnvDir:       f.Globals.EnvDir,
		Input:        input,
		InputName:    name,
		ClusterName:  opts.ClusterName,
		Provider:     opts.Provider,
		DomainSuffix: opts.DomainSuffix,
		KMS:          opts.KMS,
		KMSKeys:      opts.KMSKeys,
		Keys:         keys,
		UseKeyFile:   secrets.UseAgeKeyFile,
		Schema:       sch,
		SchemaYAML:   otomi.ValuesSchema,
		Platform:     otomi.Platform(),
		Codec:        f.Crypto(),
		Changes:      changes,
	})
	if err != nil {
		return ReportInvalid(ios, err)
	}
	printResult(ios, res, keys)
	return nil
}

// LoadChanges reads the values-changes file named (or the built-in one).
func LoadChanges(file string) (*migrate.Changes, error) {
	if file == "" {
		return migrate.LoadBuiltin(otomi.Platform())
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	return migrate.Parse(otomi.Platform(), file, data)
}

// AgeKeysFromEnv returns where age keys come from: the variables sops
// reads (empty counts as unset) and otomi's key folder.
func AgeKeysFromEnv() (bootstrap.AgeKeys, error) {
	dir, err := secrets.AgeKeyDir()
	if err != nil {
		dir = ""
	}
	return bootstrap.AgeKeys{
		EnvKey:     os.Getenv(secrets.AgeKeyEnv),
		EnvKeyFile: os.Getenv(secrets.AgeKeyFileEnv),
		Dir:        dir,
	}, nil
}

// ReportInvalid prints the problems of an *migrate.Invalid like
// validate-values and turns it into ErrValidation (exit 3); other errors
// pass through.
func ReportInvalid(ios *iostreams.IOStreams, err error) error {
	var inv *migrate.Invalid
	if errors.As(err, &inv) {
		cmdutil.PrintProblems(ios, ios.ErrOut, inv.Subject, inv.Problems)
		fmt.Fprintf(ios.ErrOut, "nothing was written\n")
		return cmdutil.ErrValidation
	}
	return err
}

func printResult(ios *iostreams.IOStreams, res *bootstrap.Result, keys bootstrap.AgeKeys) {
	w := ios.ErrOut
	ok := ios.SuccessIcon()
	for _, fw := range res.Writes {
		if fw.Action == secrets.Unchanged {
			continue
		}
		suffix := ""
		if fw.Secret {
			suffix = " (encrypted)"
		}
		fmt.Fprintf(w, "%s %s %s%s\n", ok, fw.Action, fw.Path, suffix)
	}
	if len(res.Migrated) > 0 {
		fmt.Fprintf(w, "%s migrated the values from version %d to %d\n", ok, res.From, res.To)
	}
	if n := len(res.Moved); n > 0 {
		fmt.Fprintf(w, "%s moved %d secrets out of plain files into secrets files: %s\n", ok, n, strings.Join(res.Moved, ", "))
	}
	if n := len(res.Generated); n > 0 {
		fmt.Fprintf(w, "%s generated %d secrets: %s\n", ok, n, strings.Join(res.Generated, ", "))
	}
	if res.CA {
		fmt.Fprintf(w, "%s generated a root CA (otomi.ca, ECDSA P-256, valid 10 years)\n", ok)
	}
	switch {
	case res.KeyGenerated:
		fmt.Fprintf(w, "%s age key written to %s (mode 0600, outside the repo): keep a copy in a safe place, never commit it\n", ok, res.KeyFile)
		fmt.Fprintf(w, "  export %s=%s\n", secrets.AgeKeyFileEnv, res.KeyFile)
	case res.KeyFile != "" && res.KeyFile != secrets.AgeKeyEnv && res.KeyFile != keys.EnvKeyFile:
		// the cluster's own key, found in otomi's key folder
		fmt.Fprintf(w, "%s using the cluster's age key %s; for the other commands:\n", ok, res.KeyFile)
		fmt.Fprintf(w, "  export %s=%s\n", secrets.AgeKeyFileEnv, res.KeyFile)
	}
	if res.GitInit {
		fmt.Fprintf(w, "%s git repository initialised on branch %s; nothing committed\n", ok, bootstrap.DefaultBranch)
	}
	if n := res.Written(); n == 0 {
		fmt.Fprintf(w, "%s values repo %s is up to date: nothing to write\n", ok, res.Root)
	} else {
		fmt.Fprintf(w, "%s values repo ready in %s: %d files written\n", ok, res.Root, n)
	}
}
