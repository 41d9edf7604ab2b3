package tests

// The delivery apps (issue 12): Argo CD, Tekton Triggers and dashboards,
// the Kaniko and Paketo build pipelines, Drone, Knative Serving and the
// RabbitMQ operator, rendered for the example (every one of them on, two
// teams) and applied to a real kube-apiserver.

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/otomi/otomi/pkg/cmd/root"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/render"
)

// deliveryReleases are the releases of the two delivery stages for the
// example's teams (demo and dev).
var deliveryReleases = []string{
	"argocd/argocd",
	"tekton-pipelines/tekton-triggers",
	"tekton-pipelines/tekton-dashboard",
	"drone/drone",
	"knative-serving/knative",
	"rabbitmq-system/rabbitmq-operator",
	"team-demo/team-delivery-demo",
	"team-demo/tekton-dashboard-demo",
	"team-dev/team-delivery-dev",
	"team-dev/tekton-dashboard-dev",
}

// deliveryCRDs are the CRDs the delivery charts bring.
var deliveryCRDs = []string{
	"applications.argoproj.io", "appprojects.argoproj.io", "applicationsets.argoproj.io",
	"eventlisteners.triggers.tekton.dev", "triggerbindings.triggers.tekton.dev", "triggertemplates.triggers.tekton.dev",
	"triggers.triggers.tekton.dev", "clustertriggerbindings.triggers.tekton.dev", "interceptors.triggers.tekton.dev",
	"clusterinterceptors.triggers.tekton.dev",
	"services.serving.knative.dev", "configurations.serving.knative.dev", "revisions.serving.knative.dev",
	"routes.serving.knative.dev", "domainmappings.serving.knative.dev",
	"rabbitmqclusters.rabbitmq.com",
}

// exampleBuild is a build of the example's teamConfig.<team>.builds.
type exampleBuild struct {
	Name    string `json:"name"`
	Mode    string `json:"mode"`
	Trigger bool   `json:"trigger"`
}

// exampleBuilds reads the builds each team of the example declares.
func exampleBuilds(t *testing.T) map[string][]exampleBuild {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "examples", "demo", "env", "teams", "builds.*.yaml"))
	require.NoError(t, err)
	out := map[string][]exampleBuild{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		var doc struct {
			TeamConfig map[string]struct {
				Builds []exampleBuild `json:"builds"`
			} `json:"teamConfig"`
		}
		require.NoError(t, yaml.Unmarshal(data, &doc), f)
		for team, cfg := range doc.TeamConfig {
			out[team] = append(out[team], cfg.Builds...)
		}
	}
	require.Len(t, out, 2, "both example teams declare builds")
	return out
}

// objectsOf indexes the rendered objects as kind/namespace/name.
func objectsOf(manifests []*render.Manifest) map[string]*render.Object {
	out := map[string]*render.Object{}
	for _, m := range manifests {
		for _, o := range m.Objects {
			ns := o.Namespace
			if ns == "" && !clusterScoped(o.Kind) {
				ns = m.Release.Namespace
			}
			out[o.Kind+"/"+ns+"/"+o.Name] = o
		}
	}
	return out
}

func clusterScoped(kind string) bool {
	switch kind {
	case "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass",
		"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "ClusterInterceptor", "ClusterIssuer", "IngressClass":
		return true
	}
	return false
}

// field digs a value out of a rendered object.
func field(t *testing.T, o *render.Object, path ...string) any {
	t.Helper()
	var v any = o.Body
	for _, p := range path {
		m, ok := v.(map[string]any)
		require.True(t, ok, "%s: %s is not an object", o.Ref(), strings.Join(path, "."))
		v = m[p]
	}
	return v
}

// stepImages lists the images of a Pipeline's inline task steps.
func stepImages(t *testing.T, o *render.Object) []string {
	t.Helper()
	var out []string
	for _, task := range field(t, o, "spec", "tasks").([]any) {
		spec := task.(map[string]any)["taskSpec"].(map[string]any)
		for _, s := range spec["steps"].([]any) {
			out = append(out, s.(map[string]any)["image"].(string))
		}
	}
	return out
}

