// Package verify implements `otomi bundle verify`.
package verify

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/otomi/otomi/pkg/bundle"
	"github.com/otomi/otomi/pkg/cmd/bundle/shared"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
)

// Options of bundle verify.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	Bundle  string
	Base    string
	Key     string
}

// NewCmdVerify builds the command; runF replaces the logic in tests.
func NewCmdVerify(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check a bundle: checksums, signature, image completeness",
		Long: `Check a bundle without unpacking it: the manifest's checksum, its ed25519 signature
(with --key), the sha256 of every file, that the OCI layout holds every blob its
manifests reference, and that every image the bundled platform renders (with the
bundle's values, every app enabled when it was made so) is in the bundle. Needs no
network. An incremental bundle needs its base (--base).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Bundle = args[0]
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

// Run verifies the bundle.
func Run(ctx context.Context, opts *Options) error {
	ios := opts.IO
	key, err := shared.PublicKey(opts.Key)
	if err != nil {
		return err
	}
	rep, err := bundle.Verify(ctx, bundle.VerifyOptions{
		ReadOptions:  bundle.ReadOptions{Bundle: opts.Bundle, Base: opts.Base, PublicKey: key},
		RenderImages: bundle.RenderBundled,
	})
	if err != nil {
		return err
	}
	h := rep.Head
	m := h.Manifest
	switch {
	case rep.SignatureChecked:
		fmt.Fprintf(ios.ErrOut, "%s %s: sha256 %s, signed by %s\n", ios.SuccessIcon(), bundle.ManifestFile, h.SHA256[:16], opts.Key)
	case h.Signature != nil:
		fmt.Fprintf(ios.ErrOut, "%s %s: sha256 %s, signed; signature not checked (give --key)\n", ios.WarningIcon(), bundle.ManifestFile, h.SHA256[:16])
	default:
		fmt.Fprintf(ios.ErrOut, "%s %s: sha256 %s, not signed\n", ios.WarningIcon(), bundle.ManifestFile, h.SHA256[:16])
	}
	from := ""
	if m.Base != nil {
		from = " (with its base " + opts.Base + ")"
	}
	fmt.Fprintf(ios.ErrOut, "%s %d files, %s: checksums match%s\n", ios.SuccessIcon(), rep.Files, shared.MB(rep.Bytes), from)
	fmt.Fprintf(ios.ErrOut, "%s image layout complete: %d images\n", ios.SuccessIcon(), len(m.Images))
	how := "its values"
	if m.Apps == "all" {
		how = "every app enabled"
	}
	fmt.Fprintf(ios.ErrOut, "%s every image of the bundled platform is in the bundle: %d rendered with %s\n", ios.SuccessIcon(), len(rep.Rendered), how)
	return nil
}
