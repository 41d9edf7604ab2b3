package kube

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"

	"github.com/otomi/otomi/pkg/render"
)

// Action is what apply does with a release.
type Action string

const (
	ActionInstall   Action = "install"
	ActionUpgrade   Action = "upgrade"
	ActionUninstall Action = "uninstall"
	// ActionNone: the release is as the values repo wants it.
	ActionNone Action = "none"
)

// FingerprintLabel is the helm release label holding the fingerprint of
// the values, chart version and CRDs a release was deployed with.
const FingerprintLabel = "otomi.io/fingerprint"

// Item is the plan for one release.
type Item struct {
	Release *render.Release
	// Desired is the manifest helm will store (hooks after it), with the
	// namespaces kept; empty for a release that is not installed.
	Desired string
	// Current is the release's last revision in the cluster, nil if none.
	Current *release.Release
	// History is every stored revision, oldest first.
	History []*release.Release
	Action  Action
	// Reason says why the action (e.g. "values changed").
	Reason string
	// Recover is set when Current is stuck pending: "rollback to N" or
	// "uninstall".
	Recover     string
	Fingerprint string
	// CRDs are the chart's crds/ documents.
	CRDs []CRD
}

// ID names the item's release as namespace/name.
func (it *Item) ID() string { return it.Release.ID() }

// CRD is one document of a chart's crds/ folder.
type CRD struct {
	File string
	Data []byte
}

// Plan is what apply (or diff, or status) would do, release by release, in
// release order.
type Plan struct {
	Items []*Item
}

// Changed lists the items with something to do.
func (p *Plan) Changed() []*Item {
	var out []*Item
	for _, it := range p.Items {
		if it.Action != ActionNone {
			out = append(out, it)
		}
	}
	return out
}

// PlanOptions tune planning.
type PlanOptions struct {
	// Force upgrades every installed release, changed or not (sync).
	Force bool
	// Prune plans the uninstall of releases the ledger says otomi deployed
	// from the platform that the platform no longer has (a team removed
	// from teamConfig, a release removed from helmfile.d). Only a run over
	// the whole platform (no selector, no -f) may prune.
	Prune bool
}

// RemovedStage is the state file of the releases that pruning found: in
// reverse (uninstall) order they go first.
const RemovedStage = "(removed from the platform)"

