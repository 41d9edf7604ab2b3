// Package images implements `otomi images`.
package images

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/otomi/otomi/pkg/cmd/template"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/render"
)

// Options of images.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	Render  cmdutil.RenderFlags
	Output  string
}

// NewCmdImages builds the command; runF replaces the logic in tests.
func NewCmdImages(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "images",
		Short: "List the container images the rendered platform uses",
		Long: `Render the platform (or -f HELMFILE) and print the sorted, de-duplicated list of
container images its objects use: containers, init containers and ephemeral containers
of every kind that carries a pod spec.`,
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
	template.AddRenderFlags(cmd, &opts.Render)
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "text or json")
	return cmd
}

// Run prints the images.
func Run(ctx context.Context, opts *Options) error {
	loaded, err := cmdutil.LoadReleases(ctx, opts.Factory, opts.Render)
	if err != nil {
		return err
	}
	releases := loaded.Releases
	manifests, err := render.Render(ctx, releases, render.RenderOptions{})
	if err != nil {
		return cmdutil.RenderError(err)
	}
	imgs := render.Images(manifests)
	if opts.Output == "json" {
		if imgs == nil {
			imgs = []string{}
		}
		return json.NewEncoder(opts.IO.Out).Encode(imgs)
	}
	for _, img := range imgs {
		fmt.Fprintln(opts.IO.Out, img)
	}
	return nil
}
