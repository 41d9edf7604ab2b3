package tests

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/render"
)

var exampleTeams = []string{"demo", "dev"}

// monitoringCharts are the charts of the observability stack this file covers.
var monitoringCharts = []string{"prometheus-operator", "prometheus", "alertmanager", "kube-state-metrics", "grafana"}

// byRelease indexes rendered manifests by release name.
func byRelease(manifests []*render.Manifest) map[string]*render.Manifest {
	out := map[string]*render.Manifest{}
	for _, m := range manifests {
		out[m.Release.Name] = m
	}
	return out
}

// object returns the one object of a kind and name in a manifest.
func object(t *testing.T, m *render.Manifest, kind, name string) *render.Object {
	t.Helper()
	for _, o := range m.Objects {
		if o.Kind == kind && o.Name == name {
			return o
		}
	}
	require.Failf(t, "object not rendered", "%s/%s in release %s", kind, name, m.Release.Name)
	return nil
}

func kinds(m *render.Manifest) map[string]int {
	out := map[string]int{}
	for _, o := range m.Objects {
		out[o.Kind]++
	}
	return out
}

// secretData decodes one key of a rendered Secret.
func secretValue(t *testing.T, o *render.Object, key string) string {
	t.Helper()
	data, _ := o.Body["data"].(map[string]any)
	enc, ok := data[key].(string)
	require.True(t, ok, "Secret %s has no key %s", o.Name, key)
	dec, err := base64.StdEncoding.DecodeString(enc)
	require.NoError(t, err)
	return string(dec)
}

func nested(t *testing.T, body map[string]any, path ...string) any {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(body, path...)
	require.NoError(t, err)
	require.True(t, ok, "no %s", strings.Join(path, "."))
	return v
}

