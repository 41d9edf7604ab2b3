// Package kubetest starts a real Kubernetes API server for tests: a fresh etcd
// and a kube-apiserver on 127.0.0.1, reachable with a kubeconfig, torn down when
// the test ends. There is no kubelet and no controller manager: tests assert API
// objects (and helm release state), not running pods, garbage collection or
// namespace finalisation.
//
// The binaries come from tests/kube/build.sh (kube-apiserver and kubectl built
// from k8s.io/kubernetes KubeVersion, etcd from Debian). They are looked up in
// OTOMI_TEST_KUBE_APISERVER, OTOMI_TEST_KUBECTL and OTOMI_TEST_ETCD, then in the
// build cache ($OTOMI_TOOLS_CACHE or ~/.cache/otomi-tools, kube-<KubeVersion>/),
// then on PATH. A missing binary fails the test with the command that builds it.
package kubetest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// KubeVersion is the k8s.io/kubernetes release tests/kube/tools builds; it names
// the cache directory. Keep it equal to the require in tests/kube/tools/go.mod
// (TestKubeVersionMatchesToolsModule checks).
const KubeVersion = "v1.35.4"

// BuildCommand is what a developer runs, from the repository root, to get the
// binaries Start needs.
const BuildCommand = "tests/kube/build.sh"

const (
	readyTimeout = 2 * time.Minute
	attempts     = 3 // a port taken between picking and binding is retried
)

// Server is a running etcd + kube-apiserver pair.
type Server struct {
	// Kubeconfig is the path of a kubeconfig (token auth, embedded CA) whose
	// current context is this server.
	Kubeconfig string
	// KubectlPath is the kubectl binary built with the server.
	KubectlPath string
	// Version is the gitVersion the server reports on /version, e.g. "v1.35.4".
	Version string
	// URL is the server's address, https://127.0.0.1:<port>.
	URL string

	caPEM    []byte
	token    string
	cacheDir string
}

// RESTConfig returns a new client-go config for the server, authenticated as a
// member of system:masters.
func (s *Server) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:            s.URL,
		BearerToken:     s.token,
		TLSClientConfig: rest.TLSClientConfig{CAData: append([]byte(nil), s.caPEM...)},
		QPS:             100,
		Burst:           200,
	}
}

// Kubectl returns a command running kubectl against the server: --kubeconfig and
// a per-server discovery cache come before args, and a developer's
// ~/.kube/kuberc (aliases, default flags) is ignored.
func (s *Server) Kubectl(ctx context.Context, args ...string) *exec.Cmd {
	full := append([]string{"--kubeconfig=" + s.Kubeconfig, "--cache-dir=" + s.cacheDir}, args...)
	cmd := exec.CommandContext(ctx, s.KubectlPath, full...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.Kubeconfig, "KUBERC=off")
	return cmd
}

// Option changes how Start runs the server.
type Option func(*options)

type options struct {
	apiserverFlags []string
}

// WithAPIServerFlags appends flags to the kube-apiserver command line (a later
// flag overrides an earlier one), e.g. "--disable-admission-plugins=ServiceAccount".
func WithAPIServerFlags(flags ...string) Option {
	return func(o *options) { o.apiserverFlags = append(o.apiserverFlags, flags...) }
}

// Start runs a fresh etcd and kube-apiserver for t, waits until /readyz passes
// and the default namespace exists, and stops both (removing their data) when t
// ends. Logs of both are printed only if t failed. Parallel tests each get
// their own server on their own ports.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	bins, err := findBinaries()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for attempt := 1; ; attempt++ {
		c, s, err := startOnce(bins, filepath.Join(root, strconv.Itoa(attempt)), o)
		if err == nil {
			t.Cleanup(func() {
				c.stop()
				if t.Failed() {
					c.logTails(t)
				}
			})
			return s
		}
		c.stop()
		if attempt < attempts && c.portClash() {
			t.Logf("kubetest: a port was taken before the server bound it; retrying")
			continue
		}
		c.logTails(t)
		t.Fatalf("kubetest: start kube-apiserver %s: %v", KubeVersion, err)
	}
}

// startOnce launches etcd and kube-apiserver in dir and waits until they are
// ready. The cluster it returns is never nil: stop it on error too.
func startOnce(bins binaries, dir string, o options) (*cluster, *Server, error) {
	c := &cluster{}
	if err := c.launch(bins, dir, o); err != nil {
		return c, nil, err
	}
	s, err := c.waitReady(dir)
	if err != nil {
		return c, nil, err
	}
	s.KubectlPath = bins.kubectl
	return c, s, nil
}

type binaries struct{ apiserver, kubectl, etcd string }

// findBinaries looks each binary up in its environment variable, the build
// cache, then PATH; it names every one missing and how to build them.
func findBinaries() (binaries, error) {
	cache := cacheDir()
	var b binaries
	var errs []error
	for _, x := range []struct {
		dst  *string
		env  string
		name string
		dir  string
	}{
		{&b.apiserver, "OTOMI_TEST_KUBE_APISERVER", "kube-apiserver", cache},
		{&b.kubectl, "OTOMI_TEST_KUBECTL", "kubectl", cache},
		{&b.etcd, "OTOMI_TEST_ETCD", "etcd", ""},
	} {
		p, err := findBinary(x.env, x.name, x.dir)
		if err != nil {
			errs = append(errs, err)
		}
		*x.dst = p
	}
	if len(errs) > 0 {
		return b, fmt.Errorf("kubetest: %w\nbuild them (once per machine, ~11 min) from the repository root with:\n\t%s",
			errors.Join(errs...), BuildCommand)
	}
	return b, nil
}

