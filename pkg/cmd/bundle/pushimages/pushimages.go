// Package pushimages implements `otomi bundle push-images`.
package pushimages

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/otomi/otomi/pkg/bundle"
	"github.com/otomi/otomi/pkg/cmd/bundle/shared"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
)

// Options of bundle push-images.
type Options struct {
	IO            *iostreams.IOStreams
	Factory       *cmdutil.Factory
	Bundle        string
	Base          string
	Key           string
	Registry      string
	Auth          shared.Registry
	PasswordStdin bool
	// EnvDir is the values repo to write otomi.imageRegistry into ("":
	// print the change instead).
	EnvDir string
}

// NewCmdPushImages builds the command; runF replaces the logic in tests.
func NewCmdPushImages(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "push-images FILE|DIR --registry HOST[/PREFIX]",
		Short: "Push a bundle's images to the site's registry, keeping digests",
		Long: `Push every image of a bundle (a bundle file, checked as it is read, or a folder
'bundle extract' made) to the site's registry: each image goes to HOST/PREFIX/<its path>
with its tag and the same digest. Blobs and manifests the registry already has are not
sent again: a re-push of the same bundle uploads nothing.

Then prints the values change that points the platform at the registry
(otomi.imageRegistry), or, with --env-dir, writes it into the values repo's
env/settings.yaml.`,
		Example: `  otomi bundle push-images platform.tar.zst --registry harbor.corp.example/mirror --username robot --password-stdin < token
  otomi bundle push-images platform.tar.zst --registry 10.0.0.5:5000 --insecure --env-dir values`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Bundle = args[0]
			opts.Registry = strings.TrimSuffix(opts.Registry, "/")
			if opts.Registry == "" || strings.Contains(opts.Registry, "://") {
				return cmdutil.FlagErrorf("--registry must be HOST[/PREFIX] (no scheme), got %q", opts.Registry)
			}
			if opts.PasswordStdin {
				if opts.Auth.Username == "" {
					return cmdutil.FlagErrorf("--password-stdin needs --username")
				}
				pw, err := shared.ReadPassword(opts.IO.In)
				if err != nil {
					return err
				}
				opts.Auth.Password = pw
			}
			if f.Globals.EnvDirSet {
				opts.EnvDir = f.Globals.EnvDir
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Registry, "registry", "", "the site's registry: HOST[/PREFIX]")
	fl.BoolVar(&opts.Auth.Insecure, "insecure", false, "push over plain HTTP or unverified TLS")
	fl.StringVar(&opts.Auth.Username, "username", "", "registry user (default: the docker config's credentials)")
	fl.BoolVar(&opts.PasswordStdin, "password-stdin", false, "read the registry password from stdin")
	fl.StringVar(&opts.Base, "base", "", "the base bundle of an incremental bundle")
	fl.StringVar(&opts.Key, "key", "", "require a signature by this ed25519 public key (PEM)")
	return cmd
}

// Run pushes the images.
func Run(ctx context.Context, opts *Options) error {
	ios := opts.IO
	key, err := shared.PublicKey(opts.Key)
	if err != nil {
		return err
	}
	ropts, nopts, tr := opts.Auth.Options()
	progress := shared.NewProgress(ios)
	rep, err := bundle.PushImages(ctx, bundle.PushOptions{
		ReadOptions: bundle.ReadOptions{Bundle: opts.Bundle, Base: opts.Base, PublicKey: key},
		Registry:    opts.Registry, Transport: tr, Remote: ropts, Name: nopts, Progress: progress.Func(),
	})
	progress.Done()
	if err != nil {
		return err
	}
	fmt.Fprintf(ios.ErrOut, "%s %d images in %s with their digests: %d blobs uploaded (%s), the others were there\n",
		ios.SuccessIcon(), len(rep.Images), opts.Registry, rep.Uploaded, shared.MB(rep.Bytes))
	if opts.EnvDir != "" {
		file, err := bundle.SetImageRegistry(opts.EnvDir, opts.Registry)
		if err != nil {
			return err
		}
		fmt.Fprintf(ios.ErrOut, "%s otomi.imageRegistry: %s written to %s\n", ios.SuccessIcon(), opts.Registry, file)
		return nil
	}
	fmt.Fprintf(ios.ErrOut, "Point the platform at it with this values change (env/settings.yaml), or re-run with --env-dir:\n")
	fmt.Fprintf(ios.Out, "otomi:\n  imageRegistry: %s\n", opts.Registry)
	return nil
}
