package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"
)

// FieldManager names otomi in managedFields (server-side apply).
const FieldManager = "otomi"

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// applyCRDs server-side applies the CRD documents (each file may hold
// several) and waits until every one is established. It returns how many
// were created or changed; discovery is refreshed when any was.
func (c *Cluster) applyCRDs(ctx context.Context, crds []CRD, timeout time.Duration) (int, error) {
	var objs []*unstructured.Unstructured
	seen := map[string]bool{}
	for _, crd := range crds {
		for _, doc := range splitDocs(string(crd.Data)) {
			var m map[string]any
			if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
				return 0, fmt.Errorf("CRD %s: %w", crd.File, err)
			}
			if len(m) == 0 {
				continue
			}
			u := &unstructured.Unstructured{Object: m}
			if u.GetKind() != "CustomResourceDefinition" || seen[u.GetName()] {
				continue
			}
			seen[u.GetName()] = true
			objs = append(objs, u)
		}
	}
	before, err := c.crdVersions(ctx, objs)
	if err != nil {
		return 0, err
	}
	changed := make([]bool, len(objs))
	errs := make([]error, len(objs))
	var g errgroup.Group
	g.SetLimit(crdConcurrency)
	for i, u := range objs {
		g.Go(func() error {
			changed[i], errs[i] = c.applyCRD(ctx, u, before[u.GetName()])
			return nil
		})
	}
	_ = g.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	n := 0
	for i := range objs {
		if changed[i] {
			n++
		}
	}
	if n == 0 {
		return 0, nil
	}
	// Wait for every changed CRD to be established, in parallel; a new
	// kind gets its first request (warm) as soon as it is. The first
	// failure stops the other waits.
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := c.dynamic.Resource(crdResource)
	wg, gctx := errgroup.WithContext(wctx)
	wg.SetLimit(crdConcurrency)
	var failed atomic.Int32
	for i, u := range objs {
		if !changed[i] {
			continue
		}
		wg.Go(func() error {
			err := wait.PollUntilContextCancel(gctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
				live, err := client.Get(ctx, u.GetName(), metav1.GetOptions{})
				if err != nil {
					if apierrors.IsNotFound(err) || IsTransient(err) {
						return false, nil
					}
					return false, err
				}
				return established(live), nil
			})
			if err != nil {
				failed.Add(1)
				return fmt.Errorf("CRD %s not established: %w", u.GetName(), err)
			}
			if _, existed := before[u.GetName()]; !existed {
				go c.warm(ctx, u)
			}
			return nil
		})
	}
	if err := wg.Wait(); err != nil {
		if more := failed.Load() - 1; more > 0 {
			return n, fmt.Errorf("%w (and %d more CRDs not established)", err, more)
		}
		return n, err
	}
	c.resetDiscovery()
	return n, nil
}

// crdVersions returns the resourceVersion of each CRD that exists: one
// metadata-only list, or, for a user who may not list CRDs, a GET of each
// (one that cannot be read counts as new).
func (c *Cluster) crdVersions(ctx context.Context, objs []*unstructured.Unstructured) (map[string]string, error) {
	client := c.metadata.Resource(crdResource)
	before := map[string]string{}
	err := Retry(ctx, DefaultRetry, func() error {
		list, err := client.List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, m := range list.Items {
			before[m.Name] = m.ResourceVersion
		}
		return nil
	}, nil)
	if err == nil {
		return before, nil
	}
	if !apierrors.IsForbidden(err) {
		return nil, fmt.Errorf("list CRDs: %w", err)
	}
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(crdConcurrency)
	for _, u := range objs {
		g.Go(func() error {
			// One that cannot be read counts as new.
			if m, err := client.Get(ctx, u.GetName(), metav1.GetOptions{}); err == nil {
				mu.Lock()
				before[m.Name] = m.ResourceVersion
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	return before, nil
}

// crdConcurrency bounds the CRD requests in flight.
const crdConcurrency = 16

// applyCRD server-side applies one CRD whose resourceVersion was before
// ("" when it did not exist); changed is true when it was created or
// updated.
func (c *Cluster) applyCRD(ctx context.Context, u *unstructured.Unstructured, before string) (changed bool, err error) {
	client := c.dynamic.Resource(crdResource)
	body, err := json.Marshal(u.Object)
	if err != nil {
		return false, err
	}
	var after *unstructured.Unstructured
	err = Retry(ctx, DefaultRetry, func() error {
		var err error
		after, err = client.Patch(ctx, u.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: FieldManager, Force: ptr(true)})
		return err
	}, nil)
	if err != nil {
		return false, fmt.Errorf("apply CRD %s: %w", u.GetName(), err)
	}
	return after.GetResourceVersion() != before, nil
}

// warm sends a new custom resource kind its first request while earlier
// releases deploy: a server-side dry-run create of an empty object
// (rejected or not, it is never stored). An API server can take seconds
// to serve the first request of a new resource (measured: 2 s on
// kube-apiserver 1.35 with etcd 3.4); the release that creates such
// objects then does not wait for it.
func (c *Cluster) warm(ctx context.Context, crd *unstructured.Unstructured) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	scope, _, _ := unstructured.NestedString(crd.Object, "spec", "scope")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		m, _ := v.(map[string]any)
		name, _ := m["name"].(string)
		if served, _ := m["served"].(bool); !served || name == "" {
			continue
		}
		obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": group + "/" + name, "kind": kind,
			"metadata": map[string]any{"name": "otomi-warm-up"}}}
		res := c.dynamic.Resource(schema.GroupVersionResource{Group: group, Version: name, Resource: plural})
		opts := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: FieldManager}
		if scope == "Namespaced" {
			_, _ = res.Namespace(metav1.NamespaceDefault).Create(ctx, obj, opts)
		} else {
			_, _ = res.Create(ctx, obj, opts)
		}
		return
	}
}

func established(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && strings.EqualFold(fmt.Sprint(m["status"]), "true") {
			return true
		}
	}
	return false
}

// deleteCRDs deletes CRDs by name (destroy --full), ignoring missing ones.
func (c *Cluster) deleteCRDs(ctx context.Context, names []string) error {
	client := c.dynamic.Resource(crdResource)
	for _, n := range names {
		err := Retry(ctx, DefaultRetry, func() error {
			return client.Delete(ctx, n, metav1.DeleteOptions{})
		}, nil)
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete CRD %s: %w", n, err)
		}
	}
	return nil
}

// crdNames lists the CRD names defined in the documents.
func crdNames(crds []CRD) []string {
	var names []string
	for _, crd := range crds {
		for _, doc := range splitDocs(string(crd.Data)) {
			var m struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if yaml.Unmarshal([]byte(doc), &m) == nil && m.Kind == "CustomResourceDefinition" && m.Metadata.Name != "" {
				names = append(names, m.Metadata.Name)
			}
		}
	}
	return names
}

func ptr[T any](v T) *T { return &v }
