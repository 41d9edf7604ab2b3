package tests

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/otomi/otomi/pkg/cmd/root"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/render"
	"github.com/otomi/otomi/pkg/validate"
)

// securityReleases are the releases of the security stage and their apps.
var securityReleases = map[string]string{
	"gatekeeper":             "gatekeeper",
	"gatekeeper-constraints": "gatekeeper",
	"trivy-operator":         "trivy",
	"falco":                  "falco",
	"sealed-secrets":         "sealed-secrets",
	"external-dns":           "external-dns",
}

// securityPlatform renders the security stage of the example platform.
func securityPlatform(t *testing.T, stateValues ...string) map[string]*render.Manifest {
	t.Helper()
	releases, manifests := examplePlatform(t, cmdutil.RenderFlags{Selectors: []string{"stage=security"}, StateValuesFiles: stateValues})
	byName := map[string]*render.Manifest{}
	for _, m := range manifests {
		byName[m.Release.Name] = m
	}
	for _, r := range releases {
		assert.Equal(t, "security", r.Labels["stage"], r.Name)
	}
	return byName
}

// object finds a rendered object by kind and name.
func secObject(t *testing.T, m *render.Manifest, kind, name string) map[string]any {
	t.Helper()
	require.NotNil(t, m)
	for _, o := range m.Objects {
		if o.Kind == kind && o.Name == name {
			return o.Body
		}
	}
	t.Fatalf("release %s has no %s %s", m.Release.Name, kind, name)
	return nil
}

func dig(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			require.True(t, ok, "%v: not a map at %q", path, k)
			v = m[k]
		case int:
			l, ok := v.([]any)
			require.True(t, ok && k < len(l), "%v: no index %d", path, k)
			v = l[k]
		}
	}
	return v
}

func firstContainer(t *testing.T, workload map[string]any) map[string]any {
	t.Helper()
	return dig(t, workload, "spec", "template", "spec", "containers", 0).(map[string]any)
}

