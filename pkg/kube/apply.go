package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"

	"github.com/otomi/otomi/pkg/kube/dag"
)

// Phase is the kind of an Event.
type Phase string

const (
	PhaseStart   Phase = "start"
	PhaseDone    Phase = "done"
	PhaseFailed  Phase = "failed"
	PhaseRetry   Phase = "retry"
	PhaseSkipped Phase = "skipped"
	// PhaseInfo carries a message worth telling (a recovery, a warning).
	PhaseInfo Phase = "info"
)

// Event is one step of a run, for progress output.
type Event struct {
	Time time.Time `json:"time"`
	// Release is namespace/name; empty for steps of the whole run (crds).
	Release  string        `json:"release,omitempty"`
	Action   string        `json:"action"`
	Phase    Phase         `json:"phase"`
	Revision int           `json:"revision,omitempty"`
	Duration time.Duration `json:"duration,omitempty"`
	Message  string        `json:"message,omitempty"`
}

// ApplyOptions tune Apply and Destroy.
type ApplyOptions struct {
	// Concurrency bounds the releases deployed at once.
	Concurrency int
	// Timeout bounds each helm operation (hooks, --wait).
	Timeout time.Duration
	// Wait waits for workloads to be ready (needs a working cluster).
	Wait bool
	// RollbackOnFailure rolls a failed upgrade back to the last deployed
	// revision and uninstalls a failed install.
	RollbackOnFailure bool
	// KeepGoing runs, after a failure, what does not need the failed
	// release.
	KeepGoing bool
	Retry     RetryPolicy
	// Events hears of every step (called from several goroutines, one at
	// a time).
	Events func(Event)
	// Actor and Version are written to the ledger (who, which otomi).
	Actor, Version string
	// Helmfile is the helmfile of apply -f ("" for the platform), written
	// to the ledger.
	Helmfile string
}

// Outcome is what a run did with one release.
type Outcome struct {
	Release      string        `json:"release"`
	Chart        string        `json:"chart,omitempty"`
	ChartVersion string        `json:"chartVersion,omitempty"`
	Action       Action        `json:"action"`
	State        string        `json:"state"`
	Revision     int           `json:"revision,omitempty"`
	Duration     time.Duration `json:"duration,omitempty"`
	Reason       string        `json:"reason,omitempty"`
	Err          error         `json:"-"`
}

// Outcome states beyond dag's done, failed, skipped and not-run.
const StateUnchanged = "unchanged"

// Report is the result of a run.
type Report struct {
	Outcomes    []*Outcome
	Interrupted bool
	// Warnings are problems that did not fail the run (ledger not written).
	Warnings []string
}

// Failed lists the outcomes that failed.
func (r *Report) Failed() []*Outcome {
	var out []*Outcome
	for _, o := range r.Outcomes {
		if o.State == string(dag.Failed) {
			out = append(out, o)
		}
	}
	return out
}

// Err summarises a run that did not complete: nil when every release is
// as planned.
func (r *Report) Err() error {
	failed := r.Failed()
	notRun := 0
	for _, o := range r.Outcomes {
		if o.State == string(dag.Skipped) || o.State == string(dag.NotRun) {
			notRun++
		}
	}
	switch {
	case len(failed) > 0:
		names := make([]string, len(failed))
		for i, o := range failed {
			names[i] = o.Release
		}
		msg := fmt.Sprintf("%d of %d releases failed (%s)", len(failed), len(r.Outcomes), strings.Join(names, ", "))
		if notRun > 0 {
			msg += fmt.Sprintf(", %d not run", notRun)
		}
		return errors.New(msg)
	case r.Interrupted:
		return context.Canceled
	case notRun > 0:
		return fmt.Errorf("%d releases not run", notRun)
	}
	return nil
}

type run struct {
	c    *Cluster
	opts ApplyOptions
	mu   sync.Mutex
	out  map[string]*Outcome
}

func (r *run) emit(e Event) {
	if r.opts.Events == nil {
		return
	}
	e.Time = time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opts.Events(e)
}