// TestMonitoringTemplates: the example platform renders the observability
// stack - the operator with its CRDs, the platform's Prometheus,
// Alertmanager, kube-state-metrics and Grafana, and per team a Prometheus,
// an Alertmanager and kube-state-metrics that see only the team namespace.
func TestMonitoringTemplates(t *testing.T) {
	releases, manifests := examplePlatform(t, cmdutil.RenderFlags{})
	rel := map[string]*render.Release{}
	for _, r := range releases {
		rel[r.Name] = r
	}
	ms := byRelease(manifests)

	// The platform releases, in stage monitoring.
	for _, name := range monitoringCharts {
		r := rel[name]
		require.NotNil(t, r, "release %s", name)
		assert.True(t, r.Installed, name)
		assert.Equal(t, "monitoring", r.Namespace, name)
		assert.Equal(t, "monitoring", r.Labels["stage"], name)
		assert.Equal(t, "shared", r.Labels["group"], name)
		require.Contains(t, ms, name)
	}
	assert.Equal(t, []string{"monitoring/prometheus-operator"}, rel["prometheus"].Needs)

	// The operator: ten CRDs, the config reloader image by flag.
	op := ms["prometheus-operator"]
	assert.Equal(t, 10, kinds(op)["CustomResourceDefinition"])
	dep := object(t, op, "Deployment", "prometheus-operator")
	assert.Contains(t, dep.YAML, "--prometheus-config-reloader=quay.io/prometheus-operator/prometheus-config-reloader:v0.85.0")

	// The platform Prometheus: platform namespaces, cluster-wide RBAC, the
	// platform apps' monitors, rules, node-exporter.
	plat := ms["prometheus"]
	prom := object(t, plat, "Prometheus", "prometheus")
	for _, sel := range []string{"serviceMonitorNamespaceSelector", "podMonitorNamespaceSelector", "ruleNamespaceSelector"} {
		assert.Equal(t, map[string]any{"otomi.io/platform": "true"}, nested(t, prom.Body, "spec", sel, "matchLabels"), sel)
	}
	object(t, plat, "ClusterRole", "prometheus-monitoring")
	object(t, plat, "Service", "prometheus")
	object(t, plat, "DaemonSet", "node-exporter")
	for _, sm := range []string{"istiod", "ingress-nginx", "cert-manager", "keycloak", "gitea", "tekton", "node-exporter", "prometheus"} {
		object(t, plat, "ServiceMonitor", sm)
	}
	object(t, plat, "PodMonitor", "cloudnative-pg")
	rules := object(t, plat, "PrometheusRule", "prometheus-rules")
	assert.Contains(t, rules.YAML, "name: node\n")

	// disabledRules leaves groups out.
	off := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(off, []byte("apps:\n  prometheus:\n    disabledRules: [node, certificates]\n"), 0o644))
	_, fewer := examplePlatform(t, cmdutil.RenderFlags{StateValuesFiles: []string{off}, Selectors: []string{"name=prometheus"}})
	require.Len(t, fewer, 1)
	r2 := object(t, fewer[0], "PrometheusRule", "prometheus-rules")
	assert.NotContains(t, r2.YAML, "name: node\n")
	assert.NotContains(t, r2.YAML, "name: certificates\n")
	assert.Contains(t, r2.YAML, "name: kubernetes-apps\n")

	// Per team: stage team-monitoring, group team, the team namespace only.
	for _, team := range exampleTeams {
		ns := "team-" + team
		for _, app := range []string{"prometheus", "alertmanager", "kube-state-metrics"} {
			name := app + "-" + team
			r := rel[name]
			require.NotNil(t, r, name)
			assert.True(t, r.Installed, name)
			assert.Equal(t, ns, r.Namespace, name)
			for k, want := range map[string]string{"name": name, "namespace": ns, "app": app, "group": "team", "stage": "team-monitoring", "team": team} {
				assert.Equal(t, want, r.Labels[k], "%s label %s", name, k)
			}
			assert.True(t, strings.HasSuffix(r.Labels["chart"], app), "%s chart %s", name, r.Labels["chart"])
			m := ms[name]
			require.NotNil(t, m, name)
			k := kinds(m)
			assert.Zero(t, k["ClusterRole"]+k["ClusterRoleBinding"], "%s: no cluster-wide rights", name)
			for _, o := range m.Objects {
				assert.Equal(t, ns, o.Namespace, "%s: %s/%s", name, o.Kind, o.Name)
			}
		}
		tp := ms["prometheus-"+team]
		p := object(t, tp, "Prometheus", "prometheus")
		for _, sel := range []string{"serviceMonitorNamespaceSelector", "podMonitorNamespaceSelector", "probeNamespaceSelector", "scrapeConfigNamespaceSelector", "ruleNamespaceSelector"} {
			assert.Equal(t, map[string]any{"kubernetes.io/metadata.name": ns}, nested(t, p.Body, "spec", sel, "matchLabels"), "%s %s", team, sel)
		}
		assert.Equal(t, "namespace", nested(t, p.Body, "spec", "enforcedNamespaceLabel"))
		object(t, tp, "Role", "prometheus-"+team)
		object(t, tp, "Service", "prometheus")
		assert.Zero(t, kinds(tp)["DaemonSet"], "no node-exporter per team")
		ksm := object(t, ms["kube-state-metrics-"+team], "Deployment", "kube-state-metrics-"+team)
		assert.Contains(t, ksm.YAML, "--namespaces="+ns+"\n")
		assert.NotContains(t, ksm.YAML, "nodes", "a team instance exposes no cluster-scoped kinds")
		object(t, ms["alertmanager-"+team], "Alertmanager", "alertmanager")
		object(t, ms["alertmanager-"+team], "Service", "alertmanager")
	}

	// Receivers: the platform's from alerts, a team's own over them; the
	// webhook URLs only in the Secret.
	cfg := map[string]string{}
	for _, name := range []string{"alertmanager", "alertmanager-demo", "alertmanager-dev"} {
		s := object(t, ms[name], "Secret", name+"-config")
		cfg[name] = secretValue(t, s, "alertmanager.yaml")
		var parsed map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(cfg[name]), &parsed), name)
		assert.Contains(t, parsed, "route")
	}
	assert.Contains(t, cfg["alertmanager"], "channel: mon-demo-crit")
	assert.Contains(t, cfg["alertmanager"], "to: oncall@demo.otomi.example")
	assert.Contains(t, cfg["alertmanager-demo"], "channel: team-demo-crit")
	assert.NotContains(t, cfg["alertmanager-demo"], "email_configs")
	assert.Contains(t, cfg["alertmanager-dev"], "to: dev-oncall@demo.otomi.example")
	assert.NotContains(t, cfg["alertmanager-dev"], "slack_configs")
	for _, m := range manifests {
		for _, o := range m.Objects {
			if o.Kind != "Secret" {
				assert.NotContains(t, o.YAML, "hooks.slack.com", "%s %s/%s", m.Release.Name, o.Kind, o.Name)
			}
		}
	}

	// Grafana: SSO on the auth gateway, data sources per team, a folder per team.
	g := ms["grafana"]
	ini := object(t, g, "ConfigMap", "grafana").YAML
	assert.Contains(t, ini, "auth_url = https://keycloak.demo.otomi.example/realms/otomi/protocol/openid-connect/auth")
	assert.Contains(t, ini, "role_attribute_path = contains(groups[*], 'otomi-admin') && 'Admin' || contains(groups[*], 'team-admin') && 'Editor' || 'Viewer'")
	vs := object(t, g, "VirtualService", "grafana")
	assert.Equal(t, []any{"istio-system/auth"}, nested(t, vs.Body, "spec", "gateways"))
	assert.Equal(t, []any{"grafana.demo.otomi.example"}, nested(t, vs.Body, "spec", "hosts"))
	ds := secretValue(t, object(t, g, "Secret", "grafana-datasources"), "datasources.yaml")
	assert.Contains(t, ds, "url: http://prometheus.monitoring.svc.cluster.local:9090")
	for _, team := range exampleTeams {
		assert.Contains(t, ds, "url: http://prometheus.team-"+team+".svc.cluster.local:9090")
		assert.Contains(t, ds, "httpHeaderValue1: team-"+team)
		object(t, g, "ConfigMap", "grafana-team-"+team)
	}
	assert.Contains(t, object(t, g, "ConfigMap", "grafana-dashboards").YAML, "folder: team-demo")
	ingress := object(t, ms["istio-gateways"], "Ingress", "grafana")
	assert.Contains(t, ingress.YAML, "nginx.ingress.kubernetes.io/auth-url")
	assert.Contains(t, ingress.YAML, "istio-ingressgateway-auth")

	// Images: every image of the stack is pinned and listed.
	imgs := render.Images(manifests)
	for _, want := range []string{
		"quay.io/prometheus-operator/prometheus-operator:v0.85.0",
		"quay.io/prometheus-operator/prometheus-config-reloader:v0.85.0",
		"quay.io/prometheus/prometheus:v3.6.0",
		"quay.io/prometheus/alertmanager:v0.28.1",
		"quay.io/prometheus/node-exporter:v1.9.1",
		"registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.16.0",
		"docker.io/grafana/grafana:12.2.0",
	} {
		assert.Contains(t, imgs, want)
	}
}