// TestDeliveryRenders: every delivery release renders for the example, each
// team gets an AppProject confined to its namespace, its Applications, its
// dashboard, a build Pipeline per declared build (Kaniko or Paketo, pushing
// to its Harbor project) with triggers where asked, and the Knative-type
// service becomes a Knative Service behind the knative gateway.
func TestDeliveryRenders(t *testing.T) {
	releases, manifests := examplePlatform(t, cmdutil.RenderFlags{})
	rendered := map[string]int{}
	for _, m := range manifests {
		rendered[m.Release.ID()] = len(m.Objects)
	}
	byID := map[string]*render.Release{}
	for _, r := range releases {
		byID[r.ID()] = r
	}
	for _, id := range deliveryReleases {
		r := byID[id]
		require.NotNil(t, r, "release %s", id)
		assert.True(t, r.Installed, "%s is installed", id)
		assert.Positive(t, rendered[id], "%s renders objects", id)
		assert.Contains(t, []string{"delivery", "team-delivery"}, r.Labels["stage"], id)
	}
	objs := objectsOf(manifests)
	get := func(ref string) *render.Object {
		t.Helper()
		o := objs[ref]
		require.NotNil(t, o, "rendered %s", ref)
		return o
	}

	// The CRDs come with their charts.
	for _, crd := range deliveryCRDs {
		get("CustomResourceDefinition//" + crd)
	}

	// Argo CD: SSO through Keycloak with the client secret by reference only,
	// Keycloak groups mapped onto roles.
	cm := get("ConfigMap/argocd/argocd-cm")
	oidc := field(t, cm, "data", "oidc.config").(string)
	assert.Contains(t, oidc, "issuer: https://keycloak.demo.otomi.example/realms/otomi")
	assert.Contains(t, oidc, "clientSecret: $argocd-oidc:clientSecret")
	secret := get("Secret/argocd/argocd-oidc")
	assert.NotEmpty(t, field(t, secret, "data", "clientSecret"))
	assert.Equal(t, "argocd", field(t, secret, "metadata", "labels").(map[string]any)["app.kubernetes.io/part-of"])
	rbac := field(t, get("ConfigMap/argocd/argocd-rbac-cm"), "data", "policy.csv").(string)
	assert.Contains(t, rbac, "g, otomi-admin, role:admin")
	vs := get("VirtualService/argocd/argocd-server")
	assert.Equal(t, []any{"argocd.demo.otomi.example"}, field(t, vs, "spec", "hosts"))
	assert.Equal(t, []any{"istio-system/auth"}, field(t, vs, "spec", "gateways"))
	assert.Equal(t, "auth", field(t, get("Ingress/istio-system/argocd"), "metadata", "labels").(map[string]any)["otomi.io/gateway"])

	// Knative Serving uses the core platform's knative gateway.
	assert.Contains(t, field(t, get("ConfigMap/knative-serving/config-istio"), "data", "external-gateways"),
		"service: istio-ingressgateway-knative.istio-system.svc.cluster.local")

	for team, builds := range exampleBuilds(t) {
		ns := "team-" + team
		t.Run(team, func(t *testing.T) {
			// An AppProject limited to the team's namespace, nothing cluster-wide.
			proj := get("AppProject/argocd/" + ns)
			assert.Equal(t, []any{map[string]any{"server": "https://kubernetes.default.svc", "namespace": ns}},
				field(t, proj, "spec", "destinations"))
			assert.Empty(t, field(t, proj, "spec", "clusterResourceWhitelist"))
			assert.Contains(t, rbac, "g, "+ns+", role:"+ns)
			assert.Contains(t, rbac, "p, role:"+ns+", applications, *, "+ns+"/*, allow")
			for ref, o := range objs {
				if strings.HasPrefix(ref, "Application/argocd/"+ns+"-") {
					assert.Equal(t, ns, field(t, o, "spec", "project"), ref)
					assert.Equal(t, ns, field(t, o, "spec", "destination", "namespace"), ref)
				}
			}

			// The team's dashboard reads its namespace only.
			dash := get("Deployment/" + ns + "/tekton-dashboard-" + team)
			args := field(t, dash, "spec", "template", "spec", "containers").([]any)[0].(map[string]any)["args"]
			assert.Contains(t, args, "--namespaces="+ns)
			assert.Contains(t, args, "--read-only=true")
			get("Role/" + ns + "/tekton-dashboard-" + team)
			assert.Nil(t, objs["ClusterRole//tekton-dashboard-"+team], "no cluster-wide role for a team dashboard")
			assert.Equal(t, []any{"tekton-" + team + ".demo.otomi.example"}, field(t, get("VirtualService/"+ns+"/tekton-dashboard-"+team), "spec", "hosts"))

			// A Pipeline per build, with the builder of its mode, pushing to the team's Harbor project.
			var triggered []string
			for _, b := range builds {
				p := get("Pipeline/" + ns + "/build-" + b.Name)
				imgs := strings.Join(stepImages(t, p), " ")
				mode := b.Mode
				if mode == "" {
					mode = "docker"
				}
				if mode == "docker" {
					assert.Contains(t, imgs, "gcr.io/kaniko-project/executor:v", b.Name)
				} else {
					assert.Contains(t, imgs, "docker.io/paketobuildpacks/builder-jammy-base:", b.Name)
				}
				assert.Contains(t, p.YAML, "harbor.demo.otomi.example/"+ns+"/"+b.Name+":$(params.tag)", b.Name)
				if b.Trigger {
					triggered = append(triggered, b.Name)
					get("TriggerTemplate/" + ns + "/build-" + b.Name)
				}
			}
			if len(triggered) > 0 {
				el := get("EventListener/" + ns + "/builds")
				var names []string
				for _, tr := range field(t, el, "spec", "triggers").([]any) {
					names = append(names, tr.(map[string]any)["name"].(string))
				}
				sort.Strings(triggered)
				sort.Strings(names)
				assert.Equal(t, triggered, names)
				get("TriggerBinding/" + ns + "/gitea-push")
				get("Secret/" + ns + "/gitea-webhook")
			}
		})
	}

	// The Knative-type service of team demo: a Knative Service, no VirtualService of the team, its host
	// mapped by a DomainMapping, its Ingress forwarding to the knative gateway.
	ksvc := get("Service/team-demo/hello-fn")
	assert.Equal(t, "serving.knative.dev/v1", ksvc.APIVersion)
	assert.Nil(t, objs["VirtualService/team-demo/hello-fn"])
	get("DomainMapping/team-demo/hello-fn-demo.demo.otomi.example")
	backend := field(t, get("Ingress/istio-system/team-demo-hello-fn"), "spec", "rules").([]any)[0].(map[string]any)["http"].(map[string]any)["paths"].([]any)[0].(map[string]any)["backend"]
	assert.Equal(t, "istio-ingressgateway-knative", backend.(map[string]any)["service"].(map[string]any)["name"])

	// The team's RabbitMQ cluster.
	get("RabbitmqCluster/team-demo/events")

	// otomi images lists the builder images, pinned.
	imgs := render.Images(manifests)
	for _, want := range []string{
		"gcr.io/kaniko-project/executor:v1.24.0",
		"docker.io/paketobuildpacks/builder-jammy-base:0.4.539",
		"quay.io/argoproj/argocd:v3.1.7",
		"gcr.io/knative-releases/knative.dev/serving/cmd/activator:v1.19.0",
		"docker.io/rabbitmqoperator/cluster-operator:2.16.1",
		"docker.io/drone/drone:2.24.0",
		"ghcr.io/tektoncd/triggers/controller-f656ca31de179ab913fa76abc255c315:v0.33.0",
		"ghcr.io/tektoncd/dashboard/dashboard-9623576a202fe86c8b7d1bc489905f86:v0.65.0",
	} {
		assert.Contains(t, imgs, want)
	}
	out := runOtomi(t, "images", "--platform-dir", repoRoot(t), "--env-dir", filepath.Join(repoRoot(t), "examples", "demo"))
	assert.Contains(t, out, "gcr.io/kaniko-project/executor:v1.24.0\n")
	assert.Contains(t, out, "docker.io/paketobuildpacks/builder-jammy-base:0.4.539\n")
}

