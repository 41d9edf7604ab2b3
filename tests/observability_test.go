package tests

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/otomi/otomi/pkg/cmd/root"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/render"
)

// obsReleases are the releases of stage observability, all on in the
// example, with the group of their app (x-group in values-schema.yaml).
var obsReleases = map[string]string{
	"monitoring/loki":        "shared",
	"monitoring/tempo":       "optional",
	"monitoring/thanos":      "optional",
	"jaeger/jaeger":          "optional",
	"jaeger/jaeger-instance": "optional",
	"otel/otel":              "optional",
	"otel/otel-collector":    "optional",
	"kiali/kiali":            "optional",
	"opencost/opencost":      "optional",
}

// obsCRDs are the CRDs the stage brings, before any resource of theirs.
var obsCRDs = []string{
	"jaegers.jaegertracing.io",
	"opentelemetrycollectors.opentelemetry.io",
	"instrumentations.opentelemetry.io",
	"opampbridges.opentelemetry.io",
	"targetallocators.opentelemetry.io",
}

// obsStage picks the manifests of stage observability.
func obsStage(manifests []*render.Manifest) []*render.Manifest {
	var out []*render.Manifest
	for _, m := range manifests {
		if m.Release.Labels["stage"] == "observability" {
			out = append(out, m)
		}
	}
	return out
}

// obsObject finds one rendered object by kind, namespace and name.
func obsObject(t *testing.T, manifests []*render.Manifest, kind, ns, name string) *render.Object {
	t.Helper()
	for _, m := range manifests {
		for _, o := range m.Objects {
			if o.Kind == kind && o.Name == name && (o.Namespace == ns || (o.Namespace == "" && (ns == "" || m.Release.Namespace == ns))) {
				return o
			}
		}
	}
	t.Fatalf("no %s %s/%s rendered", kind, ns, name)
	return nil
}

// servicePorts are the port numbers of a rendered Service.
func servicePorts(o *render.Object) []int {
	var ports []int
	for _, p := range o.Body["spec"].(map[string]any)["ports"].([]any) {
		ports = append(ports, int(p.(map[string]any)["port"].(float64)))
	}
	sort.Ints(ports)
	return ports
}

// hasServiceMonitorCRD: the platform renders the Prometheus operator's CRDs
// (stage monitoring). Without them ServiceMonitors cannot be stored, and the
// example is applied with apps.prometheus off.
func hasServiceMonitorCRD(manifests []*render.Manifest) bool {
	for _, m := range manifests {
		for _, o := range m.Objects {
			if o.Kind == "CustomResourceDefinition" && o.Name == "servicemonitors.monitoring.coreos.com" {
				return true
			}
		}
	}
	return false
}

