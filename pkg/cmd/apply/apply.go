// Package apply implements `otomi apply` (and, with Sync, `otomi sync`),
// and holds what the cluster commands share: cluster flags, loading the
// target, progress output.
package apply

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/otomi/otomi/pkg/build"
	"github.com/otomi/otomi/pkg/cmd/template"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/kube"
)

// DefaultConcurrency is how many releases deploy at once by default:
// enough to overlap the API round trips of independent releases without
// crowding the API server's priority and fairness queues.
const DefaultConcurrency = 6

// Options of apply and sync.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	Target  TargetOptions
	Bundle  BundleFlags

	Concurrency       int
	Timeout           time.Duration
	RollbackOnFailure bool
	KeepGoing         bool
	Wait              bool
	Output            string
	// Sync upgrades every selected release, changed or not.
	Sync bool
}

// NewCmdApply builds `otomi apply`; runF replaces the logic in tests.
func NewCmdApply(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	return newCmd(f, runF, false)
}

// NewCmdSync builds `otomi sync`: apply without change detection.
func NewCmdSync(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	return newCmd(f, runF, true)
}

func newCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error, sync bool) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f, Sync: sync}
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Deploy the platform to the cluster: install, upgrade or uninstall what changed",
		Long: `Render the platform from the values repo (in memory) and deploy it with the helm SDK:
releases install or upgrade stage by stage (helmfile.d files, in order) and, within a stage,
in the order of their needs, independent releases in parallel. The charts' CRDs go first
(server-side apply). A release whose manifest, values and chart are those of its last deployed
revision is skipped: a re-apply with no change creates no helm revision. Releases that became
'installed: false' are uninstalled (their namespaces stay), and so are, on a run over the
whole platform (no -l, no -f), releases an earlier apply deployed that the platform no
longer has (a team removed from teamConfig, a release removed from helmfile.d). Releases a killed run left pending
are recovered first. The run stops at the first failure unless --keep-going; Ctrl-C starts
nothing new and lets running releases finish.

The cluster is the kubeconfig's (--kubeconfig, $KUBECONFIG, ~/.kube/config) context
--kube-context, else cluster.k8sContext when the kubeconfig has it, else the current one;
its Kubernetes version must be one the platform supports. Releases are stored as helm
stores them (Secrets): the helm CLI sees them. Each run records what it did in the
ConfigMap otomi/otomi-status.

With --bundle FILE (air-gapped sites) the platform is the bundle's: the bundle is checked
(every file's checksum, the signature with --bundle-key, the base of an incremental
bundle with --bundle-base) and its platform extracted to a temporary folder first; its
images are expected in the registry otomi.imageRegistry names (otomi bundle push-images).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Output != "" && opts.Output != "text" && opts.Output != "json" {
				return cmdutil.FlagErrorf("--output must be text or json, got %q", opts.Output)
			}
			if opts.Concurrency < 1 {
				return cmdutil.FlagErrorf("--concurrency must be at least 1, got %d", opts.Concurrency)
			}
			if opts.Timeout <= 0 {
				return cmdutil.FlagErrorf("--timeout must be positive, got %s", opts.Timeout)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return ExitError(opts.IO, Run(cmd.Context(), opts))
		},
	}
	if sync {
		cmd.Use = "sync"
		cmd.Short = "Deploy every selected release, changed or not (repair)"
		cmd.Long = "Like apply, but upgrades every selected release even when nothing changed: a repair for\nreleases changed behind helm's back. Uninstalls and recovery are as apply's."
	}
	template.AddRenderFlags(cmd, &opts.Target.Render)
	_ = cmd.Flags().MarkHidden("kube-version")
	AddClusterFlags(cmd, &opts.Target.Cluster)
	AddBundleFlags(cmd, &opts.Bundle)
	fl := cmd.Flags()
	fl.BoolVar(&opts.Target.IncludeNeeds, "include-needs", false, "with -l, also deploy what the selected releases need (transitively)")
	fl.IntVar(&opts.Concurrency, "concurrency", DefaultConcurrency, "releases deployed at once")
	fl.DurationVar(&opts.Timeout, "timeout", 5*time.Minute, "time allowed for each helm operation (hooks, --wait)")
	fl.BoolVar(&opts.RollbackOnFailure, "rollback-on-failure", false, "roll a failed upgrade back to its last deployed revision, uninstall a failed install")
	fl.BoolVar(&opts.KeepGoing, "keep-going", false, "after a failure, go on with the releases that do not need the failed one")
	fl.BoolVar(&opts.Wait, "wait", false, "wait until each release's workloads are ready")
	fl.StringVarP(&opts.Output, "output", "o", "text", "text (progress on stderr) or json (event stream on stdout)")
	return cmd
}

// Run plans and applies.
func Run(ctx context.Context, opts *Options) error {
	start := time.Now()
	b, err := openBundle(ctx, opts.Factory, opts.Bundle)
	if err != nil {
		return err
	}
	if b != nil {
		defer b.Close()
	}
	t, err := LoadTarget(ctx, opts.Factory, opts.Target)
	if err != nil {
		return err
	}
	if b != nil {
		b.checkImages(opts.Factory, t)
	}
	plan, err := t.Cluster.Plan(ctx, t.Releases, t.Manifests, kube.PlanOptions{Force: opts.Sync, Prune: opts.Target.WholePlatform()})
	if err != nil {
		return &ClusterError{Err: err}
	}
	progress := NewProgress(opts.IO, opts.Output)
	rep, err := t.Cluster.Apply(ctx, plan, kube.ApplyOptions{
		Concurrency:       opts.Concurrency,
		Timeout:           opts.Timeout,
		Wait:              opts.Wait,
		RollbackOnFailure: opts.RollbackOnFailure,
		KeepGoing:         opts.KeepGoing,
		Events:            progress.Event,
		Actor:             Actor(),
		Version:           build.Version,
		Helmfile:          opts.Target.Render.File,
	})
	if err != nil {
		return &ClusterError{Err: err}
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
