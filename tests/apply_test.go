package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/otomi/otomi/internal/golden"
	"github.com/otomi/otomi/internal/kubetest"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/render"
)

// applyServer is a fresh API server for the cluster commands. The platform
// registers admission webhooks (cert-manager, ingress-nginx) that no pod
// serves here, so the server runs without the webhook admission plugins.
func applyServer(t testing.TB) *kubetest.Server {
	t.Helper()
	return kubetest.Start(t, kubetest.WithAPIServerFlags("--disable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook"))
}

// kubeEnv runs the otomi binary (the test binary as `otomi`, on PATH) and
// the helm CLI against one API server, with a copy of the example repo.
type kubeEnv struct {
	t    testing.TB
	s    *kubetest.Server
	repo string
	// platform is a snapshot of this checkout's platform: the tests see
	// one platform even while it is being edited.
	platform string
	env      []string
}

func newKubeEnv(t testing.TB) *kubeEnv {
	t.Helper()
	s := applyServer(t)
	top := repoRoot(t)
	repo := filepath.Join(t.TempDir(), "repo")
	require.NoError(t, copyTree(filepath.Join(top, "examples", "demo"), repo))
	platform := t.TempDir()
	for _, d := range []string{"helmfile.d", "charts", "templates", "policies"} {
		require.NoError(t, copyTree(filepath.Join(top, d), filepath.Join(platform, d)))
	}
	home := t.TempDir()
	env := append(os.Environ(),
		"KUBECONFIG="+s.Kubeconfig,
		"SOPS_AGE_KEY_FILE="+filepath.Join(top, "testdata", "age", "test-only.agekey"),
		"OTOMI_ENV_DIR="+repo,
		"OTOMI_PLATFORM_DIR="+platform,
		"HOME="+home, "TMPDIR="+t.TempDir(), "NO_COLOR=1", "CI=true",
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"), "HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	return &kubeEnv{t: t, s: s, repo: repo, platform: platform, env: env}
}

type runResult struct {
	stdout, stderr string
	code           int
}

// otomi runs the binary and returns its output and exit code.
func (c *kubeEnv) otomi(args ...string) runResult {
	c.t.Helper()
	bin, err := exec.LookPath("otomi")
	require.NoError(c.t, err, "TestMain puts otomi on PATH")
	return c.run(bin, args...)
}

func (c *kubeEnv) run(bin string, args ...string) runResult {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = c.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(c.t, err)
	}
	return runResult{out.String(), errOut.String(), code}
}

func (c *kubeEnv) mustOtomi(args ...string) runResult {
	c.t.Helper()
	r := c.otomi(args...)
	require.Equal(c.t, 0, r.code, "otomi %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.stdout, r.stderr)
	return r
}

// helm runs the real helm CLI.
func (c *kubeEnv) helm(args ...string) string {
	c.t.Helper()
	bin := os.Getenv("OTOMI_TEST_HELM")
	if bin == "" {
		c.t.Fatal("the helm interop tests need the helm CLI: run 'make test' (it builds it) or set OTOMI_TEST_HELM")
	}
	r := c.run(bin, args...)
	require.Equal(c.t, 0, r.code, "helm %s: %s", strings.Join(args, " "), r.stderr)
	return r.stdout
}

type helmRelease struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Revision  string `json:"revision"`
	Status    string `json:"status"`
	Chart     string `json:"chart"`
}

// releases is `helm list -A --all` (every state, pending included) as
// namespace/name -> "revision status".
func (c *kubeEnv) releases() map[string]string {
	c.t.Helper()
	var list []helmRelease
	require.NoError(c.t, json.Unmarshal([]byte(c.helm("list", "-A", "--all", "-o", "json")), &list))
	out := map[string]string{}
	for _, r := range list {
		out[r.Namespace+"/"+r.Name] = r.Revision + " " + r.Status
	}
	return out
}

func (c *kubeEnv) writeRepoFile(rel, content string) {
	c.t.Helper()
	require.NoError(c.t, os.WriteFile(filepath.Join(c.repo, rel), []byte(content), 0o644))
}

