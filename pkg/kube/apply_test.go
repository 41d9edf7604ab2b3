package kube

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/otomi/otomi/internal/kubetest"
	"github.com/otomi/otomi/pkg/render"
)

// testPlatform is tests/testdata/apply: namespaces (stage 00), then
// config, web (needs config) and widgets (a CRD) in stage 10.
func testPlatform(t *testing.T, stateValues map[string]any) ([]*render.Release, []*render.Manifest) {
	t.Helper()
	file, err := filepath.Abs("../../tests/testdata/apply/helmfile.d")
	require.NoError(t, err)
	ctx := context.Background()
	releases, err := render.Load(ctx, render.LoadOptions{File: file, StateValues: stateValues, KubeVersion: kubetest.KubeVersion})
	require.NoError(t, err)
	manifests, err := render.Render(ctx, releases, render.RenderOptions{})
	require.NoError(t, err)
	return releases, manifests
}

type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) add(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, e.Release+" "+e.Action+" "+string(e.Phase))
	}
	return out
}

func connect(t *testing.T, s *kubetest.Server, wrap func(http.RoundTripper) http.RoundTripper) *Cluster {
	t.Helper()
	c, err := Connect(context.Background(), ConnectOptions{Kubeconfig: s.Kubeconfig, WrapTransport: wrap})
	require.NoError(t, err)
	return c
}

func apply(t *testing.T, c *Cluster, values map[string]any, opts ApplyOptions) (*Plan, *Report) {
	t.Helper()
	ctx := context.Background()
	releases, manifests := testPlatform(t, values)
	plan, err := c.Plan(ctx, releases, manifests, PlanOptions{})
	require.NoError(t, err)
	opts.Concurrency = max(opts.Concurrency, 4)
	rep, err := c.Apply(ctx, plan, opts)
	require.NoError(t, err)
	return plan, rep
}

func states(rep *Report) map[string]string {
	out := map[string]string{}
	for _, o := range rep.Outcomes {
		out[o.Release] = string(o.Action) + "/" + o.State
	}
	return out
}

func revisions(t *testing.T, c *Cluster, ids ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, id := range ids {
		ns, name, _ := strings.Cut(id, "/")
		hist, err := c.history(context.Background(), ns, name)
		require.NoError(t, err)
		var parts []string
		for _, h := range hist {
			parts = append(parts, string(h.Info.Status))
		}
		out[id] = strings.Join(parts, ",")
	}
	return out
}

func item(p *Plan, id string) *Item {
	for _, it := range p.Items {
		if it.ID() == id {
			return it
		}
	}
	return nil
}

// TestApplyCRDsWithoutList: a user who may not list CRDs (only get and
// patch them) still gets them applied, each looked up on its own.
func TestApplyCRDsWithoutList(t *testing.T) {
	s := kubetest.Start(t)
	reqs := &requestLog{}
	forbidList := func(rt http.RoundTripper) http.RoundTripper {
		return reqs.wrap(roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodGet && r.URL.Path == "/apis/apiextensions.k8s.io/v1/customresourcedefinitions" {
				body := `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,` +
					`"message":"customresourcedefinitions.apiextensions.k8s.io is forbidden: User \"tester\" cannot list resource"}`
				return &http.Response{StatusCode: http.StatusForbidden, Header: http.Header{"Content-Type": []string{"application/json"}},
					Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
			}
			return rt.RoundTrip(r)
		}))
	}
	c := connect(t, s, forbidList)
	rec := &recorder{}
	_, rep := apply(t, c, nil, ApplyOptions{Events: rec.add})
	require.NoError(t, rep.Err())
	assert.Contains(t, rec.lines(), " crds done")
	// Looked up on its own before it is applied (without the fallback the
	// first request for it is the apply PATCH).
	widgets := "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.otomi.io"
	assert.Equal(t, "GET "+widgets, reqs.first(widgets))
	_, err := c.dynamic.Resource(crdResource).Get(context.Background(), "widgets.example.otomi.io", metav1.GetOptions{})
	require.NoError(t, err)
}

