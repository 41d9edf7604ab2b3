package kubetest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

var (
	crdGVR    = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	widgetGVR = schema.GroupVersionResource{Group: "kubetest.otomi.io", Version: "v1", Resource: "widgets"}
)

const widgetCRD = `{
  "apiVersion": "apiextensions.k8s.io/v1",
  "kind": "CustomResourceDefinition",
  "metadata": {"name": "widgets.kubetest.otomi.io"},
  "spec": {
    "group": "kubetest.otomi.io",
    "scope": "Namespaced",
    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
    "versions": [{
      "name": "v1", "served": true, "storage": true,
      "schema": {"openAPIV3Schema": {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer", "minimum": 1}}}}
      }}
    }]
  }
}`

func TestServer(t *testing.T) {
	t.Parallel()
	began := time.Now()
	s := Start(t)
	t.Logf("etcd + kube-apiserver %s ready in %s", s.Version, time.Since(began).Round(time.Millisecond))
	assert.Equal(t, KubeVersion, s.Version, "server version (the ldflags stamp of tests/kube/build.sh)")

	ctx := t.Context()
	cs, err := kubernetes.NewForConfig(s.RESTConfig())
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(s.RESTConfig())
	require.NoError(t, err)

	t.Run("client-go", func(t *testing.T) {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}, metav1.CreateOptions{})
		require.NoError(t, err)
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "team-a"}, Data: map[string]string{"k": "v"}}
		_, err = cs.CoreV1().ConfigMaps("team-a").Create(ctx, cm, metav1.CreateOptions{})
		require.NoError(t, err)
		got, err := cs.CoreV1().ConfigMaps("team-a").Get(ctx, "settings", metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"k": "v"}, got.Data)
	})

	t.Run("custom resource", func(t *testing.T) {
		var crd unstructured.Unstructured
		require.NoError(t, crd.UnmarshalJSON([]byte(widgetCRD)))
		_, err := dyn.Resource(crdGVR).Apply(ctx, crd.GetName(), &crd, metav1.ApplyOptions{FieldManager: "kubetest"})
		require.NoError(t, err)
		waitEstablished(t, dyn, crd.GetName())

		widgets := dyn.Resource(widgetGVR).Namespace("default")
		_, err = widgets.Create(ctx, widget("small", 1), metav1.CreateOptions{})
		require.NoError(t, err)
		got, err := widgets.Get(ctx, "small", metav1.GetOptions{})
		require.NoError(t, err)
		size, _, _ := unstructured.NestedInt64(got.Object, "spec", "size")
		assert.EqualValues(t, 1, size)

		_, err = widgets.Create(ctx, widget("empty", 0), metav1.CreateOptions{})
		assert.True(t, apierrors.IsInvalid(err), "spec.size 0 violates minimum 1 of the CRD schema; got %v", err)
	})

	t.Run("kubectl get", func(t *testing.T) {
		out, err := s.Kubectl(ctx, "get", "ns", "-o", "name").CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Contains(t, strings.Fields(string(out)), "namespace/kube-system")
	})

	t.Run("kubectl server-side dry run", func(t *testing.T) {
		tests := []struct {
			name     string
			manifest string
			wantErr  string // "" when the server accepts it
		}{
			{"valid ConfigMap", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dry"},"data":{"a":"b"}}`, ""},
			{"unknown field", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dry"},"bogus":1}`, `unknown field "bogus"`},
			{"wrong type", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dry"},"data":{"a":1}}`, `ConfigMap.data`},
			{"valid Widget", `{"apiVersion":"kubetest.otomi.io/v1","kind":"Widget","metadata":{"name":"dry"},"spec":{"size":2}}`, ""},
			{"unknown Widget field", `{"apiVersion":"kubetest.otomi.io/v1","kind":"Widget","metadata":{"name":"dry"},"spec":{"colour":"red"}}`, `unknown field "spec.colour"`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				cmd := s.Kubectl(ctx, "apply", "--dry-run=server", "--validate=strict", "-n", "default", "-f", "-")
				cmd.Stdin = strings.NewReader(tt.manifest)
				out, err := cmd.CombinedOutput()
				if tt.wantErr == "" {
					require.NoError(t, err, "%s", out)
					assert.Contains(t, string(out), "(server dry run)")
					return
				}
				require.Error(t, err, "the server accepted it:\n%s", out)
				assert.Contains(t, string(out), tt.wantErr)
			})
		}
		_, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "dry", metav1.GetOptions{})
		assert.True(t, apierrors.IsNotFound(err), "a dry run must not create the object; got %v", err)
	})
}

func widget(name string, size int64) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kubetest.otomi.io/v1",
		"kind":       "Widget",
		"metadata":   map[string]any{"name": name},
		"spec":       map[string]any{"size": size},
	}}
}