func (c *kubeEnv) editRepoFile(rel, old, new string) {
	c.t.Helper()
	replaceInFile(c.t, filepath.Join(c.repo, rel), old, new)
}

// replaceInFile replaces the first old in the file by new; old must be there.
func replaceInFile(t testing.TB, p, old, new string) {
	t.Helper()
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Contains(t, string(data), old)
	require.NoError(t, os.WriteFile(p, []byte(strings.Replace(string(data), old, new, 1)), 0o644))
}

// editPlatformFile replaces old by new in a file of the platform snapshot.
func (c *kubeEnv) editPlatformFile(rel, old, new string) {
	c.t.Helper()
	replaceInFile(c.t, filepath.Join(c.platform, rel), old, new)
}

// renderWith renders the cluster's platform snapshot for the example repo
// with extra state values files.
func (c *kubeEnv) renderWith(files ...string) ([]*render.Release, []*render.Manifest) {
	c.t.Helper()
	loaded, manifests := renderExample(c.t, c.platform, cmdutil.RenderFlags{StateValuesFiles: files}, render.RenderOptions{})
	return loaded.Releases, manifests
}

// render renders the cluster's platform snapshot for the example repo
// (its pristine copy), in process.
func (c *kubeEnv) render() ([]*render.Release, []*render.Manifest) {
	c.t.Helper()
	return c.renderWith()
}

// platformReleases are the IDs of the example platform's installed
// releases (the platform grows: never a fixed list).
func (c *kubeEnv) platformReleases() []string {
	c.t.Helper()
	releases, _ := c.render()
	var ids []string
	for _, r := range releases {
		if r.Installed {
			ids = append(ids, r.ID())
		}
	}
	require.NotEmpty(c.t, ids)
	return ids
}

func everyRelease(ids []string, state string) map[string]string {
	out := map[string]string{}
	for _, id := range ids {
		out[id] = state
	}
	return out
}

// missingObjects returns the rendered objects the API server does not have.
func missingObjects(t *testing.T, s *kubetest.Server, manifests []*render.Manifest) (found int, missing []string) {
	t.Helper()
	cfg := s.RESTConfig()
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	require.NoError(t, err)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	ctx := context.Background()
	for _, m := range manifests {
		for _, o := range m.Objects {
			gv, err := schema.ParseGroupVersion(o.APIVersion)
			require.NoError(t, err)
			mapping, err := mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: o.Kind}, gv.Version)
			if err != nil {
				missing = append(missing, o.Ref()+": "+err.Error())
				continue
			}
			ri := dyn.Resource(mapping.Resource)
			var getErr error
			if mapping.Scope.Name() == "namespace" {
				ns := o.Namespace
				if ns == "" {
					ns = m.Release.Namespace
				}
				_, getErr = ri.Namespace(ns).Get(ctx, o.Name, metav1.GetOptions{})
			} else {
				_, getErr = ri.Get(ctx, o.Name, metav1.GetOptions{})
			}
			if getErr != nil {
				missing = append(missing, o.Ref()+": "+getErr.Error())
				continue
			}
			found++
		}
	}
	return found, missing
}

