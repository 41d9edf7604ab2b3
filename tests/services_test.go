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
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/render"
)

// The releases of the services stage and the objects each must render for
// the example values repo (kind/name, namespace implied by the release).
var servicesWant = map[string][]string{
	"httpbin": {"Deployment/httpbin", "Service/httpbin", "VirtualService/httpbin"},
	"minio": {"StatefulSet/minio", "Service/minio", "Service/minio-hl", "Secret/minio",
		"ConfigMap/minio-buckets", "Job/"},
	"vault": {"StatefulSet/vault", "Service/vault", "Service/vault-active", "Service/vault-internal",
		"ConfigMap/vault-config", "ConfigMap/vault-configuration", "Secret/vault-oidc", "Role/vault-discovery",
		"VirtualService/vault", "Job/"},
	"harbor": {"Deployment/harbor-core", "Deployment/harbor-portal", "Deployment/harbor-registry",
		"Deployment/harbor-jobservice", "StatefulSet/harbor-trivy", "Deployment/harbor-redis",
		"Service/harbor-core", "Service/harbor-registry", "Secret/harbor-core", "ConfigMap/harbor-projects",
		"Certificate/harbor-token", "Issuer/harbor-selfsigned", "NetworkPolicy/harbor-registry", "VirtualService/harbor"},
	"velero": {"Deployment/velero", "DaemonSet/node-agent", "Secret/velero-credentials",
		"BackupStorageLocation/default", "Schedule/team-demo-daily", "Schedule/team-demo-orders-db-hourly",
		"CustomResourceDefinition/schedules.velero.io", "CustomResourceDefinition/backupstoragelocations.velero.io"},
}

func servicesManifests(manifests []*render.Manifest) map[string]*render.Manifest {
	out := map[string]*render.Manifest{}
	for _, m := range manifests {
		if m.Release.Labels["stage"] == "services" || m.Release.Name == "minio" {
			out[m.Release.Name] = m
		}
	}
	return out
}

func objectOf(m *render.Manifest, kind, name string) *render.Object {
	for _, o := range m.Objects {
		if o.Kind == kind && o.Name == name {
			return o
		}
	}
	return nil
}