// requestLog records the method and path of every request a client sends.
type requestLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		l.mu.Lock()
		l.lines = append(l.lines, r.Method+" "+r.URL.Path)
		l.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

// count counts the requests of method to paths starting with prefix.
func (l *requestLog) count(method, prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if m, p, _ := strings.Cut(line, " "); m == method && strings.HasPrefix(p, prefix) {
			n++
		}
	}
	return n
}

// first is the first request to a path starting with prefix.
func (l *requestLog) first(prefix string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if _, p, _ := strings.Cut(line, " "); strings.HasPrefix(p, prefix) {
			return line
		}
	}
	return ""
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

var all = []string{"default/namespaces", "apps/config", "apps/web", "apps/widgets"}

// TestApplyLifecycle: a first apply installs everything (CRDs first, the
// ledger written); a second changes nothing; a values change upgrades
// only its release; a release turned off is uninstalled; destroy --full
// removes the rest, CRDs and namespaces included.
func TestApplyLifecycle(t *testing.T) {
	s := kubetest.Start(t)
	reqs := &requestLog{}
	c := connect(t, s, reqs.wrap)
	ctx := context.Background()
	rec := &recorder{}

	_, rep := apply(t, c, nil, ApplyOptions{Events: rec.add, Actor: "tester@host", Version: "v0.0.0-test"})
	require.NoError(t, rep.Err())
	// No OpenAPI document is fetched to decide on client-side validation
	// (the server validates fields), and the CRDs' state before is one list.
	assert.Zero(t, reqs.count("GET", "/openapi/"), "OpenAPI requests")
	assert.Equal(t, "GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions", reqs.first("/apis/apiextensions.k8s.io/v1/customresourcedefinitions"))
	assert.Equal(t, map[string]string{
		"default/namespaces": "install/done", "apps/config": "install/done", "apps/web": "install/done", "apps/widgets": "install/done",
	}, states(rep))
	assert.Contains(t, rec.lines(), " crds done")
	for _, id := range all {
		assert.Equal(t, "deployed", revisions(t, c, id)[id])
	}
	_, err := c.dynamic.Resource(crdResource).Get(ctx, "widgets.example.otomi.io", metav1.GetOptions{})
	require.NoError(t, err)
	ns, err := c.clientset.CoreV1().Namespaces().Get(ctx, "apps", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "keep", ns.Annotations["helm.sh/resource-policy"])
	ledger, err := c.ReadLedger(ctx)
	require.NoError(t, err)
	require.Contains(t, ledger, "apps/web")
	assert.Equal(t, "tester@host", ledger["apps/web"].By)
	assert.Equal(t, 1, ledger["apps/web"].Revision)
	assert.Equal(t, "deployed", ledger["apps/web"].State)

	// No change: nothing is touched.
	plan, rep := apply(t, c, nil, ApplyOptions{})
	require.NoError(t, rep.Err())
	assert.Empty(t, plan.Changed())
	for _, o := range rep.Outcomes {
		assert.Equal(t, StateUnchanged, o.State, o.Release)
	}
	assert.Equal(t, "deployed", revisions(t, c, "apps/config")["apps/config"])

	// One value changes: only its release upgrades.
	plan, rep = apply(t, c, map[string]any{"webReplicas": 3}, ApplyOptions{})
	require.NoError(t, rep.Err())
	assert.Equal(t, map[string]string{
		"default/namespaces": "none/unchanged", "apps/config": "none/unchanged", "apps/web": "upgrade/done", "apps/widgets": "none/unchanged",
	}, states(rep))
	assert.Equal(t, "manifest changed", item(plan, "apps/web").Reason)
	assert.Equal(t, "superseded,deployed", revisions(t, c, "apps/web")["apps/web"])
	dep, err := c.clientset.AppsV1().Deployments("apps").Get(ctx, "web", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(3), *dep.Spec.Replicas)

	// Turned off: uninstalled.
	_, rep = apply(t, c, map[string]any{"webReplicas": 3, "web": false}, ApplyOptions{})
	require.NoError(t, rep.Err())
	assert.Equal(t, "uninstall/done", states(rep)["apps/web"])
	assert.Equal(t, "", revisions(t, c, "apps/web")["apps/web"])
	_, err = c.clientset.AppsV1().Deployments("apps").Get(ctx, "web", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "deployment web is gone: %v", err)
	ledger, err = c.ReadLedger(ctx)
	require.NoError(t, err)
	assert.NotContains(t, ledger, "apps/web")

	// Destroy without --full keeps namespaces and CRDs ...
	releases, _ := testPlatform(t, nil)
	rep, err = c.Destroy(ctx, releases[2:3], DestroyOptions{ApplyOptions: ApplyOptions{Concurrency: 2}})
	require.NoError(t, err)
	require.NoError(t, rep.Err())
	assert.Equal(t, "uninstall/done", states(rep)["apps/widgets"])
	_, err = c.dynamic.Resource(crdResource).Get(ctx, "widgets.example.otomi.io", metav1.GetOptions{})
	require.NoError(t, err, "the CRD stays without --full")

	// ... --full removes them.
	rep, err = c.Destroy(ctx, releases, DestroyOptions{Full: true, ApplyOptions: ApplyOptions{Concurrency: 2}})
	require.NoError(t, err)
	require.NoError(t, rep.Err())
	for _, id := range all {
		assert.Equal(t, "", revisions(t, c, id)[id], id)
	}
	crd, err := c.dynamic.Resource(crdResource).Get(ctx, "widgets.example.otomi.io", metav1.GetOptions{})
	if err == nil { // its finalizer may still be removing the custom resources
		assert.NotNil(t, crd.GetDeletionTimestamp(), "CRD is being deleted")
	} else {
		assert.True(t, apierrors.IsNotFound(err), "CRD deleted: %v", err)
	}
	ns, err = c.clientset.CoreV1().Namespaces().Get(ctx, "apps", metav1.GetOptions{})
	if err == nil { // no namespace controller: it stays terminating
		assert.NotNil(t, ns.DeletionTimestamp, "namespace apps is being deleted")
	}
}