// TestMonitoringImagesCommand: `otomi images` lists the stack's images,
// pinned, and relocates them with otomi.imageRegistry.
func TestMonitoringImagesCommand(t *testing.T) {
	top := repoRoot(t)
	t.Setenv("SOPS_AGE_KEY_FILE", filepath.Join(top, "testdata", "age", "test-only.agekey"))
	example := filepath.Join(top, "examples", "demo")
	on := filepath.Join(t.TempDir(), "thanos.yaml")
	require.NoError(t, os.WriteFile(on, []byte("apps:\n  thanos:\n    enabled: true\n    objectStorage: {type: minio-local}\n"), 0o644))
	out := runOtomi(t, "images", "--env-dir", example, "--platform-dir", top, "-l", "stage=monitoring", "--state-values-file", on)
	lines := strings.Fields(out)
	for _, want := range []string{
		"quay.io/prometheus-operator/prometheus-operator:v0.85.0",
		"quay.io/prometheus-operator/prometheus-config-reloader:v0.85.0",
		"quay.io/prometheus/prometheus:v3.6.0",
		"quay.io/prometheus/alertmanager:v0.28.1",
		"quay.io/prometheus/node-exporter:v1.9.1",
		"quay.io/thanos/thanos:v0.39.2",
		"registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.16.0",
		"docker.io/grafana/grafana:12.2.0",
	} {
		assert.Contains(t, lines, want)
	}
	reg := filepath.Join(t.TempDir(), "registry.yaml")
	require.NoError(t, os.WriteFile(reg, []byte("otomi:\n  imageRegistry: registry.internal.example:5000/mirror\n"), 0o644))
	moved := runOtomi(t, "template", "--env-dir", example, "--platform-dir", top, "-l", "stage=monitoring", "--state-values-file", on, "--state-values-file", reg)
	assert.Contains(t, moved, "--prometheus-config-reloader=registry.internal.example:5000/mirror/prometheus-operator/prometheus-config-reloader:v0.85.0")
	assert.Contains(t, moved, "image: registry.internal.example:5000/mirror/thanos/thanos:v0.39.2")
	assert.NotContains(t, moved, "image: quay.io/")
}