// Apply carries out a plan: uninstalls (reverse dependency order), then
// the changed charts' CRDs (server-side apply), then installs and upgrades
// in stage and needs order, independent releases in parallel. Unchanged
// releases are not touched. On ctx's end nothing new starts; running
// helm operations finish (bounded by Timeout) so no release is left
// pending. The ledger is written at the end.
func (c *Cluster) Apply(ctx context.Context, plan *Plan, opts ApplyOptions) (*Report, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.Retry.Attempts == 0 {
		opts.Retry = DefaultRetry
	}
	r := &run{c: c, opts: opts, out: map[string]*Outcome{}}
	report := &Report{}
	items := map[string]*Item{}
	var uninstalls, deploys []*Item
	for _, it := range plan.Items {
		o := &Outcome{Release: it.ID(), Chart: it.Release.Chart, ChartVersion: it.Release.ChartVersion, Action: it.Action, Reason: it.Reason}
		if it.Current != nil {
			o.Revision = it.Current.Version
		}
		r.out[it.ID()] = o
		report.Outcomes = append(report.Outcomes, o)
		items[it.ID()] = it
		switch it.Action {
		case ActionNone:
			o.State = StateUnchanged
		case ActionUninstall:
			uninstalls = append(uninstalls, it)
		default:
			deploys = append(deploys, it)
		}
	}
	dopts := dag.Options{Concurrency: opts.Concurrency, KeepGoing: opts.KeepGoing}
	stop := false
	if len(uninstalls) > 0 {
		res, err := dag.Run(ctx, Graph(uninstalls, true), dopts, func(ctx context.Context, id string) error {
			return r.uninstall(ctx, items[id])
		})
		if err != nil {
			return nil, err
		}
		stop = r.settle(res) && !opts.KeepGoing
	}
	if len(deploys) > 0 && !stop && ctx.Err() == nil {
		var crds []CRD
		for _, it := range deploys {
			crds = append(crds, it.CRDs...)
		}
		if err := r.crds(ctx, crds); err != nil {
			stop = true
			for _, it := range deploys {
				o := r.out[it.ID()]
				o.State, o.Err, o.Reason = string(dag.NotRun), err, "not started: CRDs failed"
			}
		}
	}
	if len(deploys) > 0 && !stop {
		res, err := dag.Run(ctx, Graph(deploys, false), dopts, func(ctx context.Context, id string) error {
			return r.deploy(ctx, items[id])
		})
		if err != nil {
			return nil, err
		}
		r.settle(res)
	}
	for _, o := range report.Outcomes {
		if o.State == "" {
			o.State, o.Reason = string(dag.NotRun), "not started: an earlier step failed"
			if ctx.Err() != nil {
				o.Reason = "not started: interrupted"
			}
		}
	}
	report.Interrupted = ctx.Err() != nil
	if err := r.writeLedger(context.WithoutCancel(ctx), plan); err != nil {
		report.Warnings = append(report.Warnings, "ledger not written: "+err.Error())
	}
	return report, nil
}

// settle records the results of a dag run; true when any failed.
func (r *run) settle(res []dag.Result) bool {
	failed := false
	for _, d := range res {
		o := r.out[d.ID]
		switch d.State {
		case dag.Skipped, dag.NotRun:
			o.State, o.Reason = string(d.State), d.Reason
			r.emit(Event{Release: d.ID, Action: string(o.Action), Phase: PhaseSkipped, Message: d.Reason})
		case dag.Failed:
			failed = true
		}
	}
	return failed
}

func (r *run) crds(ctx context.Context, crds []CRD) error {
	if len(crds) == 0 {
		return nil
	}
	start := time.Now()
	n, err := r.c.applyCRDs(context.WithoutCancel(ctx), crds, r.opts.Timeout)
	if err != nil {
		r.emit(Event{Action: "crds", Phase: PhaseFailed, Duration: time.Since(start), Message: err.Error()})
		return err
	}
	if n > 0 {
		r.emit(Event{Action: "crds", Phase: PhaseDone, Duration: time.Since(start), Message: fmt.Sprintf("%d CRDs created or updated", n)})
	}
	return nil
}

// deploy installs or upgrades one release, recovering it first if it is
// stuck, retrying transient errors.
func (r *run) deploy(ctx context.Context, it *Item) error {
	o := r.out[it.ID()]
	start := time.Now()
	r.emit(Event{Release: it.ID(), Action: string(it.Action), Phase: PhaseStart, Message: it.Reason})
	rel, err := r.deployRelease(ctx, it)
	o.Duration = time.Since(start)
	if err != nil {
		o.State, o.Err = string(dag.Failed), err
		if r.opts.RollbackOnFailure {
			if msg, rerr := r.c.undo(context.WithoutCancel(ctx), it, r.opts); rerr != nil {
				err = fmt.Errorf("%w; and %s failed: %v", err, msg, rerr)
			} else if msg != "" {
				r.emit(Event{Release: it.ID(), Action: "rollback", Phase: PhaseInfo, Message: msg})
			}
		}
		o.Err = err
		r.emit(Event{Release: it.ID(), Action: string(it.Action), Phase: PhaseFailed, Duration: o.Duration, Message: err.Error()})
		return err
	}
	o.State, o.Revision = string(dag.Done), rel.Version
	r.emit(Event{Release: it.ID(), Action: string(it.Action), Phase: PhaseDone, Revision: rel.Version, Duration: o.Duration})
	return nil
}