// TestApplyExamplePlatform takes the example platform through its life
// with the otomi binary, the helm CLI looking on: first apply, a no-change
// re-apply, a values change (diff, then apply), a helm CLI upgrade behind
// otomi's back (seen by status and diff, repaired by apply), apps turned
// off, destroy.
func TestApplyExamplePlatform(t *testing.T) {
	c := newKubeEnv(t)
	ids := c.platformReleases()

	// First apply: every release and every object.
	r := c.mustOtomi("apply")
	for _, id := range ids {
		assert.Contains(t, r.stderr, "install "+id+": done in ")
	}
	assert.Contains(t, r.stderr, "crds: done in ")
	assert.Equal(t, everyRelease(ids, "1 deployed"), c.releases())
	_, manifests := c.render()
	found, missing := missingObjects(t, c.s, manifests)
	assert.Empty(t, missing)
	t.Logf("first apply: %d objects in the cluster", found)

	// The ledger.
	cs, err := kubernetes.NewForConfig(c.s.RESTConfig())
	require.NoError(t, err)
	cm, err := cs.CoreV1().ConfigMaps("otomi").Get(context.Background(), "otomi-status", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Len(t, cm.Data, len(ids))
	assert.Contains(t, cm.Data["otomi.team-ns-demo"], `"state":"deployed"`)

	// No change: no revision, nothing touched, the ledger as it was.
	r = c.mustOtomi("apply")
	assert.Contains(t, r.stderr, fmt.Sprintf("nothing to do: %d releases unchanged", len(ids)))
	assert.Equal(t, everyRelease(ids, "1 deployed"), c.releases())
	cm2, err := cs.CoreV1().ConfigMaps("otomi").Get(context.Background(), "otomi-status", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, cm.ResourceVersion, cm2.ResourceVersion, "a no-change apply writes nothing")

	// A team setting changes: diff shows it, apply upgrades that release only.
	c.editRepoFile("env/teams.yaml", "pods: '100'", "pods: '120'")
	r = c.otomi("diff", "--detailed-exitcode")
	require.Equal(t, 2, r.code, r.stderr)
	golden.Assert(t, "apply/diff-platform-team-quota.txt", []byte(r.stdout))
	assert.Contains(t, r.stderr, fmt.Sprintf("1 releases differ: 1 to upgrade; %d unchanged", len(ids)-1))
	r = c.mustOtomi("apply")
	assert.Contains(t, r.stderr, "upgrade otomi/team-ns-demo: done in ")
	want := everyRelease(ids, "1 deployed")
	want["otomi/team-ns-demo"] = "2 deployed"
	assert.Equal(t, want, c.releases())
	r = c.otomi("diff", "--detailed-exitcode")
	assert.Equal(t, 0, r.code, r.stderr)

	// The helm CLI upgrades a release behind otomi's back: status and diff
	// see it, apply puts it back.
	c.helm("upgrade", "team-ns-dev", filepath.Join(c.platform, "charts", "team-ns"), "-n", "otomi", "--reuse-values", "--set", "team.resourceQuota.pods=7")
	want["otomi/team-ns-dev"] = "2 deployed"
	assert.Equal(t, want, c.releases())
	r = c.mustOtomi("status", "-o", "json")
	var rows []struct {
		Release    string `json:"release"`
		Revision   int    `json:"revision"`
		State      string `json:"state"`
		ValuesRepo string `json:"valuesRepo"`
		Change     string `json:"change"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rows))
	byName := map[string]string{}
	for _, row := range rows {
		byName[row.Release] = strings.TrimSpace(strings.Join([]string{row.State, revisionText(row.Revision), row.ValuesRepo, row.Change}, " "))
	}
	assert.Equal(t, "deployed 2 differs upgrade: manifest changed", byName["team-ns-dev"])
	assert.Equal(t, "deployed 2 in sync", byName["team-ns-demo"])
	r = c.mustOtomi("status")
	assert.Regexp(t, `(?m)^team-ns-dev +otomi +team-ns +0\.1\.0 +2 +deployed +\S+ +differs \(upgrade: manifest changed\)`, r.stdout)
	r = c.otomi("diff", "-l", "team=dev")
	require.Equal(t, 0, r.code, r.stderr)
	golden.Assert(t, "apply/diff-platform-helm-cli.txt", []byte(r.stdout))
	c.mustOtomi("apply", "-l", "team=dev")
	want["otomi/team-ns-dev"] = "3 deployed"
	assert.Equal(t, want, c.releases())

	// A release renamed in helmfile.d: a selected run leaves the old one;
	// diff and a whole-platform apply uninstall it (the ledger knew it)
	// before they install the new one, which takes over its objects.
	c.editPlatformFile("helmfile.d/helmfile-50.gitops.yaml.gotmpl", "  - name: otomi-pipeline\n", "  - name: otomi-pipeline-renamed\n")
	c.mustOtomi("apply", "-l", "app=gitea")
	assert.Equal(t, want, c.releases(), "a selected run prunes nothing")
	r = c.otomi("diff", "--detailed-exitcode")
	require.Equal(t, 2, r.code, r.stderr)
	assert.Contains(t, r.stdout, "otomi/otomi-pipeline")
	assert.Contains(t, r.stdout, "no longer in the platform")
	r = c.mustOtomi("apply")
	assert.Contains(t, r.stderr, "uninstall otomi/otomi-pipeline: done in ")
	assert.Contains(t, r.stderr, "install otomi/otomi-pipeline-renamed: done in ")
	delete(want, "otomi/otomi-pipeline")
	want["otomi/otomi-pipeline-renamed"] = "1 deployed"
	assert.Equal(t, want, c.releases())
	cm, err = cs.CoreV1().ConfigMaps("otomi").Get(context.Background(), "otomi-status", metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotContains(t, cm.Data, "otomi.otomi-pipeline", "the ledger forgets it")
	r = c.otomi("diff", "--detailed-exitcode")
	assert.Equal(t, 0, r.code, r.stdout+r.stderr)

	// Apps turned off: their releases are uninstalled; base, which drops
	// their namespace, upgrades, and the namespace stays.
	off := filepath.Join(t.TempDir(), "off.yaml")
	require.NoError(t, os.WriteFile(off, []byte("apps:\n  ingress-nginx:\n    enabled: false\n"), 0o644))
	r = c.mustOtomi("apply", "--state-values-file", off)
	assert.Contains(t, r.stderr, "uninstall ingress/ingress-nginx-platform: done in ")
	delete(want, "ingress/ingress-nginx-platform")
	delete(want, "ingress/ingress-nginx-internal")
	want["default/base"] = "2 deployed"
	assert.Equal(t, want, c.releases())
	ctx := context.Background()
	_, err = cs.AppsV1().Deployments("ingress").Get(ctx, "ingress-nginx-platform-controller", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the controller is gone: %v", err)
	_, err = cs.NetworkingV1().IngressClasses().Get(ctx, "platform", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the ingress class is gone: %v", err)
	ns, err := cs.CoreV1().Namespaces().Get(ctx, "ingress", metav1.GetOptions{})
	require.NoError(t, err, "the namespace stays")
	assert.Nil(t, ns.DeletionTimestamp)

	// Destroy: releases go, namespaces stay; --full asks them to go too.
	r = c.otomi("destroy")
	assert.Equal(t, cmdutil.ExitUsage, r.code, "no terminal: --yes is required")
	r = c.mustOtomi("destroy", "--yes", "--state-values-file", off)
	assert.Empty(t, c.releases())
	found, missing = missingObjects(t, c.s, manifests)
	assert.Positive(t, found, "namespaces and CRDs stay")
	for _, m := range missing {
		assert.NotContains(t, m, "Namespace/", "namespaces stay")
	}
	_, err = cs.CoreV1().Namespaces().Get(ctx, "team-demo", metav1.GetOptions{})
	require.NoError(t, err)
	r = c.mustOtomi("destroy", "--yes", "--full")
	ns, err = cs.CoreV1().Namespaces().Get(ctx, "team-demo", metav1.GetOptions{})
	if err == nil { // no namespace controller here: it stays terminating
		assert.NotNil(t, ns.DeletionTimestamp, "team-demo is being deleted")
	}
}

func revisionText(i int) string {
	if i == 0 {
		return ""
	}
	return strconv.Itoa(i)
}

// TestDiffRedactsSecrets: diff of a helmfile with a Secret shows which keys
// changed, never a value; a failing apply exits 4 and says what ran.
func TestDiffRedactsSecrets(t *testing.T) {
	c := newKubeEnv(t)
	file := filepath.Join(repoRoot(t), "tests", "testdata", "apply", "helmfile.d")
	c.mustOtomi("apply", "-f", file)
	assert.Equal(t, map[string]string{"default/namespaces": "1 deployed", "apps/config": "1 deployed", "apps/web": "1 deployed", "apps/widgets": "1 deployed"}, c.releases())
	values := filepath.Join(t.TempDir(), "values.yaml")
	require.NoError(t, os.WriteFile(values, []byte("password: rotated-canary\ngreeting: bonjour\nwidgetSize: 2\nweb: false\n"), 0o644))
	r := c.otomi("diff", "-f", file, "--state-values-file", values, "--detailed-exitcode")
	require.Equal(t, 2, r.code, r.stderr)
	golden.Assert(t, "apply/diff-secrets.txt", []byte(r.stdout))
	assert.NotContains(t, r.stdout+r.stderr, "canary")
	r = c.otomi("diff", "-f", file, "--state-values-file", values, "-o", "json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stdout, "canary")
	assert.Contains(t, r.stdout, `"key": "stringData.password"`)

	// A release the API server rejects: exit 4, what ran and what did not.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("extraConfigMap: Not_A_Valid_Name\n"), 0o644))
	r = c.otomi("apply", "-f", file, "--state-values-file", bad, "--concurrency", "1", "-o", "json")
	assert.Equal(t, cmdutil.ExitCluster, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var summary struct {
		Type     string `json:"type"`
		Error    string `json:"error"`
		Releases []struct {
			Release string `json:"release"`
			State   string `json:"state"`
		} `json:"releases"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &summary))
	assert.Equal(t, "summary", summary.Type)
	assert.Equal(t, "1 of 4 releases failed (apps/config)", summary.Error)
	states := map[string]string{}
	for _, rel := range summary.Releases {
		states[rel.Release] = rel.State
	}
	assert.Equal(t, map[string]string{"default/namespaces": "unchanged", "apps/config": "failed", "apps/web": "unchanged", "apps/widgets": "unchanged"}, states)
	assert.NotContains(t, r.stdout+r.stderr, "canary")

	// Releases of another helmfile (-f) are not the platform's to prune.
	r = c.otomi("diff")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "default/base")
	assert.NotContains(t, r.stdout, "no longer in the platform")
}

