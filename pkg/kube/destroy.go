package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"helm.sh/helm/v3/pkg/chart/loader"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/otomi/otomi/pkg/kube/dag"
	"github.com/otomi/otomi/pkg/render"
)

// DestroyOptions tune Destroy.
type DestroyOptions struct {
	ApplyOptions
	// Full also deletes the CRDs of the releases' charts and the
	// namespaces they created (kept otherwise).
	Full bool
	// Namespaces are more namespaces Full deletes: those the releases
	// render (their stored manifests' are deleted anyway).
	Namespaces []string
}

// Destroy uninstalls the releases that exist in the cluster, in reverse
// stage and needs order. Namespaces stay (they carry helm's keep policy)
// and so do the charts' CRDs, unless Full.
func (c *Cluster) Destroy(ctx context.Context, releases []*render.Release, opts DestroyOptions) (*Report, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.Retry.Attempts == 0 {
		opts.Retry = DefaultRetry
	}
	// What is there: the plan of a run where nothing is installed.
	off := make([]*render.Release, len(releases))
	for i, r := range releases {
		cp := *r
		cp.Installed = false
		off[i] = &cp
	}
	plan, err := c.Plan(ctx, off, nil, PlanOptions{})
	if err != nil {
		return nil, err
	}
	r := &run{c: c, opts: opts.ApplyOptions, out: map[string]*Outcome{}}
	report := &Report{}
	items := map[string]*Item{}
	var targets []*Item
	var crds []string
	namespaces := map[string]bool{}
	for _, ns := range opts.Namespaces {
		if opts.Full && !systemNamespaces[ns] {
			namespaces[ns] = true
		}
	}
	for _, it := range plan.Items {
		if opts.Full {
			// The chart's CRDs go even when its release is already gone.
			if ch, err := loader.Load(it.Release.ChartPath); err == nil {
				for _, f := range ch.CRDObjects() {
					crds = append(crds, crdNames([]CRD{{File: f.Filename, Data: f.File.Data}})...)
				}
			}
		}
		o := &Outcome{Release: it.ID(), Chart: it.Release.Chart, Action: it.Action}
		r.out[it.ID()] = o
		report.Outcomes = append(report.Outcomes, o)
		if it.Action != ActionUninstall {
			o.State, o.Reason = StateUnchanged, "not installed"
			continue
		}
		it.Reason = "destroy"
		items[it.ID()] = it
		targets = append(targets, it)
		if opts.Full {
			if ch := it.Current.Chart; ch != nil {
				for _, f := range ch.CRDObjects() {
					crds = append(crds, crdNames([]CRD{{File: f.Filename, Data: f.File.Data}})...)
				}
			}
			for _, ns := range ManifestNamespaces(it.Current.Manifest) {
				if !systemNamespaces[ns] {
					namespaces[ns] = true
				}
			}
		}
	}
	if len(targets) > 0 {
		res, err := dag.Run(ctx, Graph(targets, true), dag.Options{Concurrency: opts.Concurrency, KeepGoing: opts.KeepGoing}, func(ctx context.Context, id string) error {
			return r.uninstall(ctx, items[id])
		})
		if err != nil {
			return nil, err
		}
		if r.settle(res) || ctx.Err() != nil {
			report.Interrupted = ctx.Err() != nil
			return report, nil
		}
	}
	if opts.Full {
		if err := r.deleteRest(ctx, crds, namespaces); err != nil {
			return report, err
		}
	}
	var removed []string
	for _, it := range targets {
		if r.out[it.ID()].State == string(dag.Done) {
			removed = append(removed, it.ID())
		}
	}
	if !namespaces[LedgerNamespace] {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := c.updateLedger(lctx, nil, nil, removed); err != nil && !errors.Is(err, ErrNoLedgerNamespace) {
			report.Warnings = append(report.Warnings, "ledger not updated: "+err.Error())
		}
	}
	return report, nil
}

// deleteRest deletes the CRDs and namespaces destroy --full removes.
func (r *run) deleteRest(ctx context.Context, crds []string, namespaces map[string]bool) error {
	start := time.Now()
	sort.Strings(crds)
	crds = slices.Compact(crds)
	if len(crds) > 0 {
		if err := r.c.deleteCRDs(ctx, crds); err != nil {
			r.emit(Event{Action: "crds", Phase: PhaseFailed, Message: err.Error()})
			return err
		}
		r.emit(Event{Action: "crds", Phase: PhaseDone, Duration: time.Since(start), Message: fmt.Sprintf("%d CRDs deleted", len(crds))})
	}
	names := make([]string, 0, len(namespaces))
	for ns := range namespaces {
		names = append(names, ns)
	}
	sort.Strings(names)
	start = time.Now()
	for _, ns := range names {
		err := Retry(ctx, r.opts.Retry, func() error {
			return r.c.clientset.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
		}, nil)
		if err != nil && !apierrors.IsNotFound(err) {
			r.emit(Event{Action: "namespaces", Phase: PhaseFailed, Message: err.Error()})
			return fmt.Errorf("delete namespace %s: %w", ns, err)
		}
	}
	if len(names) > 0 {
		r.emit(Event{Action: "namespaces", Phase: PhaseDone, Duration: time.Since(start), Message: fmt.Sprintf("%d namespaces deleted", len(names))})
	}
	return nil
}

// systemNamespaces are never deleted, whatever a chart claims.
var systemNamespaces = map[string]bool{"default": true, "kube-system": true, "kube-public": true, "kube-node-lease": true}

// ManifestNamespaces lists the Namespace objects of a manifest.
func ManifestNamespaces(manifest string) []string {
	var out []string
	for _, doc := range splitDocs(manifest) {
		var m struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if yaml.Unmarshal([]byte(doc), &m) == nil && m.APIVersion == "v1" && m.Kind == "Namespace" && m.Metadata.Name != "" {
			out = append(out, m.Metadata.Name)
		}
	}
	return out
}