// TestServicesRender: every app of the services stage renders for the
// example (two teams), with its labels, its objects, a Velero Schedule per
// backup of team demo limited to team-demo, and the hosts on their gateways.
func TestServicesRender(t *testing.T) {
	releases, manifests := examplePlatform(t, cmdutil.RenderFlags{})
	groups := map[string]string{"httpbin": "shared", "vault": "shared", "harbor": "shared", "minio": "optional", "velero": "optional"}
	for _, r := range releases {
		if r.Labels["stage"] != "services" && r.Name != "minio" {
			continue
		}
		assert.True(t, r.Installed, r.Name)
		assert.Equal(t, groups[r.Name], r.Labels["group"], r.Name)
		assert.Equal(t, r.Name, r.Namespace, "each app in its own namespace")
	}
	svc := servicesManifests(manifests)
	require.Len(t, svc, len(servicesWant))
	for name, want := range servicesWant {
		m := svc[name]
		require.NotNil(t, m, name)
		var have []string
		for _, o := range m.Objects {
			have = append(have, o.Kind+"/"+o.Name)
			if o.Kind != "CustomResourceDefinition" && o.Kind != "ClusterRoleBinding" {
				assert.Equal(t, name, o.Namespace, "%s %s names its namespace", name, o.Ref())
			}
		}
		for _, w := range want {
			found := false
			for _, h := range have {
				if h == w || (strings.HasSuffix(w, "/") && strings.HasPrefix(h, w)) {
					found = true
				}
			}
			assert.True(t, found, "%s renders %s (has %v)", name, w, have)
		}
	}

	// One Schedule per backup of teamConfig.demo.backups, each limited to the team's namespace.
	var schedules []string
	for _, o := range svc["velero"].Objects {
		if o.Kind != "Schedule" {
			continue
		}
		schedules = append(schedules, o.Name)
		tmpl := o.Body["spec"].(map[string]any)["template"].(map[string]any)
		assert.Equal(t, []any{"team-demo"}, tmpl["includedNamespaces"], o.Name)
		assert.Equal(t, false, tmpl["includeClusterResources"], o.Name)
		assert.Equal(t, "demo", o.Body["metadata"].(map[string]any)["labels"].(map[string]any)["otomi.io/team"])
	}
	sort.Strings(schedules)
	assert.Equal(t, []string{"team-demo-daily", "team-demo-orders-db-hourly"}, schedules)
	hourly := objectOf(svc["velero"], "Schedule", "team-demo-orders-db-hourly").Body["spec"].(map[string]any)
	assert.Equal(t, "0 * * * *", hourly["schedule"])
	tmpl := hourly["template"].(map[string]any)
	assert.Equal(t, "48h", tmpl["ttl"])
	assert.Equal(t, map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/instance": "orders-db"}}, tmpl["labelSelector"])
	assert.Equal(t, true, tmpl["defaultVolumesToFsBackup"], "snapshotVolumes without provider snapshots: the node agent copies the files")
	bsl := objectOf(svc["velero"], "BackupStorageLocation", "default").Body["spec"].(map[string]any)
	assert.Equal(t, "velero", bsl["objectStorage"].(map[string]any)["bucket"])
	assert.Equal(t, "http://minio.minio.svc.cluster.local:9000", bsl["config"].(map[string]any)["s3Url"])

	// The buckets: the demo's own plus those of the apps on minio-local (velero, harbor, loki, thanos), once each.
	buckets := objectOf(svc["minio"], "ConfigMap", "minio-buckets").Body["data"].(map[string]any)["buckets"].(string)
	assert.Equal(t, "velero none false\ncnpg-backups none true\nharbor none false\nloki none false\nthanos none false\n", buckets)
	// MinIO has a stage of its own before every app that stores in it.
	stateFile := map[string]string{}
	for _, r := range releases {
		stateFile[r.Name] = filepath.Base(r.StateFile)
	}
	assert.Equal(t, "storage", svc["minio"].Release.Labels["stage"])
	for _, user := range []string{"databases", "loki", "tempo", "thanos", "harbor", "velero"} {
		require.NotEmpty(t, stateFile[user], user)
		assert.Less(t, stateFile["minio"], stateFile[user], "MinIO's stage comes before %s's", user)
	}
	// Harbor's registry on MinIO: S3 settings in the ConfigMap, the keys only by secretKeyRef, no image volume.
	registryCfg := objectOf(svc["harbor"], "ConfigMap", "harbor-registry").Body["data"].(map[string]any)["config.yml"].(string)
	assert.Contains(t, registryCfg, `regionendpoint: "http://minio.minio.svc.cluster.local:9000"`)
	assert.Contains(t, objectOf(svc["harbor"], "Deployment", "harbor-registry").YAML, "name: REGISTRY_STORAGE_S3_SECRETKEY\n              valueFrom:\n                secretKeyRef:")
	assert.Nil(t, objectOf(svc["harbor"], "PersistentVolumeClaim", "harbor-registry"))

	// Hosts: httpbin and vault public, harbor's browser paths on the auth gateway and /v2, /service/token public.
	gws := func(m *render.Manifest, name string) []any {
		return objectOf(m, "VirtualService", name).Body["spec"].(map[string]any)["gateways"].([]any)
	}
	assert.Equal(t, []any{"istio-system/public"}, gws(svc["httpbin"], "httpbin"))
	assert.Equal(t, []any{"istio-system/public"}, gws(svc["vault"], "vault"))
	assert.Equal(t, []any{"istio-system/auth", "istio-system/public"}, gws(svc["harbor"], "harbor"))
	var gateways *render.Manifest
	for _, m := range manifests {
		if m.Release.Name == "istio-gateways" {
			gateways = m
		}
	}
	require.NotNil(t, gateways)
	ing := func(name string) map[string]any { return objectOf(gateways, "Ingress", name).Body }
	assert.Contains(t, ing("harbor")["metadata"].(map[string]any)["annotations"], "nginx.ingress.kubernetes.io/auth-url")
	assert.NotContains(t, ing("harbor-registry")["metadata"].(map[string]any)["annotations"], "nginx.ingress.kubernetes.io/auth-url")
	paths := ing("harbor-registry")["spec"].(map[string]any)["rules"].([]any)[0].(map[string]any)["http"].(map[string]any)["paths"].([]any)
	require.Len(t, paths, 2)
	assert.Equal(t, "/v2", paths[0].(map[string]any)["path"])
	assert.Equal(t, "/service/token", paths[1].(map[string]any)["path"])
	assert.Equal(t, ing("harbor")["spec"].(map[string]any)["ingressClassName"], ing("harbor-registry")["spec"].(map[string]any)["ingressClassName"],
		"the registry paths share the browser's class: one load balancer for the host")
	for _, host := range []string{"httpbin", "vault"} {
		assert.NotContains(t, ing(host)["metadata"].(map[string]any)["annotations"], "nginx.ingress.kubernetes.io/auth-url", host)
	}

	// Harbor: OIDC settings (with the client secret) only in its Secret; a project per team.
	projects := objectOf(svc["harbor"], "ConfigMap", "harbor-projects").Body["data"].(map[string]any)["projects.json"].(string)
	assert.Contains(t, projects, `"name": "team-demo"`)
	assert.Contains(t, projects, `"name": "team-dev"`)
	assert.NotContains(t, objectOf(svc["harbor"], "ConfigMap", "harbor-core").YAML, "oidc_client_secret")
	// Vault: a KV mount and policy per team; no unseal material anywhere.
	vcfg := objectOf(svc["vault"], "ConfigMap", "vault-configuration").Body["data"].(map[string]any)
	assert.Equal(t, "demo team-demo team-demo team-demo\ndev team-dev team-dev team-dev\n", vcfg["teams"])
	assert.Contains(t, vcfg, "policy-team-demo.hcl")
	for _, m := range svc {
		for _, o := range m.Objects {
			assert.NotRegexp(t, `(?i)unseal_?key|root_token`, o.YAML, o.Ref())
		}
	}
}

// TestServicesValidateAndImages: the services stage passes validate-templates
// on every supported Kubernetes minor, and `otomi images` lists each of its
// images pinned.
func TestServicesValidateAndImages(t *testing.T) {
	top := repoRoot(t)
	t.Setenv("SOPS_AGE_KEY_FILE", filepath.Join(top, "testdata", "age", "test-only.agekey"))
	example := filepath.Join(top, "examples", "demo")
	runOtomi(t, "validate-templates", "--all-versions", "--env-dir", example, "--platform-dir", top)
	images := runOtomi(t, "images", "--env-dir", example, "--platform-dir", top)
	for _, repo := range []string{
		"docker.io/goharbor/harbor-core", "docker.io/goharbor/harbor-portal", "docker.io/goharbor/registry-photon",
		"docker.io/goharbor/harbor-registryctl", "docker.io/goharbor/harbor-jobservice",
		"docker.io/goharbor/trivy-adapter-photon", "docker.io/goharbor/redis-photon",
		"docker.io/hashicorp/vault", "quay.io/minio/minio", "quay.io/minio/mc",
		"docker.io/velero/velero", "docker.io/velero/velero-plugin-for-aws", "ghcr.io/mccutchen/go-httpbin",
	} {
		assert.Regexp(t, `(?m)^`+regexp.QuoteMeta(repo)+`:[\w][\w.-]*$`, images, "pinned %s", repo)
		assert.NotContains(t, images, repo+":latest")
	}
}

// TestServicesApply: apply creates every object of the services stage in a
// real kube-apiserver (Velero's CRDs before its Schedules), and turning
// httpbin and velero off uninstalls them.
func TestServicesApply(t *testing.T) {
	c := newKubeEnv(t)
	c.mustOtomi("apply")
	_, manifests := c.render()
	var svc []*render.Manifest
	for _, m := range servicesManifests(manifests) {
		svc = append(svc, m)
	}
	found, missing := missingObjects(t, c.s, svc)
	assert.Empty(t, missing)
	assert.Greater(t, found, 50)
	rel := c.releases()
	for _, id := range []string{"httpbin/httpbin", "minio/minio", "vault/vault", "harbor/harbor", "velero/velero"} {
		assert.Equal(t, "1 deployed", rel[id], id)
	}

	dyn, err := dynamic.NewForConfig(c.s.RESTConfig())
	require.NoError(t, err)
	ctx := context.Background()
	schedules := schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: "schedules"}
	list, err := dyn.Resource(schedules).Namespace("velero").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	var names []string
	for _, s := range list.Items {
		names = append(names, s.GetName())
		ns, _, _ := unstructured.NestedStringSlice(s.Object, "spec", "template", "includedNamespaces")
		assert.Equal(t, []string{"team-demo"}, ns, s.GetName())
	}
	sort.Strings(names)
	assert.Equal(t, []string{"team-demo-daily", "team-demo-orders-db-hourly"}, names)

	// httpbin and velero off: uninstalled, their objects gone (Velero's CRDs stay, as helm keeps CRDs).
	off := filepath.Join(t.TempDir(), "off.yaml")
	require.NoError(t, os.WriteFile(off, []byte("apps:\n  httpbin:\n    enabled: false\n  velero:\n    enabled: false\n"), 0o644))
	r := c.mustOtomi("apply", "--state-values-file", off)
	assert.Contains(t, r.stderr, "uninstall httpbin/httpbin: done in ")
	assert.Contains(t, r.stderr, "uninstall velero/velero: done in ")
	rel = c.releases()
	assert.NotContains(t, rel, "httpbin/httpbin")
	assert.NotContains(t, rel, "velero/velero")
	assert.Equal(t, "1 deployed", rel["harbor/harbor"])
	cs, err := kubernetes.NewForConfig(c.s.RESTConfig())
	require.NoError(t, err)
	_, err = cs.AppsV1().Deployments("httpbin").Get(ctx, "httpbin", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "httpbin is gone: %v", err)
	_, err = cs.AppsV1().Deployments("velero").Get(ctx, "velero", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "velero is gone: %v", err)
	list, err = dyn.Resource(schedules).Namespace("velero").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, list.Items, "the schedules are gone")
	_, err = cs.NetworkingV1().Ingresses("istio-system").Get(ctx, "httpbin", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "httpbin's Ingress is gone: %v", err)
}