// killWhenPending runs `otomi apply args...` and SIGKILLs it as soon as
// helm has stored a pending revision of release (namespace/name), polling
// helm's storage (this etcd's watch cache cannot serve a fresh watch):
// the moment a killed run leaves a release stuck. It returns the status
// the release was left in.
func (c *kubeEnv) killWhenPending(release string, args ...string) string {
	c.t.Helper()
	left, _, _ := c.signalWhenPending(os.Kill, release, args...)
	return left
}

// signalWhenPending runs `otomi apply args...`, sends it sig as soon as
// helm has stored a pending revision of release (namespace/name), and
// returns the status the release was left in, the exit code and stderr.
func (c *kubeEnv) signalWhenPending(sig os.Signal, release string, args ...string) (string, int, string) {
	c.t.Helper()
	ns, name, _ := strings.Cut(release, "/")
	cs, err := kubernetes.NewForConfig(c.s.RESTConfig())
	require.NoError(c.t, err)
	bin, err := exec.LookPath("otomi")
	require.NoError(c.t, err)
	cmd := exec.Command(bin, append([]string{"apply"}, args...)...)
	cmd.Env = c.env
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	require.NoError(c.t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ctx := context.Background()
	for {
		select {
		case err := <-exited:
			c.t.Fatalf("apply ended (%v) before %s was pending:\n%s", err, release, errOut.String())
		default:
		}
		list, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm,name=" + name})
		require.NoError(c.t, err)
		for _, sec := range list.Items {
			if strings.HasPrefix(sec.Labels["status"], "pending-") {
				require.NoError(c.t, cmd.Process.Signal(sig))
				err := <-exited
				code := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					code = ee.ExitCode()
				}
				return c.releases()[release], code, errOut.String()
			}
		}
	}
}

