package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// The ledger: a ConfigMap apply writes after each run, one key per
// release, so that what was deployed by whom survives partial,
// label-selected runs.
const (
	LedgerNamespace = "otomi"
	LedgerName      = "otomi-status"
)

// ErrNoLedgerNamespace says the ledger's namespace does not exist (yet).
var ErrNoLedgerNamespace = errors.New("namespace " + LedgerNamespace + " does not exist")

// LedgerEntry is what the ledger knows of one release.
type LedgerEntry struct {
	Release      string    `json:"release"`
	Namespace    string    `json:"namespace"`
	Chart        string    `json:"chart,omitempty"`
	ChartVersion string    `json:"chartVersion,omitempty"`
	AppVersion   string    `json:"appVersion,omitempty"`
	Revision     int       `json:"revision,omitempty"`
	State        string    `json:"state"`
	Action       string    `json:"action,omitempty"`
	Time         time.Time `json:"time"`
	By           string    `json:"by,omitempty"`
	OtomiVersion string    `json:"otomiVersion,omitempty"`
	Fingerprint  string    `json:"fingerprint,omitempty"`
	// Helmfile is the helmfile a release came from when it was not the
	// platform's (apply -f); pruning leaves those alone.
	Helmfile string `json:"helmfile,omitempty"`
}

// ledgerKey is a ConfigMap key for a release: "<namespace>.<name>"
// (namespaces hold no dots, so the first dot separates).
func ledgerKey(ns, name string) string { return ns + "." + name }

// ReadLedger returns the ledger's entries by namespace/name (empty when
// there is no ledger).
func (c *Cluster) ReadLedger(ctx context.Context) (map[string]LedgerEntry, error) {
	cm, err := c.clientset.CoreV1().ConfigMaps(LedgerNamespace).Get(ctx, LedgerName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return map[string]LedgerEntry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read ledger %s/%s: %w", LedgerNamespace, LedgerName, err)
	}
	out := map[string]LedgerEntry{}
	for k, v := range cm.Data {
		var e LedgerEntry
		if err := json.Unmarshal([]byte(v), &e); err != nil {
			continue // a key someone else wrote
		}
		ns, name, _ := strings.Cut(k, ".")
		out[ns+"/"+name] = e
	}
	return out, nil
}

// updateLedger records entries (replacing those of the same releases),
// adds ifAbsent entries for releases the ledger does not know, and removes
// the releases named in remove (namespace/name).
func (c *Cluster) updateLedger(ctx context.Context, entries, ifAbsent []LedgerEntry, remove []string) error {
	if len(entries) == 0 && len(remove) == 0 && len(ifAbsent) == 0 {
		return nil
	}
	sort.Slice(entries, func(i, j int) bool {
		return entries[i].Namespace+entries[i].Release < entries[j].Namespace+entries[j].Release
	})
	cms := c.clientset.CoreV1().ConfigMaps(LedgerNamespace)
	return retry.OnError(retry.DefaultBackoff, IsTransient, func() error {
		cm, err := cms.Get(ctx, LedgerName, metav1.GetOptions{})
		create := apierrors.IsNotFound(err)
		if err != nil && !create {
			return err
		}
		if create {
			if len(entries) == 0 && len(ifAbsent) == 0 {
				return nil
			}
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
				Name: LedgerName, Namespace: LedgerNamespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "otomi"},
			}}
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		before := fmt.Sprint(cm.Data)
		for _, e := range ifAbsent {
			if _, ok := cm.Data[ledgerKey(e.Namespace, e.Release)]; ok {
				continue
			}
			b, err := json.Marshal(e)
			if err != nil {
				return err
			}
			cm.Data[ledgerKey(e.Namespace, e.Release)] = string(b)
		}
		for _, e := range entries {
			b, err := json.Marshal(e)
			if err != nil {
				return err
			}
			cm.Data[ledgerKey(e.Namespace, e.Release)] = string(b)
		}
		for _, id := range remove {
			ns, name, _ := strings.Cut(id, "/")
			delete(cm.Data, ledgerKey(ns, name))
		}
		if create {
			_, err = cms.Create(ctx, cm, metav1.CreateOptions{FieldManager: FieldManager})
			if apierrors.IsNotFound(err) {
				return ErrNoLedgerNamespace
			}
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(corev1.Resource("configmaps"), LedgerName, err)
			}
			return err
		}
		if fmt.Sprint(cm.Data) == before {
			return nil // nothing new: a no-change run writes nothing
		}
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: FieldManager})
		return err
	})
}