// TestApplyStopsAtFirstFailure: a release the API server rejects fails
// (no retry: it is a validation error); what needs it does not run;
// --keep-going runs the rest.
func TestApplyStopsAtFirstFailure(t *testing.T) {
	s := kubetest.Start(t)
	c := connect(t, s, nil)
	_, rep := apply(t, c, map[string]any{"web": false}, ApplyOptions{})
	require.NoError(t, rep.Err())

	bad := map[string]any{"extraConfigMap": "Not_A_Valid_Name", "web": true}
	rec := &recorder{}
	_, rep = apply(t, c, bad, ApplyOptions{Concurrency: 1, Events: rec.add})
	require.Error(t, rep.Err())
	got := states(rep)
	assert.Equal(t, "upgrade/failed", got["apps/config"])
	assert.Equal(t, "install/skipped", got["apps/web"], "web needs config")
	assert.NotContains(t, rec.lines(), "apps/config upgrade retry", "a validation error is not retried")
	assert.Equal(t, "deployed,failed", revisions(t, c, "apps/config")["apps/config"])

	// --rollback-on-failure brings the failed upgrade back.
	_, rep = apply(t, c, bad, ApplyOptions{Concurrency: 1, KeepGoing: true, RollbackOnFailure: true})
	require.Error(t, rep.Err())
	assert.Equal(t, "superseded,failed,failed,deployed", revisions(t, c, "apps/config")["apps/config"])
}