// TestApplyKilled: a run SIGKILLed while helm is installing or upgrading a
// release leaves it pending; the next run recovers it (uninstall when it
// never deployed, rollback otherwise) and converges, no pending release
// left.
func TestApplyKilled(t *testing.T) {
	stuck := 0
	var left string
	for _, tc := range []struct {
		name    string
		release string
		// before is a first, complete apply (the kill hits an upgrade).
		before bool
	}{
		{"install-first-stage", "cert-manager/cert-manager", false},
		{"install-later-stage", "otomi/team-ns-demo", false},
		{"upgrade", "otomi/team-ns-demo", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newKubeEnv(t)
			ids := c.platformReleases()
			defer func() {
				if strings.Contains(left, "pending") {
					stuck++
				}
			}()
			if tc.before {
				c.mustOtomi("apply")
				c.editRepoFile("env/teams.yaml", "pods: '100'", "pods: '120'")
			}
			left = c.killWhenPending(tc.release, "--concurrency", "2")
			t.Logf("killed while %s was pending; left: %q", tc.release, left)

			r := c.mustOtomi("apply")
			if strings.Contains(left, "pending") {
				want := "was stuck pending-install"
				if tc.before {
					want = "was stuck pending-upgrade"
				}
				assert.Regexp(t, "recover "+regexp.QuoteMeta(tc.release)+": info: "+want, r.stderr)
			}
			got := c.releases()
			for _, id := range ids {
				assert.Regexp(t, ` deployed$`, got[id], id)
			}
			states, _ := json.Marshal(got)
			assert.NotContains(t, string(states), "pending")
			r = c.otomi("diff", "--detailed-exitcode")
			assert.Equal(t, 0, r.code, "converged: %s", r.stdout)
		})
	}
	// The kill lands after helm stored the pending revision; the release
	// may still finish first, but not every time.
	assert.Positive(t, stuck, "no kill left a release pending: the recovery went untested")
}

