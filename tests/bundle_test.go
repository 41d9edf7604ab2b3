package tests

// Air-gap bundles end to end: a "public" registry (in process, on loopback)
// seeded with synthetic images under the exact references the rendered
// platform uses, `bundle create` pulling from it, then, inside a network
// namespace with nothing but loopback, verify / extract / validate-templates
// / push-images to a "private" registry started in that namespace, and a
// check that every image of the re-rendered platform resolves there by
// digest.

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	otomiplatform "github.com/otomi/otomi"
	"github.com/otomi/otomi/internal/kubetest"
	"github.com/otomi/otomi/pkg/bundle"
	"github.com/otomi/otomi/pkg/cmd/root"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/schema"
)

// bdlRegistry is an in-process OCI registry on 127.0.0.1 that counts the
// blob uploads it completes and can refuse every write.
type bdlRegistry struct {
	host    string
	uploads atomic.Int64 // completed blob uploads
	patched atomic.Int64 // bytes received in upload chunks
	deny    atomic.Bool
}

func bdlStartRegistry(t testing.TB) *bdlRegistry {
	t.Helper()
	r := &bdlRegistry{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		write := req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch
		if r.deny.Load() && write {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"errors":[{"code":"DENIED","message":"quota exceeded for project mirror"}]}`)
			return
		}
		if strings.Contains(req.URL.Path, "/blobs/uploads") {
			switch req.Method {
			case http.MethodPut:
				r.uploads.Add(1)
			case http.MethodPatch:
				req.Body = bdlCountingBody{req.Body, &r.patched}
			}
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.host = srv.Listener.Addr().String()
	return r
}

type bdlCountingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b bdlCountingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// bdlOtomi runs otomi in process: exit code, stdout, stderr.
func bdlOtomi(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	code := root.Run(context.Background(), cmdutil.New(ios), args)
	return code, out.String(), errOut.String()
}

func bdlMustOtomi(t testing.TB, args ...string) (string, string) {
	t.Helper()
	code, out, errOut := bdlOtomi(t, args...)
	require.Equal(t, 0, code, "otomi %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out, errOut)
	return out, errOut
}

// bdlSite is a values repo pointed at a public registry seeded with every
// image the platform renders with all apps enabled.
type bdlSite struct {
	dir      string
	registry string // otomi.imageRegistry: the public registry and a prefix
	repo     string
	allApps  string // --state-values-file enabling every app
	public   *bdlRegistry
	refs     []string
	digests  map[string]string // ref -> digest in the public registry
}

func bdlSetup(t testing.TB, layerSize int64) *bdlSite {
	t.Helper()
	top := repoRoot(t)
	t.Setenv("SOPS_AGE_KEY_FILE", filepath.Join(top, "testdata", "age", "test-only.agekey"))
	s := &bdlSite{dir: t.TempDir(), public: bdlStartRegistry(t)}
	s.repo = filepath.Join(s.dir, "values")
	require.NoError(t, copyTree(filepath.Join(top, "examples", "demo"), s.repo))
	s.registry = s.public.host + "/upstream"
	_, err := bundle.SetImageRegistry(s.repo, s.registry)
	require.NoError(t, err)

	sch, err := schema.Load(schema.FileName, otomiplatform.ValuesSchema)
	require.NoError(t, err)
	layer, err := yaml.Marshal(bundle.AllApps(sch))
	require.NoError(t, err)
	s.allApps = filepath.Join(s.dir, "all-apps.yaml")
	require.NoError(t, os.WriteFile(s.allApps, layer, 0o644))

	s.refs = bdlImages(t, s.repo, s.allApps)
	require.NotEmpty(t, s.refs)
	for _, ref := range s.refs {
		require.True(t, strings.HasPrefix(ref, s.registry+"/"), "%s does not follow otomi.imageRegistry", ref)
	}
	s.digests = bdlSeed(t, s.refs, layerSize, 1)
	return s
}

// bdlImages renders the platform (every app enabled) and lists its images.
func bdlImages(t testing.TB, repo, allApps string, extra ...string) []string {
	t.Helper()
	out, _ := bdlMustOtomi(t, append([]string{"images", "--env-dir", repo, "--state-values-file", allApps, "-o", "json"}, extra...)...)
	var refs []string
	require.NoError(t, json.Unmarshal([]byte(out), &refs))
	return refs
}

// bdlSeed pushes a synthetic image under each reference: one random layer
// of its own over a base layer they all share; the first reference is a
// multi-arch index (linux/amd64, linux/arm64). seed varies the content.
func bdlSeed(t testing.TB, refs []string, layerSize int64, seed uint64) map[string]string {
	t.Helper()
	rnd := rand.New(rand.NewPCG(seed, 42))
	shared := bdlLayer(rnd, 4096)
	digests := map[string]string{}
	for i, ref := range refs {
		r, err := name.ParseReference(ref)
		require.NoError(t, err)
		if i == 0 {
			idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
			for _, arch := range []string{"amd64", "arm64"} {
				img := bdlImage(t, arch, shared, bdlLayer(rnd, layerSize))
				idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
			}
			require.NoError(t, remote.WriteIndex(r, idx))
			d, err := idx.Digest()
			require.NoError(t, err)
			digests[ref] = d.String()
			continue
		}
		img := bdlImage(t, "amd64", shared, bdlLayer(rnd, layerSize))
		require.NoError(t, remote.Write(r, img))
		d, err := img.Digest()
		require.NoError(t, err)
		digests[ref] = d.String()
	}
	return digests
}

func bdlLayer(rnd *rand.Rand, size int64) v1.Layer {
	b := make([]byte, size)
	for i := 0; i+8 <= len(b); i += 8 {
		v := rnd.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return static.NewLayer(b, types.OCILayer)
}

func bdlImage(t testing.TB, arch string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.AppendLayers(img, layers...)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	img, err = mutate.ConfigFile(img, cf)
	require.NoError(t, err)
	return img
}

// bdlKeys writes a signing key pair with `otomi bundle keygen`.
func bdlKeys(t testing.TB, dir string) (priv, pub string) {
	t.Helper()
	priv = filepath.Join(dir, "bundle.key")
	bdlMustOtomi(t, "bundle", "keygen", "-o", priv)
	return priv, priv + ".pub"
}

// bdlSmallBinary is a stand-in for the otomi binary where the bundled
// binary is not run.
func bdlSmallBinary(t testing.TB, dir string, size int) string {
	t.Helper()
	p := filepath.Join(dir, "otomi-stand-in")
	b := make([]byte, size)
	rnd := rand.New(rand.NewPCG(7, 7))
	for i := range b {
		b[i] = byte(rnd.Uint32())
	}
	require.NoError(t, os.WriteFile(p, b, 0o755))
	return p
}

func TestBundleAirGap(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("needs root for a network namespace (unshare -n): run the tests as root, as CI does")
	}
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to run the offline half in a network namespace", tool)
		}
	}
	s := bdlSetup(t, 64<<10)
	priv, pub := bdlKeys(t, s.dir)
	file := filepath.Join(s.dir, "platform.tar.zst")
	// The bundled binary is this test binary: named otomi, it runs otomi's
	// main (testscript's command dispatch), so the offline half runs the
	// binary the bundle carries.
	_, errOut := bdlMustOtomi(t, "bundle", "create", "-o", file, "--env-dir", s.repo, "--sign-key", priv)
	assert.Contains(t, errOut, fmt.Sprintf("%d images", len(s.refs)))

	head, err := bundle.ReadHead(file)
	require.NoError(t, err)
	m := head.Manifest
	// Every image, with the public registry's digests, and each blob once.
	require.Len(t, m.Images, len(s.refs))
	for _, img := range m.Images {
		assert.Equal(t, s.digests[img.Ref], img.Digest, img.Ref)
	}
	assert.Equal(t, []string{"linux/amd64", "linux/arm64"}, m.Images[0].Platforms)
	blobs := 0
	for _, f := range m.Files {
		if strings.HasPrefix(f.Path, "images/blobs/") {
			blobs++
		}
	}
	// index + 2 platform manifests + 2 configs + 2 own layers for the first
	// image, manifest + config + own layer for each other, one shared layer.
	assert.Equal(t, 7+3*(len(s.refs)-1)+1, blobs, "identical layers are stored once")
	names := map[string]bool{}
	for _, c := range m.Charts {
		names[c.Name+"@"+c.Version] = true
	}
	assert.True(t, names["cert-manager@0.1.0"], "charts with versions: %v", m.Charts)

	// The offline half, in a network namespace holding only loopback.
	work := filepath.Join(s.dir, "site")
	require.NoError(t, os.MkdirAll(work, 0o755))
	self, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command("unshare", "-n", "sh", "-c", `ip link set lo up && exec "$@"`, "sh",
		self, "-test.run=^TestBundleOfflineHelper$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(),
		"OTOMI_BUNDLE_OFFLINE=1", "BDL_BUNDLE="+file, "BDL_KEY="+pub, "BDL_REPO="+s.repo,
		"BDL_WORK="+work, "BDL_PUBLIC="+s.public.host, "BDL_ALLAPPS="+s.allApps)
	out, err := cmd.CombinedOutput()
	t.Logf("offline half:\n%s", out)
	require.NoError(t, err)
	require.Contains(t, string(out), "--- PASS: TestBundleOfflineHelper")
}

// TestBundleOfflineHelper is the offline half of TestBundleAirGap, run by
// it inside `unshare -n`; on its own it skips.
func TestBundleOfflineHelper(t *testing.T) {
	if os.Getenv("OTOMI_BUNDLE_OFFLINE") == "" {
		t.Skip("run by TestBundleAirGap inside a network namespace")
	}
	env := func(k string) string { return os.Getenv(k) }
	file, pub, repo, work, allApps := env("BDL_BUNDLE"), env("BDL_KEY"), env("BDL_REPO"), env("BDL_WORK"), env("BDL_ALLAPPS")

	// No network: the public registry (in the parent's namespace) is gone.
	_, err := net.DialTimeout("tcp", env("BDL_PUBLIC"), time.Second)
	require.Error(t, err, "the public registry must be unreachable here")
	t.Logf("public registry unreachable: %v", err)

	private := bdlStartRegistry(t)
	mirror := private.host + "/mirror"

	_, errOut := bdlMustOtomi(t, "bundle", "verify", file, "--key", pub)
	t.Log(errOut)
	assert.Contains(t, errOut, "signed by")
	assert.Contains(t, errOut, "every image of the bundled platform is in the bundle")

	dir := filepath.Join(work, "bundle")
	_, errOut = bdlMustOtomi(t, "bundle", "extract", file, dir, "--key", pub)
	t.Log(errOut)

	// From here on the binary the bundle carries.
	bin := filepath.Join(dir, "otomi")
	run := func(args ...string) string {
		t.Helper()
		c := exec.Command(bin, args...)
		c.Env = append(os.Environ(), "OTOMI_BUNDLE_OFFLINE=")
		var stdout, stderr bytes.Buffer
		c.Stdout, c.Stderr = &stdout, &stderr
		require.NoError(t, c.Run(), "%s %s\n%s%s", bin, strings.Join(args, " "), stdout.String(), stderr.String())
		t.Logf("$ otomi %s\n%s", strings.Join(args, " "), stderr.String())
		return stdout.String()
	}
	run("version")
	out := run("bundle", "push-images", file, "--registry", mirror)
	assert.Equal(t, "otomi:\n  imageRegistry: "+mirror+"\n", out)
	first := private.uploads.Load()
	assert.Positive(t, first)

	// A re-push of the same bundle (file or extracted folder) moves no blob.
	private.patched.Store(0)
	run("bundle", "push-images", file, "--registry", mirror)
	run("bundle", "push-images", dir, "--registry", mirror, "--env-dir", repo)
	assert.Equal(t, first, private.uploads.Load(), "a re-push uploads no blob")
	assert.Zero(t, private.patched.Load(), "a re-push sends no blob bytes")
	settings, err := os.ReadFile(filepath.Join(repo, "env", "settings.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(settings), "imageRegistry: "+mirror)
	assert.Contains(t, string(settings), "\n  isMultitenant: true\n", "the rest of settings.yaml is kept")

	// The extracted platform validates offline, pointed at the private registry.
	run("--platform-dir", dir, "validate-templates", "--env-dir", repo, "--state-values-file", allApps)
	// The policy that pins every image to the site registry holds: with the
	// registry allowed it passes, with another one only it fails.
	policy := func(prefix string) string {
		p := filepath.Join(work, "policy-"+strings.ReplaceAll(prefix, "/", "_")+".yaml")
		require.NoError(t, os.WriteFile(p, []byte("policies:\n  allowed-image-repositories:\n    action: enforce\n    repositories: ['"+prefix+"']\n"), 0o644))
		return p
	}
	run("--platform-dir", dir, "validate-templates", "--env-dir", repo, "--state-values-file", allApps, "--state-values-file", policy(mirror+"/"))
	c := exec.Command(bin, "--platform-dir", dir, "validate-templates", "--env-dir", repo, "--state-values-file", allApps, "--state-values-file", policy("registry.invalid/"))
	c.Env = append(os.Environ(), "OTOMI_BUNDLE_OFFLINE=")
	out2, err := c.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "%s", out2)
	assert.Equal(t, 3, ee.ExitCode(), "%s", out2)
	assert.Contains(t, string(out2), "allowed-image-repositories")

	// Every image the platform now renders resolves in the private
	// registry, with the digest the bundle recorded, by tag and by digest.
	h, err := bundle.ReadHead(file)
	require.NoError(t, err)
	want := map[string]string{}
	for _, img := range h.Manifest.Images {
		want[bundle.Target(img, mirror)] = img.Digest
	}
	var refs []string
	require.NoError(t, json.Unmarshal([]byte(run("--platform-dir", dir, "images", "--env-dir", repo, "--state-values-file", allApps, "-o", "json")), &refs))
	require.Len(t, refs, len(h.Manifest.Images))
	for _, ref := range refs {
		require.True(t, strings.HasPrefix(ref, mirror+"/"), ref)
		digest := want[ref]
		require.NotEmpty(t, digest, ref)
		r, err := name.ParseReference(ref)
		require.NoError(t, err)
		d, err := remote.Head(r)
		require.NoError(t, err, ref)
		assert.Equal(t, digest, d.Digest.String(), ref)
		byDigest, err := name.ParseReference(r.Context().String() + "@" + digest)
		require.NoError(t, err)
		_, err = remote.Get(byDigest)
		assert.NoError(t, err, "%s by digest", ref)
	}

	// apply --bundle: check, extract and deploy the bundle's platform to an
	// API server in this namespace, in one step, with the bundle's binary.
	// No default route here: the API server advertises loopback.
	s := kubetest.Start(t, kubetest.WithAPIServerFlags(
		"--disable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook",
		"--advertise-address=127.0.0.1"))
	home, tmp := t.TempDir(), t.TempDir()
	c = exec.Command(bin, "apply", "--bundle", file, "--bundle-key", pub, "--env-dir", repo)
	c.Env = append(os.Environ(), "OTOMI_BUNDLE_OFFLINE=", "KUBECONFIG="+s.Kubeconfig, "HOME="+home, "TMPDIR="+tmp, "CI=true", "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	require.NoError(t, c.Run(), "apply --bundle\n%s%s", stdout.String(), stderr.String())
	t.Logf("$ otomi apply --bundle\n%s", stderr.String())
	assert.Regexp(t, `bundle .*platform.tar.zst: otomi \S+ platform, \d+ charts, \d+ images, checksums match, signature valid`, stderr.String())
	assert.NotContains(t, stderr.String(), "not in the bundle", "every platform image is in the bundle")
	assert.NotContains(t, stderr.String(), "imageRegistry is not set")
	assert.Contains(t, stderr.String(), "install ingress/ingress-nginx-platform: done in ")
	cs, err := kubernetes.NewForConfig(s.RESTConfig())
	require.NoError(t, err)
	// Every image of every workload in the cluster is one that resolved in
	// the private registry by digest above.
	resolved := map[string]bool{}
	for _, ref := range refs {
		resolved[ref] = true
	}
	ctx := context.Background()
	var specs []corev1.PodSpec
	deps, err := cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, o := range deps.Items {
		specs = append(specs, o.Spec.Template.Spec)
	}
	sts, err := cs.AppsV1().StatefulSets("").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, o := range sts.Items {
		specs = append(specs, o.Spec.Template.Spec)
	}
	dss, err := cs.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, o := range dss.Items {
		specs = append(specs, o.Spec.Template.Spec)
	}
	jobs, err := cs.BatchV1().Jobs("").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, o := range jobs.Items {
		specs = append(specs, o.Spec.Template.Spec)
	}
	images := 0
	for _, spec := range specs {
		for _, ctr := range append(spec.InitContainers, spec.Containers...) {
			images++
			assert.True(t, resolved[ctr.Image], "%s is not an image that resolved in the site registry", ctr.Image)
		}
	}
	assert.Greater(t, len(specs), 5, "the platform's workloads are in the cluster")
	t.Logf("%d workloads, %d containers: every image from the site registry", len(specs), images)
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	for _, e := range left {
		assert.NotContains(t, e.Name(), "otomi-bundle-", "the extracted platform is removed")
	}
}

// bdlCreate makes a small bundle (stand-in binary) of the site.
func bdlCreate(t testing.TB, s *bdlSite, file string, args ...string) *bundle.Manifest {
	t.Helper()
	bin := filepath.Join(s.dir, "otomi-stand-in")
	if _, err := os.Stat(bin); err != nil {
		bin = bdlSmallBinary(t, s.dir, 64<<10)
	}
	bdlMustOtomi(t, append([]string{"bundle", "create", "-o", file, "--env-dir", s.repo, "--binary", bin}, args...)...)
	h, err := bundle.ReadHead(file)
	require.NoError(t, err)
	return h.Manifest
}

// bdlRewrite copies a bundle, passing every entry through edit.
func bdlRewrite(t testing.TB, src, dst string, edit func(name string, data []byte) []byte) {
	t.Helper()
	in, err := os.Open(src)
	require.NoError(t, err)
	defer in.Close()
	zr, err := zstd.NewReader(in)
	require.NoError(t, err)
	defer zr.Close()
	out, err := os.Create(dst)
	require.NoError(t, err)
	defer out.Close()
	zw, err := zstd.NewWriter(out)
	require.NoError(t, err)
	tr, tw := tar.NewReader(zr), tar.NewWriter(zw)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		data = edit(hdr.Name, data)
		if data == nil {
			continue
		}
		hdr.Size = int64(len(data))
		require.NoError(t, tw.WriteHeader(hdr))
		_, err = tw.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
}

func bdlFlip(data []byte, at int) []byte {
	out := append([]byte(nil), data...)
	out[at] ^= 0x01
	return out
}

func bdlEmptyOrGone(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err == nil {
		assert.Empty(t, entries, "%s must be cleaned up", dir)
	}
}

func TestBundleTamper(t *testing.T) {
	s := bdlSetup(t, 8<<10)
	priv, pub := bdlKeys(t, s.dir)
	file := filepath.Join(s.dir, "b.tar.zst")
	m := bdlCreate(t, s, file, "--sign-key", priv)
	var layer string
	for _, f := range m.Files {
		if f.Kind == bundle.KindLayer {
			layer = f.Path
			break
		}
	}
	require.NotEmpty(t, layer)
	var chart string
	for _, f := range m.Files {
		if strings.HasPrefix(f.Path, "charts/cert-manager/templates/") && strings.HasSuffix(f.Path, ".yaml") {
			chart = f.Path
			break
		}
	}
	require.NotEmpty(t, chart)

	cases := []struct {
		name, target string
		key          bool
		edit         func(name string, data []byte) []byte
		want         string
	}{
		{name: "chart file", target: chart, want: chart + ": checksum mismatch"},
		{name: "layer", target: layer, want: layer + ": checksum mismatch"},
		{name: "manifest", target: bundle.ManifestFile, want: "bundle.json: checksum mismatch"},
		{name: "manifest with its checksum redone", key: true, edit: func(n string, data []byte) []byte {
			switch n {
			case bundle.ManifestFile:
				return bytes.Replace(data, []byte(`"apps": "all"`), []byte(`"apps": "alm"`), 1)
			case bundle.ChecksumFile:
				return nil // replaced below
			}
			return data
		}, want: "bundle.json: the signature (bundle.json.sig) does not match the public key"},
		{name: "truncated", target: "", want: "truncated"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "bad.tar.zst")
			switch {
			case tc.name == "truncated":
				data, err := os.ReadFile(file)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(bad, data[:len(data)*2/3], 0o644))
			case tc.edit != nil:
				// Re-sum the edited manifest so that only the signature can tell.
				var manifest []byte
				bdlRewrite(t, file, bad+".tmp", func(n string, data []byte) []byte {
					out := tc.edit(n, data)
					if n == bundle.ManifestFile {
						manifest = out
					}
					if out == nil && n == bundle.ChecksumFile {
						sum := sha256.Sum256(manifest)
						return []byte(hex.EncodeToString(sum[:]) + "  bundle.json\n")
					}
					return out
				})
				require.NoError(t, os.Rename(bad+".tmp", bad))
			default:
				bdlRewrite(t, file, bad, func(n string, data []byte) []byte {
					if n == tc.target {
						return bdlFlip(data, len(data)/2)
					}
					return data
				})
			}
			args := []string{}
			if tc.key {
				args = append(args, "--key", pub)
			}
			code, _, errOut := bdlOtomi(t, append([]string{"bundle", "verify", bad}, args...)...)
			assert.Equal(t, 1, code)
			t.Logf("verify: %s", errOut)
			assert.Contains(t, errOut, tc.want, "verify")
			dir := filepath.Join(t.TempDir(), "x")
			code, _, errOut = bdlOtomi(t, append([]string{"bundle", "extract", bad, dir}, args...)...)
			assert.Equal(t, 1, code)
			t.Logf("extract: %s", errOut)
			assert.Contains(t, errOut, tc.want, "extract")
			if strings.Contains(errOut, "checksum mismatch in") || tc.name == "truncated" {
				assert.Contains(t, errOut, "removed the partial extraction from "+dir)
			}
			bdlEmptyOrGone(t, dir)
		})
	}

	t.Run("untouched", func(t *testing.T) {
		_, errOut := bdlMustOtomi(t, "bundle", "verify", file, "--key", pub)
		assert.Contains(t, errOut, "checksums match")
		// The signature is plain ed25519 over bundle.json: openssl checks it.
		dir := filepath.Join(t.TempDir(), "x")
		bdlMustOtomi(t, "bundle", "extract", file, dir, "--key", pub)
		if openssl, err := exec.LookPath("openssl"); err == nil {
			out, err := exec.Command(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin",
				"-in", filepath.Join(dir, "bundle.json"), "-sigfile", filepath.Join(dir, "bundle.json.sig")).CombinedOutput()
			require.NoError(t, err, "%s", out)
			assert.Contains(t, string(out), "Signature Verified Successfully")
		} else {
			t.Log("no openssl: the interop check of the signature is skipped")
		}
		_, other := bdlKeys(t, t.TempDir())
		code, _, errOut := bdlOtomi(t, "bundle", "verify", file, "--key", other)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "does not match the public key")
	})
}

func TestBundleBadInput(t *testing.T) {
	s := bdlSetup(t, 4<<10)

	t.Run("every image that cannot be pulled is listed", func(t *testing.T) {
		empty := bdlStartRegistry(t)
		repo := filepath.Join(t.TempDir(), "values")
		require.NoError(t, copyTree(s.repo, repo))
		_, err := bundle.SetImageRegistry(repo, empty.host)
		require.NoError(t, err)
		out := filepath.Join(t.TempDir(), "b.tar.zst")
		code, _, errOut := bdlOtomi(t, "bundle", "create", "-o", out, "--env-dir", repo, "--binary", bdlSmallBinary(t, t.TempDir(), 10))
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, fmt.Sprintf("%d of the platform's images cannot be pulled", len(s.refs)))
		for _, ref := range s.refs {
			assert.Contains(t, errOut, strings.Replace(ref, s.registry, empty.host, 1)+": ")
		}
		assert.NoFileExists(t, out)
	})

	t.Run("require digests", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "b.tar.zst")
		code, _, errOut := bdlOtomi(t, "bundle", "create", "-o", out, "--env-dir", s.repo, "--require-digests", "--binary", bdlSmallBinary(t, t.TempDir(), 10))
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, fmt.Sprintf("%d of the platform's images are not pinned by digest", len(s.refs)))
		for _, ref := range s.refs {
			assert.Contains(t, errOut, ref+": not pinned by digest")
		}
		assert.NoFileExists(t, out)
	})

	t.Run("platform filter", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "b.tar.zst")
		m := bdlCreate(t, s, file, "--platform", "linux/arm64")
		first := m.Images[0]
		assert.Equal(t, []string{"linux/arm64"}, first.Platforms)
		assert.Equal(t, s.digests[first.Ref], first.SourceDigest, "the registry's digest is recorded")
		assert.NotEqual(t, first.SourceDigest, first.Digest, "a filtered index has a digest of its own")
		bdlMustOtomi(t, "bundle", "verify", file)
		code, _, errOut := bdlOtomi(t, "bundle", "create", "-o", file+"2", "--env-dir", s.repo, "--platform", "linux/s390x", "--binary", bdlSmallBinary(t, t.TempDir(), 10))
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "no manifest for linux/s390x (it has linux/amd64, linux/arm64)")
	})

	t.Run("registry refuses the push", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "b.tar.zst")
		bdlCreate(t, s, file)
		site := bdlStartRegistry(t)
		site.deny.Store(true)
		code, out, errOut := bdlOtomi(t, "bundle", "push-images", file, "--registry", site.host+"/mirror")
		assert.Equal(t, 1, code)
		assert.Empty(t, out, "no values change for a failed push")
		assert.Contains(t, errOut, fmt.Sprintf("%d of the platform's images could not be pushed", len(s.refs)))
		assert.Contains(t, errOut, "DENIED: quota exceeded for project mirror")
	})

	t.Run("disk fills during extract", func(t *testing.T) {
		if os.Getuid() != 0 || runtime.GOOS != "linux" {
			t.Fatal("needs root on Linux to mount a small tmpfs: run the tests as root, as CI does")
		}
		mnt := t.TempDir()
		if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
			t.Fatalf("cannot mount a tmpfs here: %v", err)
		}
		t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
		dir := t.TempDir()
		big := filepath.Join(dir, "big")
		require.NoError(t, os.MkdirAll(big, 0o755))
		file := filepath.Join(dir, "b.tar.zst")
		bdlMustOtomi(t, "bundle", "create", "-o", file, "--env-dir", s.repo, "--binary", bdlSmallBinary(t, big, 3<<20))
		target := filepath.Join(mnt, "extract")
		code, _, errOut := bdlOtomi(t, "bundle", "extract", file, target)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "the disk is full")
		assert.Contains(t, errOut, "no space left on device")
		assert.Contains(t, errOut, "removed the partial extraction from "+target)
		bdlEmptyOrGone(t, target)
	})

	t.Run("not empty, not a bundle", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "keep"), []byte("x"), 0o644))
		file := filepath.Join(t.TempDir(), "b.tar.zst")
		bdlCreate(t, s, file)
		code, _, errOut := bdlOtomi(t, "bundle", "extract", file, dir)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "is not empty")
		assert.FileExists(t, filepath.Join(dir, "keep"))
		code, _, errOut = bdlOtomi(t, "bundle", "verify", filepath.Join(dir, "keep"))
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "keep")
	})
}

func TestBundleIncremental(t *testing.T) {
	s := bdlSetup(t, 16<<10)
	dir := t.TempDir()
	base := filepath.Join(dir, "base.tar.zst")
	bdlCreate(t, s, base)
	site := bdlStartRegistry(t)
	bdlMustOtomi(t, "bundle", "push-images", base, "--registry", site.host)
	pushed := site.uploads.Load()

	// A new release of one image: two new layers.
	changed := s.refs[len(s.refs)-1]
	rnd := rand.New(rand.NewPCG(9, 9))
	img := bdlImage(t, "amd64", bdlLayer(rnd, 4096), bdlLayer(rnd, 16<<10))
	r, err := name.ParseReference(changed)
	require.NoError(t, err)
	require.NoError(t, remote.Write(r, img))

	next := filepath.Join(dir, "next.tar.zst")
	m := bdlCreate(t, s, next, "--base", base)
	require.NotNil(t, m.Base)
	var carried []string
	for _, f := range m.Files {
		if !f.InBase {
			carried = append(carried, f.Path)
		}
	}
	sort.Strings(carried)
	// Only the changed image's manifest, config and two new layers, and the
	// layout's index.json; the binary, the platform and the rest come from the base.
	assert.Len(t, carried, 5, "%v", carried)
	assert.Contains(t, carried, "images/index.json")

	code, _, errOut := bdlOtomi(t, "bundle", "extract", next, filepath.Join(dir, "x"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "incremental bundle")
	assert.Contains(t, errOut, "--base OLD_BUNDLE")
	bdlEmptyOrGone(t, filepath.Join(dir, "x"))
	code, _, errOut = bdlOtomi(t, "bundle", "verify", next, "--base", next)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "is not the base of")

	bdlMustOtomi(t, "bundle", "verify", next, "--base", base)
	out := filepath.Join(dir, "out")
	bdlMustOtomi(t, "bundle", "extract", next, out, "--base", base)
	full := filepath.Join(dir, "full")
	bdlCreate(t, s, filepath.Join(dir, "full.tar.zst"))
	bdlMustOtomi(t, "bundle", "extract", filepath.Join(dir, "full.tar.zst"), full)
	for _, f := range m.Files {
		a, err := os.ReadFile(filepath.Join(out, f.Path))
		require.NoError(t, err, f.Path)
		b, err := os.ReadFile(filepath.Join(full, f.Path))
		require.NoError(t, err, f.Path)
		assert.True(t, bytes.Equal(a, b), "%s: incremental+base extracts as a full bundle does", f.Path)
	}

	bdlMustOtomi(t, "bundle", "push-images", next, "--base", base, "--registry", site.host)
	assert.Equal(t, pushed+3, site.uploads.Load(), "only the new config and layers are uploaded")
	d, err := remote.Head(mustRef(t, strings.Replace(changed, s.registry, site.host, 1)))
	require.NoError(t, err)
	want, err := img.Digest()
	require.NoError(t, err)
	assert.Equal(t, want, d.Digest)
}

func mustRef(t testing.TB, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	require.NoError(t, err)
	return r
}

// BenchmarkBundle measures `bundle create` (pull from a loopback registry,
// write the bundle) and `bundle push-images` (from the bundle file to
// another loopback registry) on images of growing size, each run as its own
// otomi process so that its peak RSS can be read: it must stay flat as the
// images grow (layers are streamed, never held).
func BenchmarkBundle(b *testing.B) {
	self, err := os.Executable()
	require.NoError(b, err)
	binDir := b.TempDir()
	otomiBin := filepath.Join(binDir, "otomi")
	require.NoError(b, os.Symlink(self, otomiBin))
	for _, mb := range []int64{32, 128, 512} {
		b.Run(fmt.Sprintf("images=%dMB", mb), func(b *testing.B) {
			s := bdlSetup(b, mb<<20/int64(5))
			var size int64
			stand := bdlSmallBinary(b, s.dir, 1<<20)
			for i := 0; i < b.N; i++ {
				file := filepath.Join(s.dir, fmt.Sprintf("b%d.tar.zst", i))
				createDur, createRSS := bdlRun(b, otomiBin, "bundle", "create", "-o", file, "--env-dir", s.repo, "--binary", stand)
				h, err := bundle.ReadHead(file)
				require.NoError(b, err)
				size = 0
				for _, f := range h.Manifest.Files {
					if strings.HasPrefix(f.Path, "images/") {
						size += f.Size
					}
				}
				site := bdlStartRegistry(b)
				pushDur, pushRSS := bdlRun(b, otomiBin, "bundle", "push-images", file, "--registry", site.host)
				b.ReportMetric(float64(size)/(1<<20)/createDur.Seconds(), "create-MB/s")
				b.ReportMetric(float64(size)/(1<<20)/pushDur.Seconds(), "push-MB/s")
				b.ReportMetric(createRSS, "create-peak-RSS-MB")
				b.ReportMetric(pushRSS, "push-peak-RSS-MB")
				b.ReportMetric(float64(size)/(1<<20), "image-MB")
				os.Remove(file)
			}
		})
	}
}

// bdlRun runs otomi as a child process and returns its wall time and peak
// RSS (MB), measured as runMeasured does.
func bdlRun(b *testing.B, bin string, args ...string) (time.Duration, float64) {
	b.Helper()
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	d, rss, err := runMeasured(cmd)
	require.NoError(b, err, "%s\n%s", strings.Join(args, " "), stderr.String())
	return d, rss
}