// TestSecurityTemplate: the security stage renders every app of the demo,
// with the labels, images and settings of the values.
func TestSecurityTemplate(t *testing.T) {
	releases, manifests := examplePlatform(t, cmdutil.RenderFlags{Selectors: []string{"stage=security"}})
	require.Len(t, releases, len(securityReleases))
	for _, r := range releases {
		app, ok := securityReleases[r.Name]
		require.True(t, ok, "unexpected release %s", r.Name)
		assert.True(t, r.Installed, "%s is on in the demo", r.Name)
		assert.Equal(t, app, r.Labels["app"])
		assert.Equal(t, "optional", r.Labels["group"])
		assert.Equal(t, r.Namespace, r.Labels["namespace"])
	}
	byName := map[string]*render.Manifest{}
	for _, m := range manifests {
		byName[m.Release.Name] = m
		assert.NotEmpty(t, m.Objects, m.Release.Name)
	}
	imgs := render.Images(manifests)
	for _, want := range []string{
		"docker.io/openpolicyagent/gatekeeper:v3.20.0", "mirror.gcr.io/aquasec/trivy-operator:0.24.1",
		"docker.io/falcosecurity/falco:0.41.3", "docker.io/bitnami/sealed-secrets-controller:0.32.2",
		"registry.k8s.io/external-dns/external-dns:v0.18.0",
	} {
		assert.Contains(t, imgs, want)
	}

	// Sealed Secrets: the controller makes its key; no Secret is rendered.
	for _, o := range byName["sealed-secrets"].Objects {
		assert.NotEqual(t, "Secret", o.Kind, "the sealing key is made at runtime")
	}
	ss := firstContainer(t, secObject(t, byName["sealed-secrets"], "Deployment", "sealed-secrets-controller"))
	assert.Contains(t, ss["args"], "--key-renew-period=720h")

	// ExternalDNS: the platform's Ingresses and gateways, the demo's zones, Route 53 through the IRSA role.
	edns := secObject(t, byName["external-dns"], "Deployment", "external-dns")
	args := firstContainer(t, edns)["args"]
	for _, a := range []string{"--source=ingress", "--source=istio-gateway", "--source=istio-virtualservice", "--provider=aws",
		"--domain-filter=demo.otomi.example", "--domain-filter=apps.otomi.example", "--policy=upsert-only", "--txt-owner-id=demo"} {
		assert.Contains(t, args, a)
	}
	sa := secObject(t, byName["external-dns"], "ServiceAccount", "external-dns")
	assert.Equal(t, "arn:aws:iam::123456789012:role/otomi-demo-external-dns", dig(t, sa, "metadata", "annotations", "eks.amazonaws.com/role-arn"))

	// Falco: the modern eBPF probe with capabilities, not privileged; the values' rules.
	falco := firstContainer(t, secObject(t, byName["falco"], "DaemonSet", "falco"))
	sc := falco["securityContext"].(map[string]any)
	assert.Nil(t, sc["privileged"])
	assert.Equal(t, []any{"BPF", "PERFMON", "SYS_RESOURCE", "SYS_PTRACE"}, dig(t, sc, "capabilities", "add"))
	cfg := secObject(t, byName["falco"], "ConfigMap", "falco")
	assert.Contains(t, dig(t, cfg, "data", "falco.yaml"), "kind: modern_ebpf")
	assert.Contains(t, dig(t, cfg, "data", "falco.yaml"), "priority: warning")
	rules := secObject(t, byName["falco"], "ConfigMap", "falco-rules")
	assert.Contains(t, dig(t, rules, "data", "otomi-rules.yaml"), "Shell in a team container")

	// Trivy: the scan jobs' image and severities from the values.
	tc := secObject(t, byName["trivy-operator"], "ConfigMap", "trivy-operator-trivy-config")
	assert.Equal(t, "mirror.gcr.io/aquasec/trivy", dig(t, tc, "data", "trivy.repository"))
	assert.Equal(t, "0.58.1", dig(t, tc, "data", "trivy.tag"))
	assert.Equal(t, "CRITICAL,HIGH,MEDIUM", dig(t, tc, "data", "trivy.severity"))

	// Gatekeeper: a ConstraintTemplate per policy, a Constraint per policy that is not off, the team overrides.
	policies, err := validate.LoadPolicies(os.DirFS(repoRoot(t)))
	require.NoError(t, err)
	gc := byName["gatekeeper-constraints"]
	for _, p := range policies {
		tmpl := secObject(t, gc, "ConstraintTemplate", strings.ToLower(validate.GatekeeperKind(p.Name)))
		assert.Equal(t, "K8sNativeValidation", dig(t, tmpl, "spec", "targets", 0, "code", 0, "engine"))
	}
	assert.Equal(t, "deny", dig(t, secObject(t, gc, "OtomiBannedImageTags", "banned-image-tags"), "spec", "enforcementAction"))
	assert.Equal(t, []any{"latest", "master", "main"}, dig(t, secObject(t, gc, "OtomiBannedImageTags", "banned-image-tags"), "spec", "parameters", "tags"))
	dev := secObject(t, gc, "OtomiBannedImageTags", "banned-image-tags-team-dev")
	assert.Equal(t, "warn", dig(t, dev, "spec", "enforcementAction"), "team dev audits banned tags")
	assert.Equal(t, []any{"team-dev"}, dig(t, dev, "spec", "match", "namespaces"))
	assert.Contains(t, dig(t, secObject(t, gc, "OtomiBannedImageTags", "banned-image-tags"), "spec", "match", "excludedNamespaces"), "team-dev")
	for _, o := range gc.Objects {
		assert.NotEqual(t, "read-only-root-filesystem", o.Name, "off on the platform")
	}
	assert.Equal(t, "warn", dig(t, secObject(t, gc, "OtomiReadOnlyRootFilesystem", "read-only-root-filesystem-team-demo"), "spec", "enforcementAction"))
}

// otomiCode runs otomi in process and returns stdout and the exit code.
func otomiCode(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ios, _, out, _ := iostreams.Test()
	code := root.Run(context.Background(), cmdutil.New(ios), args)
	return out.String(), code
}

// policyFindings runs validate-templates on the security stage and returns
// its findings of one policy.
func policyFindings(t *testing.T, policy string, stateValues ...string) []validate.Finding {
	t.Helper()
	args := []string{"validate-templates", "--env-dir", filepath.Join(repoRoot(t), "examples", "demo"), "--platform-dir", repoRoot(t),
		"-l", "stage=security", "-o", "json"}
	for _, f := range stateValues {
		args = append(args, "--state-values-file", f)
	}
	out, code := otomiCode(t, args...)
	require.Contains(t, []int{0, cmdutil.ExitValidation}, code, out)
	var report validate.Report
	require.NoError(t, json.Unmarshal([]byte(out), &report))
	var found []validate.Finding
	for _, f := range report.Findings {
		if f.Rule == "policy/"+policy {
			found = append(found, f)
		}
	}
	return found
}

// TestSecurityValidateTemplates: the security stage passes validate-templates
// on every supported minor.
func TestSecurityValidateTemplates(t *testing.T) {
	t.Setenv("SOPS_AGE_KEY_FILE", filepath.Join(repoRoot(t), "testdata", "age", "test-only.agekey"))
	_, code := otomiCode(t, "validate-templates", "--env-dir", filepath.Join(repoRoot(t), "examples", "demo"), "--platform-dir", repoRoot(t),
		"-l", "stage=security", "--all-versions")
	assert.Equal(t, 0, code)
}

