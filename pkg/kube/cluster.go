// Package kube deploys rendered releases to a Kubernetes cluster with the
// helm v3 SDK: cluster access as kubectl has it, a plan of what changed
// (compared with the release helm stored), installs, upgrades and
// uninstalls in dependency order, recovery of releases a killed run left
// pending, the chart CRDs, and the ledger ConfigMap otomi/otomi-status.
// It prints nothing: progress goes to an Events callback.
package kube

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	helmkube "helm.sh/helm/v3/pkg/kube"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	kcmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/validation"
)

// The Kubernetes minors the platform supports.
const (
	MinMinor = 31
	MaxMinor = 35
)

// ConnectOptions say how to reach the cluster, as kubectl does.
type ConnectOptions struct {
	// Kubeconfig is an explicit kubeconfig file; empty uses $KUBECONFIG,
	// then ~/.kube/config.
	Kubeconfig string
	// Context is an explicit context (--kube-context).
	Context string
	// PreferredContext is used when Context is empty and the kubeconfig
	// has a context of that name (the values' cluster.k8sContext);
	// otherwise the current context is.
	PreferredContext string
	// WrapTransport wraps the HTTP transport (tests inject faults).
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// Log receives helm's and otomi's debug lines (never values).
	Log func(format string, args ...any)
}

// Cluster is a connection to one cluster, shared by every release
// operation of a command: one discovery cache, one REST mapper, one
// OpenAPI cache for helm's validation.
type Cluster struct {
	// Context is the kubeconfig context in use.
	Context string
	// Host is the API server's address.
	Host string
	// Version is what the API server reports.
	Version *version.Info

	getter    *restGetter
	clientset kubernetes.Interface
	dynamic   dynamic.Interface
	metadata  metadata.Interface
	factory   kcmdutil.Factory
	log       func(string, ...any)

	capsMu sync.Mutex
	caps   *chartutil.Capabilities
}