func (r *run) deployRelease(ctx context.Context, it *Item) (*release.Release, error) {
	hctx := context.WithoutCancel(ctx)
	cfg, err := r.c.actionConfig(it.Release.Namespace)
	if err != nil {
		return nil, err
	}
	if it.Recover != "" {
		msg, err := r.c.recover(hctx, cfg, it, r.opts)
		if err != nil {
			return nil, fmt.Errorf("recover: %w", err)
		}
		if msg != "" {
			r.emit(Event{Release: it.ID(), Action: "recover", Phase: PhaseInfo, Message: msg})
		}
	}
	var rel *release.Release
	err = Retry(ctx, r.opts.Retry, func() error {
		ch, err := loader.Load(it.Release.ChartPath)
		if err != nil {
			return fmt.Errorf("load chart %s: %w", it.Release.Chart, err)
		}
		rel, err = r.c.installOrUpgrade(hctx, cfg, it, ch, r.opts)
		return err
	}, func(attempt int, err error, wait time.Duration) {
		r.emit(Event{Release: it.ID(), Action: string(it.Action), Phase: PhaseRetry, Message: fmt.Sprintf("attempt %d failed (%v); retrying in %s", attempt, err, wait)})
	})
	return rel, err
}

// installOrUpgrade installs the release when it has no live revision,
// else upgrades it, as `helm upgrade --install` does.
func (c *Cluster) installOrUpgrade(ctx context.Context, cfg *action.Configuration, it *Item, ch *chart.Chart, opts ApplyOptions) (*release.Release, error) {
	r := it.Release
	last, err := cfg.Releases.Last(r.Name)
	if err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, err
	}
	labels := map[string]string{FingerprintLabel: it.Fingerprint}
	values := copyValues(r.Values)
	tctx, cancel := context.WithTimeout(ctx, opts.Timeout+30*time.Second)
	defer cancel()
	if last == nil || last.Info.Status == release.StatusUninstalled {
		in := action.NewInstall(cfg)
		in.ReleaseName, in.Namespace = r.Name, r.Namespace
		in.Replace = last != nil
		in.Timeout, in.Wait = opts.Timeout, opts.Wait
		in.SkipCRDs = true // applied before, server-side
		in.Labels = labels
		in.PostRenderer = keepNamespacesRenderer{}
		in.Description = "Install complete (otomi)"
		return in.RunWithContext(tctx, ch, values)
	}
	up := action.NewUpgrade(cfg)
	up.Namespace = r.Namespace
	up.Timeout, up.Wait = opts.Timeout, opts.Wait
	up.ResetValues = true // the values repo says it all
	up.MaxHistory = 10
	up.SkipCRDs = true
	up.Labels = labels
	up.PostRenderer = keepNamespacesRenderer{}
	return up.RunWithContext(tctx, r.Name, ch, values)
}

// recover unsticks a release a killed run left pending: the stuck
// revision is marked failed, then the release is rolled back to its last
// deployed revision, or uninstalled if it never deployed.
func (c *Cluster) recover(ctx context.Context, cfg *action.Configuration, it *Item, opts ApplyOptions) (string, error) {
	name := it.Release.Name
	hist, err := c.history(ctx, it.Release.Namespace, name)
	if err != nil || len(hist) == 0 {
		return "", err
	}
	last := hist[len(hist)-1]
	status := last.Info.Status
	if !status.IsPending() && status != release.StatusUninstalling {
		return "", nil // someone else recovered it
	}
	since := ""
	if !last.Info.LastDeployed.IsZero() {
		since = " since " + last.Info.LastDeployed.UTC().Format(time.RFC3339)
	}
	deployed := lastDeployed(hist)
	if deployed == nil || status == release.StatusUninstalling {
		un := action.NewUninstall(cfg)
		un.Timeout = opts.Timeout
		un.IgnoreNotFound = true
		if _, err := un.Run(name); err != nil {
			return "", fmt.Errorf("uninstall stuck release: %w", err)
		}
		return fmt.Sprintf("was stuck %s (revision %d%s) and never deployed: uninstalled", status, last.Version, since), nil
	}
	last.SetStatus(release.StatusFailed, fmt.Sprintf("interrupted while %s; recovered by otomi", status))
	if err := cfg.Releases.Update(last); err != nil {
		return "", fmt.Errorf("mark revision %d failed: %w", last.Version, err)
	}
	rb := action.NewRollback(cfg)
	rb.Version = deployed.Version
	rb.Timeout = opts.Timeout
	rb.MaxHistory = 10
	if err := rb.Run(name); err != nil {
		return "", fmt.Errorf("roll back to revision %d: %w", deployed.Version, err)
	}
	return fmt.Sprintf("was stuck %s (revision %d%s): rolled back to revision %d", status, last.Version, since, deployed.Version), nil
}