// TestApplyInterrupted: Ctrl-C (SIGINT) while a release is being
// installed starts nothing new, lets that release finish and leaves no
// pending release; exit code 130.
func TestApplyInterrupted(t *testing.T) {
	c := newKubeEnv(t)
	_, code, stderr := c.signalWhenPending(os.Interrupt, "cert-manager/cert-manager", "--concurrency", "1")
	assert.Equal(t, cmdutil.ExitInterrupted, code, stderr)
	assert.Contains(t, stderr, "not started: interrupted")
	got := c.releases()
	assert.Equal(t, "1 deployed", got["cert-manager/cert-manager"], "the running release finished: %s", stderr)
	assert.Equal(t, "1 deployed", got["default/base"])
	assert.NotContains(t, got, "otomi/team-ns-demo", "nothing new started")
	states, _ := json.Marshal(got)
	assert.NotContains(t, string(states), "pending")
}

// iterationTB runs a benchmark iteration's cleanups (an API server's
// shutdown) at the end of the iteration rather than of the benchmark.
type iterationTB struct {
	testing.TB
	cleanups []func()
}

func (i *iterationTB) Cleanup(f func()) { i.cleanups = append(i.cleanups, f) }

func (i *iterationTB) done() {
	for j := len(i.cleanups) - 1; j >= 0; j-- {
		i.cleanups[j]()
	}
}

// warmCRDs creates the platform charts' CRDs on a server and makes a
// server-side dry-run create of each kind: this API server (etcd 3.4) takes
// about 2 s to serve the first request of each new resource, whoever sends
// it; warming isolates the tools' own speed from that.
func warmCRDs(b testing.TB, s *kubetest.Server) {
	b.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(b), "charts", "*", "crds", "*.yaml"))
	require.NoError(b, err)
	dyn, err := dynamic.NewForConfig(s.RESTConfig())
	require.NoError(b, err)
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	ctx := context.Background()
	var wg sync.WaitGroup
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(b, err)
		var crd map[string]any
		require.NoError(b, yaml.Unmarshal(data, &crd))
		u := &unstructured.Unstructured{Object: crd}
		_, err = dyn.Resource(crdGVR).Create(ctx, u, metav1.CreateOptions{})
		require.NoError(b, err)
		group, _, _ := unstructured.NestedString(crd, "spec", "group")
		plural, _, _ := unstructured.NestedString(crd, "spec", "names", "plural")
		kind, _, _ := unstructured.NestedString(crd, "spec", "names", "kind")
		versions, _, _ := unstructured.NestedSlice(crd, "spec", "versions")
		version := versions[0].(map[string]any)["name"].(string)
		require.Eventually(b, func() bool {
			live, err := dyn.Resource(crdGVR).Get(ctx, u.GetName(), metav1.GetOptions{})
			if err != nil {
				return false
			}
			conds, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
			for _, c := range conds {
				if m := c.(map[string]any); m["type"] == "Established" && m["status"] == "True" {
					return true
				}
			}
			return false
		}, time.Minute, 50*time.Millisecond)
		cr := &unstructured.Unstructured{Object: map[string]any{"apiVersion": group + "/" + version, "kind": kind, "metadata": map[string]any{"name": "warm", "namespace": "default"}}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Invalid or not, the request warms the resource's storage.
			_, _ = dyn.Resource(schema.GroupVersionResource{Group: group, Version: version, Resource: plural}).Namespace("default").Create(ctx, cr, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		}()
	}
	wg.Wait()
}