// TestApplyRecoversPendingReleases: revisions left pending by a killed
// run are recovered: rolled back when the release deployed before,
// uninstalled when it never did; no pending revision remains.
func TestApplyRecoversPendingReleases(t *testing.T) {
	s := kubetest.Start(t)
	c := connect(t, s, nil)
	_, rep := apply(t, c, map[string]any{"web": false}, ApplyOptions{})
	require.NoError(t, rep.Err())

	cfg, err := c.actionConfig("apps")
	require.NoError(t, err)
	// config: a pending upgrade over its deployed revision 1.
	last, err := cfg.Releases.Last("config")
	require.NoError(t, err)
	stuck := *last
	stuck.Info = &release.Info{Status: release.StatusPendingUpgrade, Description: "killed"}
	stuck.Version = 2
	require.NoError(t, cfg.Releases.Create(&stuck))
	// web: a pending install that never finished.
	pending := stuck
	pending.Name, pending.Version = "web", 1
	pending.Info = &release.Info{Status: release.StatusPendingInstall}
	pending.Manifest, pending.Hooks = "", nil
	require.NoError(t, cfg.Releases.Create(&pending))

	rec := &recorder{}
	_, rep = apply(t, c, map[string]any{"greeting": "bonjour"}, ApplyOptions{Events: rec.add})
	require.NoError(t, rep.Err())
	assert.Contains(t, rec.lines(), "apps/config recover info")
	assert.Contains(t, rec.lines(), "apps/web recover info")
	assert.Equal(t, "superseded,failed,superseded,deployed", revisions(t, c, "apps/config")["apps/config"])
	assert.Equal(t, "deployed", revisions(t, c, "apps/web")["apps/web"])
}

// flaky fails the first n creates of ConfigMaps with a 503, as an
// overloaded API server would.
type flaky struct {
	next http.RoundTripper
	n    *atomic.Int32 // failures left, shared by every transport
}

func (f *flaky) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/configmaps") && f.n.Add(-1) >= 0 {
		return &http.Response{StatusCode: 503, Header: http.Header{"Content-Type": {"application/json"}}, Request: r,
			Body: io.NopCloser(strings.NewReader(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected","reason":"ServiceUnavailable","code":503}`))}, nil
	}
	return f.next.RoundTrip(r)
}

// TestApplyRetriesTransientErrors: a 503 while creating objects is
// retried and the run converges.
func TestApplyRetriesTransientErrors(t *testing.T) {
	s := kubetest.Start(t)
	failures := &atomic.Int32{}
	failures.Store(1)
	c := connect(t, s, func(rt http.RoundTripper) http.RoundTripper { return &flaky{next: rt, n: failures} })
	rec := &recorder{}
	_, rep := apply(t, c, map[string]any{"web": false}, ApplyOptions{Events: rec.add, Retry: RetryPolicy{Attempts: 3, Delay: 10e6}})
	require.NoError(t, rep.Err())
	assert.Contains(t, rec.lines(), "apps/config install retry")
	assert.Equal(t, "superseded,deployed", revisions(t, c, "apps/config")["apps/config"], "the failed attempt, then the retry")
}

func TestIsTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{apierrors.NewConflict(schemaGR, "x", errors.New("the object has been modified")), true},
		{apierrors.NewTooManyRequests("slow down", 1), true},
		{apierrors.NewServiceUnavailable("down"), true},
		{apierrors.NewInternalError(errors.New("etcd")), true},
		{apierrors.NewInvalid(schemaGK, "x", nil), false},
		{apierrors.NewBadRequest("no"), false},
		{apierrors.NewForbidden(schemaGR, "x", errors.New("rbac")), false},
		{apierrors.NewAlreadyExists(schemaGR, "x"), false},
		{errors.New("read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer"), true},
		{errors.New(`ConfigMap "Bad" is invalid: metadata.name: Invalid value`), false},
		{context.Canceled, false},
	} {
		assert.Equal(t, tc.want, IsTransient(tc.err), "%v", tc.err)
	}
}

var (
	schemaGR = schema.GroupResource{Resource: "configmaps"}
	schemaGK = schema.GroupKind{Kind: "ConfigMap"}
)