// TestDeliveryValidates: validate-templates accepts the delivery releases on
// every supported Kubernetes minor (API and CRD schemas, policies).
func TestDeliveryValidates(t *testing.T) {
	top := repoRoot(t)
	t.Setenv("SOPS_AGE_KEY_FILE", filepath.Join(top, "testdata", "age", "test-only.agekey"))
	// The report is for people: stderr.
	ios, _, _, errOut := iostreams.Test()
	code := root.Run(context.Background(), cmdutil.New(ios), []string{"validate-templates", "--all-versions",
		"--platform-dir", top, "--env-dir", filepath.Join(top, "examples", "demo")})
	out := errOut.String()
	require.Equal(t, 0, code, out)
	for _, id := range deliveryReleases {
		name := id[strings.Index(id, "/")+1:]
		assert.Regexp(t, `(?m)^`+name+` +\d+ +\d+ +\d+ +0$`, out, "%s: no errors", name)
	}
}

// TestDeliveryApply applies the example to a real kube-apiserver: every
// object of the delivery releases is created (their CRDs first), the
// per-team objects are accepted by those CRDs, and turning the optional
// apps off uninstalls them.
func TestDeliveryApply(t *testing.T) {
	c := newKubeEnv(t)
	r := c.mustOtomi("apply")
	assert.Contains(t, r.stderr, "crds: done in ")
	for _, id := range deliveryReleases {
		assert.Contains(t, r.stderr, "install "+id+": done in ")
	}
	rels := c.releases()
	for _, id := range deliveryReleases {
		assert.Equal(t, "1 deployed", rels[id], id)
	}

	_, manifests := c.render()
	var mine []*render.Manifest
	for _, m := range manifests {
		for _, id := range deliveryReleases {
			if m.Release.ID() == id {
				mine = append(mine, m)
			}
		}
	}
	require.Len(t, mine, len(deliveryReleases))
	found, missing := missingObjects(t, c.s, mine)
	assert.Empty(t, missing)
	t.Logf("delivery: %d objects in the cluster", found)

	dyn, err := dynamic.NewForConfig(c.s.RESTConfig())
	require.NoError(t, err)
	ctx := context.Background()
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	for _, name := range deliveryCRDs {
		_, err := crds.Get(ctx, name, metav1.GetOptions{})
		assert.NoError(t, err, "CRD %s", name)
	}
	getObj := func(gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
		t.Helper()
		o, err := dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err, "%s %s/%s", gvr.Resource, ns, name)
		return o
	}
	projects := schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "appprojects"}
	pipelines := schema.GroupVersionResource{Group: "tekton.dev", Version: "v1", Resource: "pipelines"}
	for team, builds := range exampleBuilds(t) {
		ns := "team-" + team
		proj := getObj(projects, "argocd", ns)
		dests, _, _ := unstructured.NestedSlice(proj.Object, "spec", "destinations")
		assert.Equal(t, []any{map[string]any{"server": "https://kubernetes.default.svc", "namespace": ns}}, dests)
		for _, b := range builds {
			getObj(pipelines, ns, "build-"+b.Name)
		}
		getObj(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, ns, "tekton-dashboard-"+team)
	}
	ksvc := getObj(schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}, "team-demo", "hello-fn")
	img, _, _ := unstructured.NestedSlice(ksvc.Object, "spec", "template", "spec", "containers")
	require.Len(t, img, 1)
	assert.Equal(t, "istio-system/knative", ksvc.GetAnnotations()["otomi.io/gateway"])
	getObj(schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1beta1", Resource: "domainmappings"}, "team-demo", "hello-fn-demo.demo.otomi.example")
	getObj(schema.GroupVersionResource{Group: "rabbitmq.com", Version: "v1beta1", Resource: "rabbitmqclusters"}, "team-demo", "events")

	// The optional apps turned off: their releases are uninstalled; the
	// Knative Service and the RabbitMQ cluster go with them.
	off := filepath.Join(t.TempDir(), "off.yaml")
	require.NoError(t, os.WriteFile(off, []byte("apps:\n  drone:\n    enabled: false\n  knative:\n    enabled: false\n  rabbitmq:\n    enabled: false\n"), 0o644))
	r = c.mustOtomi("apply", "--state-values-file", off)
	for _, id := range []string{"drone/drone", "knative-serving/knative", "rabbitmq-system/rabbitmq-operator"} {
		assert.Contains(t, r.stderr, "uninstall "+id+": done in ")
	}
	rels = c.releases()
	for _, id := range []string{"drone/drone", "knative-serving/knative", "rabbitmq-system/rabbitmq-operator"} {
		assert.NotContains(t, rels, id)
	}
	assert.Equal(t, "1 deployed", rels["argocd/argocd"], "core delivery apps stay")
	_, err = dyn.Resource(schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}).Namespace("team-demo").Get(ctx, "hello-fn", metav1.GetOptions{})
	assert.Error(t, err, "the Knative Service is gone")
	_, err = dyn.Resource(schema.GroupVersionResource{Group: "rabbitmq.com", Version: "v1beta1", Resource: "rabbitmqclusters"}).Namespace("team-demo").Get(ctx, "events", metav1.GetOptions{})
	assert.Error(t, err, "the RabbitMQ cluster is gone")
}
