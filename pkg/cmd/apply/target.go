package apply

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/kube"
	"github.com/otomi/otomi/pkg/render"
	"github.com/otomi/otomi/pkg/values"
)

// ClusterFlags say how to reach the cluster, as kubectl's do.
type ClusterFlags struct {
	Kubeconfig  string
	KubeContext string
}

// AddClusterFlags adds --kubeconfig and --kube-context.
func AddClusterFlags(cmd *cobra.Command, c *ClusterFlags) {
	cmd.Flags().StringVar(&c.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
	cmd.Flags().StringVar(&c.KubeContext, "kube-context", "", "kubeconfig context (default: the values' cluster.k8sContext when the kubeconfig has it, else the current context)")
}

// Target is what a cluster command works on: the cluster, the selected
// releases and their manifests rendered for the cluster's version.
type Target struct {
	Cluster   *kube.Cluster
	Loaded    *cmdutil.Loaded
	Releases  []*render.Release
	Manifests []*render.Manifest
}

// TargetOptions say what to load.
type TargetOptions struct {
	Render  cmdutil.RenderFlags
	Cluster ClusterFlags
	// IncludeNeeds adds what the selected releases need, transitively.
	IncludeNeeds bool
	// NoRender loads the releases only (destroy).
	NoRender bool
	// WrapTransport is for tests that inject API faults.
	Connect func(*kube.ConnectOptions)
}

// WholePlatform says the run covers every release of the platform: no
// selector and no other helmfile. Only such a run may prune releases the
// platform no longer has.
func (o TargetOptions) WholePlatform() bool {
	return o.Render.File == "" && len(o.Render.Selectors) == 0
}

// ClusterError is a failure to reach or use the cluster: exit code 4.
type ClusterError struct{ Err error }

func (e *ClusterError) Error() string { return e.Err.Error() }
func (e *ClusterError) Unwrap() error { return e.Err }

// LoadTarget connects to the cluster (checking its version before
// anything else happens), loads the releases and renders them for the
// cluster's Kubernetes version.
func LoadTarget(ctx context.Context, f *cmdutil.Factory, o TargetOptions) (*Target, error) {
	if o.Render.KubeVersion != "" {
		return nil, cmdutil.FlagErrorf("--kube-version: cluster commands render for the cluster's own version")
	}
	co := kube.ConnectOptions{Kubeconfig: o.Cluster.Kubeconfig, Context: o.Cluster.KubeContext}
	if co.Context == "" && (o.Render.File == "" || f.Globals.EnvDirSet) {
		// The preferred context is cluster.k8sContext, which only
		// env/cluster.yaml may set: read that file alone before connecting
		// (LoadReleases then loads and validates the whole repo, once).
		co.PreferredContext = preferredContext(f.Globals.EnvDir)
	}
	co.Log = func(format string, args ...any) { f.Logger.Debug(fmt.Sprintf(format, args...)) }
	if o.Connect != nil {
		o.Connect(&co)
	}
	cluster, err := kube.Connect(ctx, co)
	if err != nil {
		return nil, &ClusterError{Err: err}
	}
	f.Logger.Debug("cluster", "context", cluster.Context, "host", cluster.Host, "version", cluster.Version.GitVersion)
	flags := o.Render
	flags.KubeVersion = cluster.Version.GitVersion
	loaded, err := cmdutil.LoadReleases(ctx, f, flags)
	if err != nil {
		return nil, err
	}
	releases := loaded.Releases
	if o.IncludeNeeds && len(flags.Selectors) > 0 {
		all := flags
		all.Selectors = nil
		everything, err := cmdutil.LoadReleases(ctx, f, all)
		if err != nil {
			return nil, err
		}
		releases = WithNeeds(releases, everything.Releases)
	}
	t := &Target{Cluster: cluster, Loaded: loaded, Releases: releases}
	if o.NoRender {
		return t, nil
	}
	manifests, err := render.Render(ctx, releases, render.RenderOptions{})
	if err != nil {
		return nil, cmdutil.RenderError(err)
	}
	t.Manifests = manifests
	return t, nil
}

// preferredContext is cluster.k8sContext of the values repo's
// env/cluster.yaml ("" when unset or unreadable: loading the repo reports
// the problem).
func preferredContext(envDir string) string {
	repo, err := values.Locate(envDir)
	if err != nil {
		return ""
	}
	data, err := os.ReadFile(filepath.Join(repo.Env, "cluster.yaml"))
	if err != nil {
		return ""
	}
	var doc struct {
		Cluster struct {
			K8sContext string `yaml:"k8sContext"`
		} `yaml:"cluster"`
	}
	if yaml.Unmarshal(data, &doc) != nil {
		return ""
	}
	return doc.Cluster.K8sContext
}

// WithNeeds returns the releases of all (in its order) that are selected
// or needed, transitively, by a selected one.
func WithNeeds(selected, all []*render.Release) []*render.Release {
	byID := map[string]*render.Release{}
	for _, r := range all {
		byID[r.ID()] = r
	}
	want := map[string]bool{}
	var visit func(id string)
	visit = func(id string) {
		if want[id] {
			return
		}
		want[id] = true
		if r, ok := byID[id]; ok {
			for _, n := range r.Needs {
				visit(n)
			}
		}
	}
	for _, r := range selected {
		visit(r.ID())
	}
	var out []*render.Release
	for _, r := range all {
		if want[r.ID()] {
			out = append(out, r)
		}
	}
	return out
}

// Actor names who runs otomi, for the ledger: user@host.
func Actor() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

// ExitError maps a cluster command's error: a cluster failure is
// printed here and exits 4 (the root command prints other errors).
func ExitError(ios *iostreams.IOStreams, err error) error {
	var ce *ClusterError
	var ue *kube.UnsupportedVersionError
	if errors.As(err, &ce) || errors.As(err, &ue) {
		fmt.Fprintf(ios.ErrOut, "%s %s\n", ios.FailureIcon(), err)
		return &cmdutil.SilentError{Code: cmdutil.ExitCluster}
	}
	return err
}