func waitEstablished(t *testing.T, dyn dynamic.Interface, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true,
		func(ctx context.Context) (bool, error) {
			crd, err := dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
	require.NoError(t, err, "CRD %s not Established", name)
}

// Two servers at once (and TestServer in parallel with this one) get their own
// ports, data and kubeconfig: what is created on one is absent from the other.
func TestServersAreIsolated(t *testing.T) {
	t.Parallel()
	a, b := Start(t), Start(t)
	assert.NotEqual(t, a.URL, b.URL)
	assert.NotEqual(t, a.Kubeconfig, b.Kubeconfig)

	ctx := t.Context()
	ca, err := kubernetes.NewForConfig(a.RESTConfig())
	require.NoError(t, err)
	cb, err := kubernetes.NewForConfig(b.RESTConfig())
	require.NoError(t, err)
	_, err = ca.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "only-on-a"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = cb.CoreV1().Namespaces().Get(ctx, "only-on-a", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "namespace created on a is visible on b: %v", err)
}

// recorder stands in for the test given to Start, to observe what Start
// reports: Fatal is recorded and ends the (sub)test as skipped.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	logs   bytes.Buffer
	failed bool
}

func (r *recorder) Helper() {}

func (r *recorder) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(&r.logs, format+"\n", args...)
}

func (r *recorder) Fatal(args ...any) {
	r.Logf("%s", fmt.Sprint(args...))
	r.failed = true
	r.TB.SkipNow()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Logf(format, args...)
	r.failed = true
	r.TB.SkipNow()
}

func (r *recorder) Failed() bool { return r.failed }

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logs.String()
}

// A server that cannot start fails the test with the reason from its log.
func TestStartFailureShowsLog(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	t.Run("start", func(t *testing.T) {
		rec.TB = t
		Start(rec, WithAPIServerFlags("--no-such-flag"))
		t.Error("Start returned with an invalid kube-apiserver flag")
	})
	require.True(t, rec.failed)
	out := rec.String()
	assert.Contains(t, out, "kube-apiserver exited before the server was ready")
	assert.Contains(t, out, "unknown flag: --no-such-flag")
	assert.Contains(t, out, "last lines of", "logs of a failed start are printed")
}

func TestFindBinaries(t *testing.T) {
	bin := t.TempDir()
	for _, name := range []string{"kube-apiserver", "kubectl", "etcd"} {
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"), 0o755))
	}
	cache := t.TempDir()
	cacheKube := filepath.Join(cache, "kube-"+KubeVersion)
	require.NoError(t, os.MkdirAll(cacheKube, 0o755))
	for _, name := range []string{"kube-apiserver", "kubectl"} {
		require.NoError(t, os.WriteFile(filepath.Join(cacheKube, name), []byte("#!/bin/sh\n"), 0o755))
	}
	empty := t.TempDir()
	notExec := filepath.Join(empty, "kube-apiserver")
	require.NoError(t, os.WriteFile(notExec, nil, 0o644))

	tests := []struct {
		name    string
		env     map[string]string
		want    binaries
		wantErr []string
	}{
		{
			name: "environment variables first",
			env: map[string]string{"OTOMI_TOOLS_CACHE": cache, "PATH": empty,
				"OTOMI_TEST_KUBE_APISERVER": filepath.Join(bin, "kube-apiserver"),
				"OTOMI_TEST_KUBECTL":        filepath.Join(bin, "kubectl"),
				"OTOMI_TEST_ETCD":           filepath.Join(bin, "etcd")},
			want: binaries{filepath.Join(bin, "kube-apiserver"), filepath.Join(bin, "kubectl"), filepath.Join(bin, "etcd")},
		},
		{
			name: "then the build cache, then PATH",
			env:  map[string]string{"OTOMI_TOOLS_CACHE": cache, "PATH": bin},
			want: binaries{filepath.Join(cacheKube, "kube-apiserver"), filepath.Join(cacheKube, "kubectl"), filepath.Join(bin, "etcd")},
		},
		{
			name: "PATH when the cache is empty",
			env:  map[string]string{"OTOMI_TOOLS_CACHE": empty, "PATH": bin},
			want: binaries{filepath.Join(bin, "kube-apiserver"), filepath.Join(bin, "kubectl"), filepath.Join(bin, "etcd")},
		},
		{
			name: "all missing: each named, with the build command",
			env:  map[string]string{"OTOMI_TOOLS_CACHE": empty, "PATH": empty},
			wantErr: []string{"kube-apiserver not found (looked in $OTOMI_TEST_KUBE_APISERVER, " + filepath.Join(empty, "kube-"+KubeVersion) + " and PATH)",
				"kubectl not found", "etcd not found (looked in $OTOMI_TEST_ETCD and PATH)", BuildCommand},
		},
		{
			name:    "a variable naming a file that is not executable",
			env:     map[string]string{"OTOMI_TOOLS_CACHE": cache, "PATH": bin, "OTOMI_TEST_KUBE_APISERVER": notExec},
			wantErr: []string{"OTOMI_TEST_KUBE_APISERVER=" + notExec + ": not an executable file"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"OTOMI_TEST_KUBE_APISERVER", "OTOMI_TEST_KUBECTL", "OTOMI_TEST_ETCD"} {
				t.Setenv(k, "")
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got, err := findBinaries()
			if tt.wantErr != nil {
				require.Error(t, err)
				for _, w := range tt.wantErr {
					assert.Contains(t, err.Error(), w)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// The cache directory is named after KubeVersion; build.sh names it after the
// version tests/kube/tools requires. They must be the same.
func TestKubeVersionMatchesToolsModule(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "tests", "kube", "tools", "go.mod"))
	require.NoError(t, err)
	var got string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "require" && f[1] == "k8s.io/kubernetes" {
			got = f[2]
		}
	}
	assert.Equal(t, KubeVersion, got, "require k8s.io/kubernetes in tests/kube/tools/go.mod")
}