// TestGatekeeperFollowsThePolicies: one policy parameter changed in the
// values changes both the static check (validate-templates) and the
// Constraint Gatekeeper enforces: they share the policy source.
func TestGatekeeperFollowsThePolicies(t *testing.T) {
	t.Setenv("SOPS_AGE_KEY_FILE", filepath.Join(repoRoot(t), "testdata", "age", "test-only.agekey"))
	memory := func(byName map[string]*render.Manifest) any {
		c := secObject(t, byName["gatekeeper-constraints"], "OtomiContainerLimits", "container-limits")
		return dig(t, c, "spec", "parameters", "memory")
	}
	above := func(fs []validate.Finding) int {
		n := 0
		for _, f := range fs {
			if strings.HasPrefix(f.Message, "the memory limit is above the allowed maximum") {
				n++
			}
		}
		return n
	}
	before := policyFindings(t, "container-limits")
	assert.Equal(t, "4Gi", memory(securityPlatform(t)))
	assert.Zero(t, above(before), "the demo allows 4Gi")

	lower := filepath.Join(t.TempDir(), "lower.yaml")
	require.NoError(t, os.WriteFile(lower, []byte("policies:\n  container-limits:\n    memory: 200Mi\n"), 0o644))
	after := policyFindings(t, "container-limits", lower)
	assert.Equal(t, "200Mi", memory(securityPlatform(t, lower)))
	assert.Positive(t, above(after), "limits above 200Mi are reported now")
	for _, f := range after {
		assert.Equal(t, validate.Warning, f.Severity, "audit: a warning")
	}

	// The action too: enforce turns warnings into errors and the Constraint into deny.
	enforce := filepath.Join(t.TempDir(), "enforce.yaml")
	require.NoError(t, os.WriteFile(enforce, []byte("policies:\n  container-limits:\n    action: enforce\n    memory: 200Mi\n"), 0o644))
	errs := policyFindings(t, "container-limits", enforce)
	require.NotEmpty(t, errs)
	assert.Equal(t, validate.Error, errs[0].Severity)
	c := secObject(t, securityPlatform(t, enforce)["gatekeeper-constraints"], "OtomiContainerLimits", "container-limits")
	assert.Equal(t, "deny", dig(t, c, "spec", "enforcementAction"))
}

// TestApplySecurity: the security stage reaches a real kube-apiserver (CRDs
// first, then every object), and turning the apps off uninstalls them.
func TestApplySecurity(t *testing.T) {
	c := newKubeEnv(t)
	c.mustOtomi("apply", "-l", "stage=init")
	r := c.mustOtomi("apply", "-l", "stage=security")
	assert.Contains(t, r.stderr, "crds: done in ")
	for name := range securityReleases {
		assert.Regexp(t, `install \S+/`+name+`: done in `, r.stderr)
	}
	_, manifests := c.render()
	var security []*render.Manifest
	for _, m := range manifests {
		if m.Release.Labels["stage"] == "security" {
			security = append(security, m)
		}
	}
	require.Len(t, security, len(securityReleases))
	found, missing := missingObjects(t, c.s, security)
	assert.Empty(t, missing)
	t.Logf("security stage: %d objects in the cluster", found)

	// The apps turned off: their releases are uninstalled.
	off := filepath.Join(t.TempDir(), "off.yaml")
	require.NoError(t, os.WriteFile(off, []byte("apps:\n  gatekeeper:\n    enabled: false\n  trivy:\n    enabled: false\n  falco:\n    enabled: false\n"+
		"  sealed-secrets:\n    enabled: false\n  external-dns:\n    enabled: false\n"), 0o644))
	r = c.mustOtomi("apply", "-l", "stage=security", "--state-values-file", off)
	for name := range securityReleases {
		assert.Regexp(t, `uninstall \S+/`+name+`: done in `, r.stderr)
	}
	rels := c.releases()
	for id := range rels {
		assert.NotContains(t, []string{"gatekeeper-system", "trivy-system", "falco", "sealed-secrets", "external-dns"}, strings.Split(id, "/")[0], id)
	}
	cs, err := kubernetes.NewForConfig(c.s.RESTConfig())
	require.NoError(t, err)
	ctx := context.Background()
	for ns, name := range map[string]string{"gatekeeper-system": "gatekeeper-controller-manager", "trivy-system": "trivy-operator",
		"sealed-secrets": "sealed-secrets-controller", "external-dns": "external-dns"} {
		_, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		assert.True(t, apierrors.IsNotFound(err), "%s/%s is gone: %v", ns, name, err)
	}
	_, err = cs.AppsV1().DaemonSets("falco").Get(ctx, "falco", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "falco is gone: %v", err)
	_, err = cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "gatekeeper-validating-webhook-configuration", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the webhook is gone: %v", err)
}