// TestMonitoringApply applies the example platform to a real API server:
// every object of the stack is created (the CRDs first), and each team has
// its own Prometheus, Alertmanager and kube-state-metrics in its namespace,
// the Prometheus selecting only that namespace. Grafana turned off is
// uninstalled.
func TestMonitoringApply(t *testing.T) {
	c := newKubeEnv(t)
	c.mustOtomi("apply")
	_, manifests := c.render()
	var mine []*render.Manifest
	for _, m := range manifests {
		if contains(monitoringCharts, filepath.Base(m.Release.Labels["chart"])) {
			mine = append(mine, m)
		}
	}
	require.Len(t, mine, len(monitoringCharts)+3*len(exampleTeams))
	found, missing := missingObjects(t, c.s, mine)
	assert.Empty(t, missing)
	t.Logf("monitoring: %d objects in the cluster", found)

	ctx := context.Background()
	dyn, err := dynamic.NewForConfig(c.s.RESTConfig())
	require.NoError(t, err)
	cs, err := kubernetes.NewForConfig(c.s.RESTConfig())
	require.NoError(t, err)
	mon := func(resource string) dynamic.NamespaceableResourceInterface {
		return dyn.Resource(schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: resource})
	}
	for _, team := range exampleTeams {
		ns := "team-" + team
		p, err := mon("prometheuses").Namespace(ns).Get(ctx, "prometheus", metav1.GetOptions{})
		require.NoError(t, err, ns)
		for _, sel := range []string{"serviceMonitorNamespaceSelector", "podMonitorNamespaceSelector", "ruleNamespaceSelector"} {
			got, ok, err := unstructured.NestedStringMap(p.Object, "spec", sel, "matchLabels")
			require.NoError(t, err)
			require.True(t, ok, "%s %s", ns, sel)
			assert.Equal(t, map[string]string{"kubernetes.io/metadata.name": ns}, got, "%s %s", ns, sel)
		}
		_, err = mon("alertmanagers").Namespace(ns).Get(ctx, "alertmanager", metav1.GetOptions{})
		require.NoError(t, err, ns)
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "kube-state-metrics-"+team, metav1.GetOptions{})
		require.NoError(t, err, ns)
		assert.Contains(t, d.Spec.Template.Spec.Containers[0].Args, "--namespaces="+ns)
		list, err := mon("servicemonitors").Namespace(ns).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		assert.NotEmpty(t, list.Items, ns)
		_, err = cs.RbacV1().ClusterRoles().Get(ctx, "prometheus-"+team+"-"+ns, metav1.GetOptions{})
		assert.True(t, apierrors.IsNotFound(err), "no ClusterRole for team %s", team)
	}
	_, err = mon("prometheuses").Namespace("monitoring").Get(ctx, "prometheus", metav1.GetOptions{})
	require.NoError(t, err)

	// Grafana off: its release goes, the host's Ingress with it.
	off := filepath.Join(t.TempDir(), "off.yaml")
	require.NoError(t, os.WriteFile(off, []byte("apps:\n  grafana:\n    enabled: false\n"), 0o644))
	r := c.mustOtomi("apply", "--state-values-file", off)
	assert.Contains(t, r.stderr, "uninstall monitoring/grafana: done in ")
	_, err = cs.AppsV1().Deployments("monitoring").Get(ctx, "grafana", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "grafana is gone: %v", err)
	_, err = cs.NetworkingV1().Ingresses("istio-system").Get(ctx, "grafana", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the grafana Ingress is gone: %v", err)
	_, err = cs.AppsV1().Deployments("monitoring").Get(ctx, "prometheus-operator", metav1.GetOptions{})
	assert.NoError(t, err, "the rest of the stack stays")
}