// Plan compares each release (its manifest from manifests, nil for a
// release that is not installed) with its last revision in the cluster.
// A release is unchanged when its last revision is deployed with the
// same manifest, the same values and the same fingerprint (chart
// version, CRDs).
func (c *Cluster) Plan(ctx context.Context, releases []*render.Release, manifests []*render.Manifest, opts PlanOptions) (*Plan, error) {
	byRelease := map[*render.Release]*render.Manifest{}
	for _, m := range manifests {
		byRelease[m.Release] = m
	}
	plan := &Plan{Items: make([]*Item, len(releases))}
	errs := make([]error, len(releases))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, r := range releases {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			it, err := c.planRelease(ctx, r, byRelease[r], opts)
			if err != nil {
				errs[i] = fmt.Errorf("release %s: %w", r.ID(), err)
				return
			}
			plan.Items[i] = it
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.Prune {
		removed, err := c.planRemoved(ctx, releases)
		if err != nil {
			return nil, err
		}
		plan.Items = append(plan.Items, removed...)
	}
	return plan, nil
}

// planRemoved finds the platform releases of the ledger that releases no
// longer holds, and plans their uninstall (a release already gone only
// leaves the ledger).
func (c *Cluster) planRemoved(ctx context.Context, releases []*render.Release) ([]*Item, error) {
	ledger, err := c.ReadLedger(ctx)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, r := range releases {
		known[r.ID()] = true
	}
	var ids []string
	for id, e := range ledger {
		if !known[id] && e.Helmfile == "" && e.Release != "" && e.Namespace != "" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var items []*Item
	for _, id := range ids {
		e := ledger[id]
		it := &Item{
			Release: &render.Release{Name: e.Release, Namespace: e.Namespace, Chart: e.Chart, ChartVersion: e.ChartVersion,
				StateFile: RemovedStage, Labels: map[string]string{}},
			Action: ActionUninstall,
			Reason: "no longer in the platform",
		}
		hist, err := c.history(ctx, e.Namespace, e.Release)
		if err != nil {
			return nil, fmt.Errorf("release %s: %w", id, err)
		}
		it.History = hist
		if len(hist) > 0 {
			it.Current = hist[len(hist)-1]
		}
		if it.Current == nil || it.Current.Info.Status == release.StatusUninstalled {
			it.Reason = "no longer in the platform, already gone"
		}
		items = append(items, it)
	}
	return items, nil
}

func (c *Cluster) planRelease(ctx context.Context, r *render.Release, m *render.Manifest, opts PlanOptions) (*Item, error) {
	it := &Item{Release: r}
	hist, err := c.history(ctx, r.Namespace, r.Name)
	if err != nil {
		return nil, err
	}
	it.History = hist
	if len(hist) > 0 {
		it.Current = hist[len(hist)-1]
	}
	cur := it.Current
	exists := cur != nil && cur.Info.Status != release.StatusUninstalled
	if exists && (cur.Info.Status.IsPending() || cur.Info.Status == release.StatusUninstalling) {
		it.Recover = "uninstall"
		if d := lastDeployed(hist); d != nil {
			it.Recover = fmt.Sprintf("rollback to revision %d", d.Version)
		}
	}
	if !r.Installed || m == nil {
		if exists {
			it.Action, it.Reason = ActionUninstall, "installed: false"
		} else {
			it.Action, it.Reason = ActionNone, "not installed"
		}
		return it, nil
	}
	desired, err := KeepNamespaces(m.Text)
	if err != nil {
		return nil, err
	}
	it.Desired = desired
	ch, err := loader.Load(r.ChartPath)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", r.Chart, err)
	}
	var crdTexts []string
	for _, crd := range ch.CRDObjects() {
		it.CRDs = append(it.CRDs, CRD{File: crd.Filename, Data: crd.File.Data})
		crdTexts = append(crdTexts, crd.Filename+"\x00"+string(crd.File.Data))
	}
	sort.Strings(crdTexts)
	values, err := canonicalJSON(r.Values)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	it.Fingerprint = fingerprint(values, ch.Metadata.Name, ch.Metadata.Version, crdTexts)

	switch {
	case !exists:
		it.Action, it.Reason = ActionInstall, "not in the cluster"
		if it.Recover == "uninstall" {
			it.Reason = "never deployed"
		}
	case it.Recover != "":
		it.Action, it.Reason = ActionUpgrade, "stuck "+string(cur.Info.Status)
		if it.Recover == "uninstall" {
			it.Action = ActionInstall
		}
	case opts.Force:
		it.Action, it.Reason = ActionUpgrade, "sync"
	case cur.Info.Status != release.StatusDeployed:
		it.Action, it.Reason = ActionUpgrade, fmt.Sprintf("revision %d %s", cur.Version, cur.Info.Status)
	case !sameManifest(StoredManifest(cur), desired):
		it.Action, it.Reason = ActionUpgrade, "manifest changed"
	default:
		stored, err := canonicalJSON(cur.Config)
		if err != nil {
			return nil, fmt.Errorf("stored values: %w", err)
		}
		switch {
		case string(stored) != string(values):
			it.Action, it.Reason = ActionUpgrade, "values changed"
		case cur.Labels[FingerprintLabel] != it.Fingerprint:
			it.Action, it.Reason = ActionUpgrade, "chart or CRDs changed"
		default:
			it.Action, it.Reason = ActionNone, "unchanged"
		}
	}
	return it, nil
}

// history returns a release's stored revisions, oldest first (none when
// it was never installed).
func (c *Cluster) history(ctx context.Context, ns, name string) ([]*release.Release, error) {
	d := driver.NewSecrets(c.clientset.CoreV1().Secrets(ns))
	d.Log = c.log
	var rels []*release.Release
	err := Retry(ctx, DefaultRetry, func() error {
		var err error
		rels, err = d.Query(map[string]string{"name": name, "owner": "helm"})
		if errors.Is(err, driver.ErrReleaseNotFound) {
			rels, err = nil, nil
		}
		return err
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("read helm history: %w", err)
	}
	sort.Slice(rels, func(i, j int) bool { return rels[i].Version < rels[j].Version })
	return rels, nil
}

// lastDeployed is the latest revision that was ever deployed.
func lastDeployed(hist []*release.Release) *release.Release {
	for i := len(hist) - 1; i >= 0; i-- {
		switch hist[i].Info.Status {
		case release.StatusDeployed, release.StatusSuperseded:
			return hist[i]
		}
	}
	return nil
}
