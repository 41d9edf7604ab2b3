// Package bundle implements `otomi bundle`: air-gap bundles.
package bundle

import (
	"github.com/spf13/cobra"

	"github.com/otomi/otomi/pkg/cmd/bundle/create"
	"github.com/otomi/otomi/pkg/cmd/bundle/extract"
	"github.com/otomi/otomi/pkg/cmd/bundle/keygen"
	"github.com/otomi/otomi/pkg/cmd/bundle/pushimages"
	"github.com/otomi/otomi/pkg/cmd/bundle/verify"
	"github.com/otomi/otomi/pkg/cmdutil"
)

// NewCmdBundle builds `otomi bundle` and its subcommands.
func NewCmdBundle(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Air-gapped installs: one file with otomi, the platform and every image",
		Long: `Prepare a bundle where there is network (create), carry the one file to the isolated
site, then check it (verify), unpack it (extract) and push its images to the site's
registry (push-images). See docs/airgap.md.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(
		create.NewCmdCreate(f, nil),
		verify.NewCmdVerify(f, nil),
		extract.NewCmdExtract(f, nil),
		pushimages.NewCmdPushImages(f, nil),
		keygen.NewCmdKeygen(f, nil),
	)
	return cmd
}
