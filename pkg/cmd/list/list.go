// Package list implements `otomi list`.
package list

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/otomi/otomi/pkg/cmd/template"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/render"
)

// Options of list.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	Render  cmdutil.RenderFlags
	Output  string
}

// NewCmdList builds the command; runF replaces the logic in tests.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the platform's releases",
		Long:  "List the releases of the platform (or of -f HELMFILE): labels, needs, installed flag and chart version.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Output != "table" && opts.Output != "json" {
				return cmdutil.FlagErrorf("--output must be table or json, got %q", opts.Output)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	template.AddRenderFlags(cmd, &opts.Render)
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "table", "table or json")
	return cmd
}

// Run lists the releases.
func Run(ctx context.Context, opts *Options) error {
	loaded, err := cmdutil.LoadReleases(ctx, opts.Factory, opts.Render)
	if err != nil {
		return err
	}
	releases := loaded.Releases
	for _, r := range releases {
		if md, err := chartutil.LoadChartfile(r.ChartPath + "/Chart.yaml"); err == nil {
			r.ChartVersion = md.Version
		}
	}
	if opts.Output == "json" {
		out := releases
		if out == nil {
			out = []*render.Release{}
		}
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	w := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tNAMESPACE\tINSTALLED\tCHART\tVERSION\tLABELS\tNEEDS")
	for _, r := range releases {
		fmt.Fprintf(w, "%s\t%s\t%t\t%s\t%s\t%s\t%s\n", r.Name, r.Namespace, r.Installed, r.Chart, r.ChartVersion, labels(r.Labels), strings.Join(r.Needs, ","))
	}
	return w.Flush()
}

func labels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k == "name" || k == "namespace" || k == "chart" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}