// Connect loads the kubeconfig, picks the context and checks that the
// server runs a supported Kubernetes version, before anything is changed.
func Connect(ctx context.Context, opts ConnectOptions) (*Cluster, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = opts.Kubeconfig
	raw, err := rules.Load()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	contextName := opts.Context
	if contextName == "" && opts.PreferredContext != "" {
		if _, ok := raw.Contexts[opts.PreferredContext]; ok {
			contextName = opts.PreferredContext
		}
	}
	if contextName == "" {
		contextName = raw.CurrentContext
	}
	if opts.Context != "" {
		if _, ok := raw.Contexts[opts.Context]; !ok {
			return nil, fmt.Errorf("kubeconfig has no context %q", opts.Context)
		}
	}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: contextName})
	cfg, err := loader.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, errors.New("no cluster: no kubeconfig found (--kubeconfig, $KUBECONFIG or ~/.kube/config)")
		}
		return nil, fmt.Errorf("kubeconfig context %q: %w", contextName, err)
	}
	// Client-side rate limit of each client made from this config: a first
	// apply of the platform sends a few hundred CRD requests at once (apply,
	// established, first request of each kind) through one client, which
	// 50/s after a burst of 100 stretched to 7 s. The server's API priority
	// and fairness queues what is too much.
	cfg.QPS, cfg.Burst = 100, 300
	if opts.WrapTransport != nil {
		cfg.Wrap(opts.WrapTransport)
	}
	c, err := newCluster(cfg, loader, opts.Log)
	if err != nil {
		return nil, err
	}
	c.Context = contextName
	if err := c.checkVersion(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func newCluster(cfg *rest.Config, loader clientcmd.ClientConfig, log func(string, ...any)) (*Cluster, error) {
	if log == nil {
		log = func(string, ...any) {}
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	cached := memory.NewMemCacheClient(dc)
	g := &restGetter{config: cfg, loader: loader, discovery: cached, mapper: restmapper.NewDeferredDiscoveryRESTMapper(cached)}
	c := &Cluster{Host: cfg.Host, getter: g, clientset: cs, dynamic: dyn, metadata: md, log: log}
	c.factory = &serverValidation{Factory: kcmdutil.NewFactory(g), c: c}
	return c, nil
}

// serverValidation is kubectl's factory whose validator knows what every
// supported server answers. helm asks it for a validator before each
// release's objects are built; kubectl's validator then checks, per kind,
// whether the server validates fields itself (the fieldValidation query
// parameter, GA since Kubernetes 1.27) by fetching and decoding the
// OpenAPI v3 document of the kind's group-version, and skips client-side
// validation when it does. Every server otomi deploys to (1.31 and later)
// does, so the answer is known without the documents: measured on the
// example platform, that check was 60% of apply's CPU. Older servers
// (only reachable past CheckVersion in tests) keep kubectl's validator.
type serverValidation struct {
	kcmdutil.Factory
	c *Cluster
}

func (f *serverValidation) Validator(directive string) (validation.Schema, error) {
	if v := f.c.Version; v != nil {
		if major, minor := majorMinor(v); major == 1 && minor >= 27 {
			return validation.NullSchema{}, nil
		}
	}
	return f.Factory.Validator(directive)
}

// UnsupportedVersionError says the cluster runs a Kubernetes version the
// platform does not support.
type UnsupportedVersionError struct{ Version string }

func (e *UnsupportedVersionError) Error() string {
	return fmt.Sprintf("the cluster runs Kubernetes %s; otomi supports 1.%d to 1.%d", e.Version, MinMinor, MaxMinor)
}

var leadingDigits = regexp.MustCompile(`^\d+`)

// majorMinor reads a server version's major and minor ("28+" is 28).
func majorMinor(info *version.Info) (int, int) {
	major, _ := strconv.Atoi(leadingDigits.FindString(info.Major))
	minor, _ := strconv.Atoi(leadingDigits.FindString(info.Minor))
	return major, minor
}

func (c *Cluster) checkVersion(ctx context.Context) error {
	var info *version.Info
	// A cluster that does not answer is said so quickly: two retries.
	err := Retry(ctx, RetryPolicy{Attempts: 3, Delay: time.Second}, func() error {
		var err error
		info, err = c.clientset.Discovery().ServerVersion()
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("reach the cluster at %s: %w", c.Host, err)
	}
	c.Version = info
	return CheckVersion(info)
}

// CheckVersion refuses a server version outside MinMinor..MaxMinor.
func CheckVersion(info *version.Info) error {
	major, minor := majorMinor(info)
	if major != 1 || minor < MinMinor || minor > MaxMinor {
		return &UnsupportedVersionError{Version: info.GitVersion}
	}
	return nil
}

// capabilities are what helm's templates see of the cluster, computed
// once per command (helm computes them per action), after the CRDs are
// in place.
func (c *Cluster) capabilities() (*chartutil.Capabilities, error) {
	c.capsMu.Lock()
	defer c.capsMu.Unlock()
	if c.caps != nil {
		return c.caps, nil
	}
	apiVersions, err := action.GetVersionSet(c.getter.discovery)
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, fmt.Errorf("discover the cluster's API versions: %w", err)
	}
	c.caps = &chartutil.Capabilities{
		APIVersions: apiVersions,
		KubeVersion: chartutil.KubeVersion{Version: c.Version.GitVersion, Major: c.Version.Major, Minor: c.Version.Minor},
		HelmVersion: chartutil.DefaultCapabilities.HelmVersion,
	}
	return c.caps, nil
}

// resetDiscovery forgets the cached API resources (after CRDs changed).
func (c *Cluster) resetDiscovery() {
	c.getter.discovery.Invalidate()
	c.getter.mapper.Reset()
	c.capsMu.Lock()
	c.caps = nil
	c.capsMu.Unlock()
}

// actionConfig is a helm action configuration for releases of namespace
// ns: helm's Secrets storage (as the helm CLI's), sharing the cluster's
// caches. One per goroutine: helm's actions write to it.
func (c *Cluster) actionConfig(ns string) (*action.Configuration, error) {
	caps, err := c.capabilities()
	if err != nil {
		return nil, err
	}
	d := driver.NewSecrets(c.clientset.CoreV1().Secrets(ns))
	d.Log = c.log
	kc := &helmkube.Client{Factory: c.factory, Namespace: ns, Log: c.log}
	return &action.Configuration{
		RESTClientGetter: c.getter,
		Releases:         storage.Init(d),
		KubeClient:       kc,
		Capabilities:     caps.Copy(),
		Log:              c.log,
	}, nil
}

// restGetter hands helm and kubectl's builder the cluster's shared
// clients.
type restGetter struct {
	config    *rest.Config
	loader    clientcmd.ClientConfig
	discovery discovery.CachedDiscoveryInterface
	mapper    *restmapper.DeferredDiscoveryRESTMapper
}

func (g *restGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.config), nil }
func (g *restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.discovery, nil
}
func (g *restGetter) ToRESTMapper() (meta.RESTMapper, error)        { return g.mapper, nil }
func (g *restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig { return g.loader }