// BenchmarkApplyVsHelmfileSync deploys the example platform with the otomi
// binary ($OTOMI_BIN) and with `helmfile sync` (+ helm v3, the same
// helmfile.d and values), each to a fresh API server of the same kind,
// and reports both, their ratio, and otomi's no-change re-apply. "cold":
// fresh servers as they start; "warm-crds": the CRDs already created and
// their storage warmed (see warmCRDs), the tools' own speed.
func BenchmarkApplyVsHelmfileSync(b *testing.B) {
	bin := os.Getenv("OTOMI_BIN")
	if bin == "" {
		b.Fatal("set OTOMI_BIN to the otomi binary ('make bench' does)")
	}
	helmfile, helm := referenceTools(b)
	top := repoRoot(b)
	key := filepath.Join(top, "testdata", "age", "test-only.agekey")
	example := filepath.Join(top, "examples", "demo")
	env := append(os.Environ(), "SOPS_AGE_KEY_FILE="+key, "TMPDIR="+b.TempDir(), "HELM_CACHE_HOME="+b.TempDir(), "HELM_CONFIG_HOME="+b.TempDir(), "HELM_DATA_HOME="+b.TempDir(), "CI=true")
	valuesCmd := exec.Command(bin, "values", "--exclude-secrets", "--env-dir", example)
	valuesCmd.Env = env
	merged, err := valuesCmd.Output()
	if err != nil {
		b.Fatal(err)
	}
	stateValues := filepath.Join(b.TempDir(), "values.yaml")
	if err := os.WriteFile(stateValues, merged, 0o600); err != nil {
		b.Fatal(err)
	}
	for _, warm := range []bool{false, true} {
		name := "cold"
		if warm {
			name = "warm-crds"
		}
		b.Run(name, func(b *testing.B) {
			var apply, reapply, sync time.Duration
			for b.Loop() {
				it := &iterationTB{TB: b}
				s, h := applyServer(it), applyServer(it)
				if warm {
					warmCRDs(b, s)
					warmCRDs(b, h)
				}
				c := exec.Command(bin, "apply", "--env-dir", example, "--platform-dir", top)
				c.Env = append(env, "KUBECONFIG="+s.Kubeconfig)
				w, _ := measure(b, c)
				apply += w
				c = exec.Command(bin, "apply", "--env-dir", example, "--platform-dir", top)
				c.Env = append(env, "KUBECONFIG="+s.Kubeconfig)
				w, _ = measure(b, c)
				reapply += w
				hc := exec.Command(helmfile, "--helm-binary", helm, "-f", filepath.Join(top, "helmfile.d"), "--state-values-file", stateValues, "sync", "--skip-deps", "--sequential-helmfiles")
				hc.Env = append(env, "KUBECONFIG="+h.Kubeconfig)
				w, _ = measure(b, hc)
				sync += w
				it.done()
			}
			n := float64(b.N)
			b.ReportMetric(float64(apply.Milliseconds())/n, "otomi-apply-ms/op")
			b.ReportMetric(float64(reapply.Milliseconds())/n, "otomi-noop-apply-ms/op")
			b.ReportMetric(float64(sync.Milliseconds())/n, "helmfile-sync-ms/op")
			b.ReportMetric(float64(sync)/float64(apply), "speedup-x")
		})
	}
}