// undo is --rollback-on-failure: roll a failed upgrade back to the last
// deployed revision, uninstall a failed install. It says what it did.
func (c *Cluster) undo(ctx context.Context, it *Item, opts ApplyOptions) (string, error) {
	cfg, err := c.actionConfig(it.Release.Namespace)
	if err != nil {
		return "rollback", err
	}
	hist, err := c.history(ctx, it.Release.Namespace, it.Release.Name)
	if err != nil || len(hist) == 0 {
		return "rollback", err
	}
	if d := lastDeployed(hist[:len(hist)-1]); d != nil && hist[len(hist)-1].Info.Status != release.StatusDeployed {
		rb := action.NewRollback(cfg)
		rb.Version, rb.Timeout, rb.MaxHistory = d.Version, opts.Timeout, 10
		return fmt.Sprintf("rolled back to revision %d", d.Version), rb.Run(it.Release.Name)
	}
	if lastDeployed(hist) == nil {
		un := action.NewUninstall(cfg)
		un.Timeout, un.IgnoreNotFound = opts.Timeout, true
		_, err := un.Run(it.Release.Name)
		return "uninstalled the failed install", err
	}
	return "", nil
}

// uninstall removes one release (its namespaces stay: they carry helm's
// keep policy).
func (r *run) uninstall(ctx context.Context, it *Item) error {
	o := r.out[it.ID()]
	start := time.Now()
	r.emit(Event{Release: it.ID(), Action: string(ActionUninstall), Phase: PhaseStart, Message: it.Reason})
	err := r.c.uninstall(ctx, it.Release.Namespace, it.Release.Name, r.opts)
	o.Duration = time.Since(start)
	if err != nil {
		o.State, o.Err = string(dag.Failed), err
		r.emit(Event{Release: it.ID(), Action: string(ActionUninstall), Phase: PhaseFailed, Duration: o.Duration, Message: err.Error()})
		return err
	}
	o.State, o.Revision = string(dag.Done), 0
	r.emit(Event{Release: it.ID(), Action: string(ActionUninstall), Phase: PhaseDone, Duration: o.Duration})
	return nil
}

func (c *Cluster) uninstall(ctx context.Context, ns, name string, opts ApplyOptions) error {
	cfg, err := c.actionConfig(ns)
	if err != nil {
		return err
	}
	return Retry(ctx, opts.Retry, func() error {
		un := action.NewUninstall(cfg)
		un.Timeout, un.Wait, un.IgnoreNotFound = opts.Timeout, opts.Wait, true
		_, err := un.Run(name)
		return err
	}, nil)
}

// writeLedger records the releases this run changed, and those it left
// unchanged that the ledger does not know yet.
func (r *run) writeLedger(ctx context.Context, plan *Plan) error {
	var set, ifAbsent []LedgerEntry
	var remove []string
	now := time.Now().UTC().Truncate(time.Second)
	for _, it := range plan.Items {
		o := r.out[it.ID()]
		e := LedgerEntry{Release: it.Release.Name, Namespace: it.Release.Namespace, Chart: it.Release.Chart, ChartVersion: it.Release.ChartVersion,
			Action: string(o.Action), Time: now, By: r.opts.Actor, OtomiVersion: r.opts.Version, Fingerprint: it.Fingerprint, Revision: o.Revision,
			Helmfile: r.opts.Helmfile}
		switch {
		case o.Action == ActionUninstall && o.State == string(dag.Done):
			remove = append(remove, it.ID())
		case o.State == string(dag.Done):
			e.State = string(release.StatusDeployed)
			set = append(set, e)
		case o.State == string(dag.Failed):
			e.State = string(release.StatusFailed)
			set = append(set, e)
		case o.State == StateUnchanged && it.Current != nil:
			e.State, e.Action = string(it.Current.Info.Status), ""
			e.Time = it.Current.Info.LastDeployed.Time.UTC().Truncate(time.Second)
			e.By = ""
			ifAbsent = append(ifAbsent, e)
		}
	}
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return r.c.updateLedger(lctx, set, ifAbsent, remove)
}

func copyValues(v map[string]any) map[string]any {
	out := make(map[string]any, len(v))
	for k, x := range v {
		out[k] = copyValue(x)
	}
	return out
}

func copyValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return copyValues(t)
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = copyValue(x)
		}
		return out
	}
	return v
}