// TestObservabilityTemplate: the example renders every app of stage
// observability with its labels, the Services other apps use (Grafana's
// datasources), the tenants of Loki, the bucket Secret of the Thanos
// sidecar, the sso hosts, and pinned images only.
func TestObservabilityTemplate(t *testing.T) {
	releases, manifests := examplePlatform(t, cmdutil.RenderFlags{})
	got := map[string]string{}
	for _, r := range releases {
		if r.Labels["stage"] == "observability" {
			require.True(t, r.Installed, "%s is on in the example", r.ID())
			got[r.ID()] = r.Labels["group"]
			assert.Equal(t, r.Name, r.Labels["name"])
			assert.Equal(t, r.Namespace, r.Labels["namespace"])
			assert.NotEmpty(t, r.Labels["app"])
		}
	}
	assert.Equal(t, obsReleases, got)
	stage := obsStage(manifests)
	require.Len(t, stage, len(obsReleases))
	for _, m := range stage {
		assert.NotEmpty(t, m.Objects, m.Release.ID())
	}

	// The CRDs of the operators.
	for _, crd := range obsCRDs {
		obsObject(t, stage, "CustomResourceDefinition", "", crd)
	}

	// The Services the other apps (Grafana, Kiali, the collector) name.
	assert.Equal(t, []int{3100, 9095}, servicePorts(obsObject(t, stage, "Service", "monitoring", "loki")))
	assert.Subset(t, servicePorts(obsObject(t, stage, "Service", "monitoring", "tempo")), []int{3100, 4317, 4318})
	assert.Equal(t, []int{9090, 10901}, servicePorts(obsObject(t, stage, "Service", "monitoring", "thanos-query")))

	// Loki is multi-tenant; the shipper sends each team's namespace to its
	// own tenant and everything else to platform.
	loki := obsObject(t, stage, "ConfigMap", "monitoring", "loki").Body["data"].(map[string]any)["config.yaml"].(string)
	assert.Contains(t, loki, "auth_enabled: true")
	assert.Contains(t, loki, "bucketnames: loki")
	assert.NotContains(t, loki, "fake-minio-root-pw", "credentials stay in the Secret")
	promtail := obsObject(t, stage, "ConfigMap", "monitoring", "loki-promtail").Body["data"].(map[string]any)["promtail.yaml"].(string)
	assert.Contains(t, promtail, "tenant_id: platform")
	assert.Contains(t, promtail, "regex: (team-demo|team-dev)")
	assert.Contains(t, promtail, "label: tenant")
	obsObject(t, stage, "DaemonSet", "monitoring", "loki-promtail")

	// The Secret the platform Prometheus' Thanos sidecar mounts.
	objstore := obsObject(t, stage, "Secret", "monitoring", "thanos-objstore").Body["data"].(map[string]any)
	require.Contains(t, objstore, "objstore.yml")

	// The operators' custom resources, and the webhook certificate.
	jaeger := obsObject(t, stage, "Jaeger", "jaeger", "jaeger")
	assert.Equal(t, "allInOne", jaeger.Body["spec"].(map[string]any)["strategy"])
	collector := obsObject(t, stage, "OpenTelemetryCollector", "otel", "platform")
	assert.Contains(t, collector.YAML, "endpoint: tempo.monitoring.svc.cluster.local:4317")
	obsObject(t, stage, "Instrumentation", "otel", "platform")
	obsObject(t, stage, "Certificate", "otel", "otel-webhook-cert")
	obsObject(t, stage, "Certificate", "jaeger", "jaeger-webhook-cert")

	// Kiali and OpenCost are sso hosts: an Ingress of the auth class through
	// oauth2-proxy to the auth gateway, and a VirtualService bound to it.
	for _, app := range []string{"kiali", "opencost"} {
		host := app + ".demo.otomi.example"
		vs := obsObject(t, stage, "VirtualService", app, app).Body["spec"].(map[string]any)
		assert.Equal(t, []any{host}, vs["hosts"])
		assert.Equal(t, []any{"istio-system/auth"}, vs["gateways"])
		ing := obsObject(t, manifests, "Ingress", "istio-system", app)
		assert.Contains(t, ing.YAML, "nginx.ingress.kubernetes.io/auth-url:")
		assert.Contains(t, ing.YAML, "host: "+host)
		assert.Contains(t, ing.YAML, "name: istio-ingressgateway-auth")
		// The view spans every team: only platform admins pass the gateway.
		deny := obsObject(t, stage, "AuthorizationPolicy", "istio-system", app)
		assert.Contains(t, deny.YAML, "action: DENY")
		assert.Contains(t, deny.YAML, `notValues: ["otomi-admin"]`)
	}
	kiali := obsObject(t, stage, "ConfigMap", "kiali", "kiali").Body["data"].(map[string]any)["config.yaml"].(string)
	assert.Contains(t, kiali, "url: http://prometheus.monitoring.svc.cluster.local:9090")

	// Every image of the stage is pinned, and otomi images lists it.
	listed := runOtomi(t, "images", "--env-dir", filepath.Join(repoRoot(t), "examples", "demo"), "--platform-dir", repoRoot(t))
	imgs := render.Images(stage)
	require.NotEmpty(t, imgs)
	pinned := regexp.MustCompile(`(:[\w][\w.-]*|@sha256:[0-9a-f]{64})$`)
	for _, img := range imgs {
		assert.Regexp(t, pinned, img, "image not pinned")
		assert.NotRegexp(t, `:latest$`, img)
		assert.Contains(t, listed, img)
	}
	for _, want := range []string{"grafana/loki:", "grafana/promtail:", "grafana/tempo:", "thanos/thanos:", "jaegertracing/jaeger-operator:", "opentelemetry-operator/opentelemetry-operator:", "kiali/kiali:", "opencost/opencost:", "opencost/opencost-ui:"} {
		assert.Contains(t, strings.Join(imgs, "\n"), want)
	}
	// Images the operators start are named in their resources and flags,
	// pinned and relocatable too.
	assert.Regexp(t, pinned, collector.Body["spec"].(map[string]any)["image"])
	assert.Regexp(t, pinned, jaeger.Body["spec"].(map[string]any)["allInOne"].(map[string]any)["image"])
}

