// Package destroy implements `otomi destroy`.
package destroy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/otomi/otomi/pkg/build"
	"github.com/otomi/otomi/pkg/cmd/apply"
	"github.com/otomi/otomi/pkg/cmd/template"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/kube"
)

// Options of destroy.
type Options struct {
	IO          *iostreams.IOStreams
	Factory     *cmdutil.Factory
	Target      apply.TargetOptions
	Yes         bool
	Full        bool
	Concurrency int
	Timeout     time.Duration
	KeepGoing   bool
	Output      string
}

// NewCmdDestroy builds the command; runF replaces the logic in tests.
func NewCmdDestroy(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "destroy",
		Short: "Uninstall the platform's releases from the cluster",
		Long: `Uninstall the platform's releases (or those selected with -l) that are in the cluster, in
reverse order: later stages first, a release before those it needs. The namespaces the
releases created stay, and so do the CRDs of their charts, unless --full. Asks for
confirmation on a terminal; --yes skips it (and is required without a terminal).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Output != "text" && opts.Output != "json" {
				return cmdutil.FlagErrorf("--output must be text or json, got %q", opts.Output)
			}
			if opts.Concurrency < 1 {
				return cmdutil.FlagErrorf("--concurrency must be at least 1, got %d", opts.Concurrency)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return apply.ExitError(opts.IO, Run(cmd.Context(), opts))
		},
	}
	template.AddRenderFlags(cmd, &opts.Target.Render)
	_ = cmd.Flags().MarkHidden("kube-version")
	apply.AddClusterFlags(cmd, &opts.Target.Cluster)
	fl := cmd.Flags()
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	fl.BoolVar(&opts.Full, "full", false, "also delete the charts' CRDs and the namespaces the releases created")
	fl.IntVar(&opts.Concurrency, "concurrency", apply.DefaultConcurrency, "releases uninstalled at once")
	fl.DurationVar(&opts.Timeout, "timeout", 5*time.Minute, "time allowed for each uninstall")
	fl.BoolVar(&opts.KeepGoing, "keep-going", false, "after a failure, go on with what does not depend on it")
	fl.StringVarP(&opts.Output, "output", "o", "text", "text (progress on stderr) or json (event stream on stdout)")
	return cmd
}

// Run destroys.
func Run(ctx context.Context, opts *Options) error {
	start := time.Now()
	to := opts.Target
	to.NoRender = !opts.Full // --full renders to know the namespaces
	t, err := apply.LoadTarget(ctx, opts.Factory, to)
	if err != nil {
		return err
	}
	if !opts.Yes {
		if opts.Factory.Globals.NonInteractive || !opts.IO.IsStdinTTY() {
			return cmdutil.FlagErrorf("destroy needs --yes when it cannot ask (no terminal, or --non-interactive)")
		}
		what := "releases"
		if opts.Full {
			what = "releases, their CRDs and namespaces"
		}
		fmt.Fprintf(opts.IO.ErrOut, "Destroy up to %d %s in context %q (%s)? [y/N] ", len(t.Releases), what, t.Cluster.Context, t.Cluster.Host)
		answer, _ := bufio.NewReader(opts.IO.In).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return errors.New("not confirmed: nothing destroyed")
		}
	}
	progress := apply.NewProgress(opts.IO, opts.Output)
	var namespaces []string
	for _, m := range t.Manifests {
		namespaces = append(namespaces, kube.ManifestNamespaces(m.Text)...)
	}
	rep, err := t.Cluster.Destroy(ctx, t.Releases, kube.DestroyOptions{Full: opts.Full, Namespaces: namespaces, ApplyOptions: kube.ApplyOptions{
		Concurrency: opts.Concurrency, Timeout: opts.Timeout, KeepGoing: opts.KeepGoing,
		Events: progress.Event, Actor: apply.Actor(), Version: build.Version,
	}})
	if err != nil {
		return &apply.ClusterError{Err: err}
	}
	progress.Summary(rep, time.Since(start))
	if err := rep.Err(); err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return &cmdutil.SilentError{Code: cmdutil.ExitCluster}
	}
	return nil
}