func findBinary(env, name, dir string) (string, error) {
	if p := os.Getenv(env); p != "" {
		if err := executable(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", env, p, err)
		}
		return p, nil
	}
	if dir != "" {
		p := filepath.Join(dir, name)
		if executable(p) == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	where := "$" + env
	if dir != "" {
		where += ", " + dir
	}
	return "", fmt.Errorf("%s not found (looked in %s and PATH)", name, where)
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("not an executable file")
	}
	return nil
}

// cacheDir is where tests/kube/build.sh puts kube-apiserver and kubectl.
func cacheDir() string {
	root := os.Getenv("OTOMI_TOOLS_CACHE")
	if root == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		root = filepath.Join(home, ".cache", "otomi-tools")
	}
	return filepath.Join(root, "kube-"+KubeVersion)
}

// cluster is one attempt at running etcd and kube-apiserver.
type cluster struct {
	pki       *pki
	apiPort   int
	etcd      *proc
	apiserver *proc
}

func (c *cluster) launch(bins binaries, dir string, o options) error {
	for _, d := range []string{dir, filepath.Join(dir, "etcd"), filepath.Join(dir, "pki"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	p, err := writePKI(filepath.Join(dir, "pki"))
	if err != nil {
		return err
	}
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	c.pki, c.apiPort = p, ports[2]
	tmp := filepath.Join(dir, "tmp")

	// Both start at once: kube-apiserver retries etcd until it answers.
	c.etcd, err = launch("etcd", bins.etcd, []string{
		"--name=kubetest",
		"--data-dir=" + filepath.Join(dir, "etcd"),
		"--listen-client-urls=" + clientURL,
		"--advertise-client-urls=" + clientURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=kubetest=" + peerURL,
		"--logger=zap",
		"--log-outputs=stderr",
	}, filepath.Join(dir, "etcd.log"), tmp)
	if err != nil {
		return err
	}
	args := []string{
		"--etcd-servers=" + clientURL,
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", c.apiPort),
		"--cert-dir=" + filepath.Join(dir, "pki"),
		"--tls-cert-file=" + p.certFile,
		"--tls-private-key-file=" + p.keyFile,
		"--client-ca-file=" + p.caFile,
		"--token-auth-file=" + p.tokenFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + p.saPubFile,
		"--service-account-signing-key-file=" + p.saKeyFile,
		"--service-cluster-ip-range=10.0.0.0/24",
		// The advertised address is 127.0.0.1, which the default reconciler of
		// the kubernetes Service's endpoints refuses (the server exits).
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		// Charts with privileged containers must pass validation as on a cluster.
		"--allow-privileged=true",
		"--profiling=false",
	}
	c.apiserver, err = launch("kube-apiserver", bins.apiserver, append(args, o.apiserverFlags...),
		filepath.Join(dir, "kube-apiserver.log"), tmp)
	return err
}

// waitReady polls /readyz until it passes and the default namespace exists
// (created by a controller inside the server shortly after start), then writes
// the kubeconfig.
func (c *cluster) waitReady(dir string) (*Server, error) {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.pki.caPEM)
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	defer client.CloseIdleConnections()
	url := fmt.Sprintf("https://127.0.0.1:%d", c.apiPort)
	get := func(path string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, url+path, nil)
		req.Header.Set("Authorization", "Bearer "+c.pki.token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, []byte(err.Error())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	deadline := time.After(readyTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastCode int
	var lastBody []byte
	for _, path := range []string{"/readyz", "/api/v1/namespaces/default"} {
		for {
			if lastCode, lastBody = get(path); lastCode == http.StatusOK {
				break
			}
			select {
			case <-c.etcd.done:
				return nil, c.etcd.exited()
			case <-c.apiserver.done:
				return nil, c.apiserver.exited()
			case <-deadline:
				return nil, fmt.Errorf("GET %s not OK after %s (last: %d %s)", path, readyTimeout, lastCode, lastBody)
			case <-tick.C:
			}
		}
	}

	code, body := get("/version")
	var v struct {
		GitVersion string `json:"gitVersion"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &v) != nil {
		return nil, fmt.Errorf("GET /version: %d %s", code, body)
	}

	s := &Server{
		Kubeconfig: filepath.Join(dir, "kubeconfig"),
		Version:    v.GitVersion,
		URL:        url,
		caPEM:      c.pki.caPEM,
		token:      c.pki.token,
		cacheDir:   filepath.Join(dir, "kubectl-cache"),
	}
	if err := writeKubeconfig(s); err != nil {
		return nil, err
	}
	return s, nil
}

func writeKubeconfig(s *Server) error {
	const name = "kubetest"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: s.URL, CertificateAuthorityData: s.caPEM}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: s.token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: "default"}
	cfg.CurrentContext = name
	if err := clientcmd.WriteToFile(*cfg, s.Kubeconfig); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// stop kills kube-apiserver (its graceful shutdown takes a second and
// protects nothing here: the data is thrown away), then stops etcd, which
// exits at once on SIGTERM.
func (c *cluster) stop() {
	if c.apiserver != nil {
		c.apiserver.stop(0)
	}
	if c.etcd != nil {
		c.etcd.stop(5 * time.Second)
	}
}

func (c *cluster) portClash() bool {
	for _, p := range []*proc{c.etcd, c.apiserver} {
		if p != nil && p.portClash() {
			return true
		}
	}
	return false
}

func (c *cluster) logTails(t testing.TB) {
	t.Helper()
	for _, x := range []struct {
		p     *proc
		lines int
	}{{c.etcd, 20}, {c.apiserver, 100}} {
		if x.p != nil {
			t.Logf("kubetest: last lines of %s:\n%s", x.p.logPath, tail(x.p.logPath, x.lines))
		}
	}
}