// TestObservabilityValidateTemplates: every object of the stage passes the
// Kubernetes and CRD schemas and the policies on every supported minor.
func TestObservabilityValidateTemplates(t *testing.T) {
	_, manifests := examplePlatform(t, cmdutil.RenderFlags{})
	args := []string{"validate-templates", "--all-versions", "--env-dir", filepath.Join(repoRoot(t), "examples", "demo"), "--platform-dir", repoRoot(t), "-l", "stage=observability"}
	if !hasServiceMonitorCRD(manifests) {
		args = append(args, "--state-values-file", writeTemp(t, "prometheus-off.yaml", "apps:\n  prometheus:\n    enabled: false\n"))
	}
	ios, _, _, errOut := iostreams.Test()
	code := root.Run(context.Background(), cmdutil.New(ios), args)
	require.Equal(t, 0, code, errOut.String())
	for id := range obsReleases {
		name := id[strings.Index(id, "/")+1:]
		assert.Regexp(t, `(?m)^`+regexp.QuoteMeta(name)+` +\d+ +\d+ +\d+ +0$`, errOut.String(), "%s: no error", name)
	}
	assert.Contains(t, errOut.String(), "templates valid on Kubernetes 1.31, 1.32, 1.33, 1.34, 1.35")
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// TestObservabilityApply applies the example to a real API server: the CRDs
// of the operators come first, every object of the stage is created, and
// turning Jaeger off uninstalls its two releases and leaves the rest.
func TestObservabilityApply(t *testing.T) {
	c := newKubeEnv(t)
	_, all := examplePlatform(t, cmdutil.RenderFlags{})
	var base []string
	if !hasServiceMonitorCRD(all) {
		t.Log("the platform has no ServiceMonitor CRD (stage monitoring): applying with apps.prometheus off")
		base = []string{"apps:\n  prometheus:\n    enabled: false\n"}
	}
	values := func(extra ...string) string {
		merged := map[string]any{}
		for _, doc := range append(append([]string{}, base...), extra...) {
			var m map[string]any
			require.NoError(t, yaml.Unmarshal([]byte(doc), &m))
			for k, v := range m["apps"].(map[string]any) {
				merged[k] = v
			}
		}
		data, err := yaml.Marshal(map[string]any{"apps": merged})
		require.NoError(t, err)
		return writeTemp(t, "values.yaml", string(data))
	}
	on := values()

	r := c.mustOtomi("apply", "--state-values-file", on)
	assert.Contains(t, r.stderr, "crds: done in ")
	rels := c.releases()
	for id := range obsReleases {
		assert.Equal(t, "1 deployed", rels[id], id)
		assert.Contains(t, r.stderr, "install "+id+": done in ")
	}

	// The CRDs are in the API server, then every object of the stage.
	dyn, err := dynamic.NewForConfig(c.s.RESTConfig())
	require.NoError(t, err)
	ctx := context.Background()
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, crd := range obsCRDs {
		_, err := dyn.Resource(crdGVR).Get(ctx, crd, metav1.GetOptions{})
		assert.NoError(t, err, crd)
	}
	_, manifests := c.renderWith(on)
	stage := obsStage(manifests)
	found, missing := missingObjects(t, c.s, stage)
	assert.Empty(t, missing)
	assert.Positive(t, found)
	t.Logf("stage observability: %d objects in the cluster", found)
	jaegers := schema.GroupVersionResource{Group: "jaegertracing.io", Version: "v1", Resource: "jaegers"}
	_, err = dyn.Resource(jaegers).Namespace("jaeger").Get(ctx, "jaeger", metav1.GetOptions{})
	require.NoError(t, err)

	// Jaeger off: the instance and the operator are uninstalled, the
	// collector stays (it sends to Tempo), the namespace and CRD stay.
	off := values("apps:\n  jaeger:\n    enabled: false\n")
	r = c.mustOtomi("apply", "--state-values-file", off)
	assert.Contains(t, r.stderr, "uninstall jaeger/jaeger-instance: done in ")
	assert.Contains(t, r.stderr, "uninstall jaeger/jaeger: done in ")
	rels = c.releases()
	assert.NotContains(t, rels, "jaeger/jaeger")
	assert.NotContains(t, rels, "jaeger/jaeger-instance")
	for id := range obsReleases {
		if !strings.HasPrefix(id, "jaeger/") {
			assert.Equal(t, "1 deployed", rels[id], id)
		}
	}
	cs, err := kubernetes.NewForConfig(c.s.RESTConfig())
	require.NoError(t, err)
	_, err = cs.AppsV1().Deployments("jaeger").Get(ctx, "jaeger-operator", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the operator is gone: %v", err)
	_, err = dyn.Resource(jaegers).Namespace("jaeger").Get(ctx, "jaeger", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the instance is gone: %v", err)
	_, err = cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "jaeger-jaeger", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the webhook is gone: %v", err)
	_, err = dyn.Resource(crdGVR).Get(ctx, "jaegers.jaegertracing.io", metav1.GetOptions{})
	assert.NoError(t, err, "helm keeps CRDs")
	_, err = cs.AppsV1().Deployments("otel").Get(ctx, "otel-operator", metav1.GetOptions{})
	assert.NoError(t, err, "the other apps stay")
}
