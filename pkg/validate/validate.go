// Package validate checks rendered manifests offline, before they reach a
// cluster: against the Kubernetes API schemas of a minor (built in),
// against the schemas of the CRDs the platform ships, for removed and
// deprecated APIs, metadata syntax, and the platform's policies.
package validate

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/otomi/otomi/pkg/render"
	"github.com/otomi/otomi/pkg/schema"
)

// Severity of a finding: errors fail validation, warnings do not.
type Severity string

const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Finding is one problem with one rendered object.
type Finding struct {
	// KubeVersion is the minor the finding holds for ("" for findings
	// that do not depend on it, such as policies).
	KubeVersion string   `json:"kubeVersion,omitempty"`
	Release     string   `json:"release"`
	Source      string   `json:"source"`
	APIVersion  string   `json:"apiVersion,omitempty"`
	Kind        string   `json:"kind"`
	Namespace   string   `json:"namespace,omitempty"`
	Name        string   `json:"name"`
	Pointer     string   `json:"pointer"`
	Rule        string   `json:"rule"`
	Severity    Severity `json:"severity"`
	Message     string   `json:"message"`
}

// Object names the finding's object: kind namespace/name.
func (f Finding) Object() string {
	if f.Namespace == "" {
		return f.Kind + " " + f.Name
	}
	return f.Kind + " " + f.Namespace + "/" + f.Name
}

// ReleaseSummary counts one release's objects by outcome.
type ReleaseSummary struct {
	Release  string `json:"release"`
	Objects  int    `json:"objects"`
	Passed   int    `json:"passed"`
	Warnings int    `json:"warnings"`
	Errors   int    `json:"errors"`
}

// Report is the result of a check.
type Report struct {
	KubeVersions []string         `json:"kubeVersions"`
	Objects      int              `json:"objects"`
	Passed       int              `json:"passed"`
	Warnings     int              `json:"warnings"`
	Errors       int              `json:"errors"`
	Releases     []ReleaseSummary `json:"releases"`
	Findings     []Finding        `json:"findings"`
}

// CRDSource is a CustomResourceDefinition found outside the rendered
// manifests (a chart's crds/ folder), with where it was found.
type CRDSource struct {
	Source string
	Object map[string]any
}

// Options of a check.
type Options struct {
	// KubeVersions are the minors to check against ("1.35").
	KubeVersions []string
	// Policies to enforce, with their settings from the values.
	Policies []*Policy
	Settings PolicySettings
	// CRDs adds definitions beyond those in the manifests.
	CRDs []CRDSource
}

// Check validates every object of the manifests.
func Check(manifests []*render.Manifest, opts Options) (*Report, error) {
	if len(opts.KubeVersions) == 0 {
		return nil, errors.New("no Kubernetes version to check against")
	}
	kube := make([]*kubeSchemas, len(opts.KubeVersions))
	for i, v := range opts.KubeVersions {
		ks, err := kubernetesSchemas(v)
		if err != nil {
			return nil, err
		}
		kube[i] = ks
	}
	crds := newCRDIndex()
	for _, c := range opts.CRDs {
		if err := crds.add(c.Object, c.Source); err != nil {
			return nil, err
		}
	}
	for _, m := range manifests {
		for _, o := range m.Objects {
			if o.Kind == "CustomResourceDefinition" && strings.HasPrefix(o.APIVersion, "apiextensions.k8s.io/") {
				if err := crds.add(o.Body, o.Source); err != nil {
					return nil, err
				}
			}
		}
	}

	r := &Report{KubeVersions: opts.KubeVersions}
	structural := map[*render.Object][]render.StructureProblem{}
	for _, p := range render.CheckStructure(manifests) {
		structural[p.Object] = append(structural[p.Object], p)
	}
	for _, m := range manifests {
		sum := ReleaseSummary{Release: m.Release.Name}
		for _, o := range m.Objects {
			var found []Finding
			add := func(kv, ptr, rule string, sev Severity, msg string) {
				found = append(found, Finding{KubeVersion: kv, Release: m.Release.Name, Source: o.Source, APIVersion: o.APIVersion,
					Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, Pointer: ptr, Rule: rule, Severity: sev, Message: msg})
			}
			for _, p := range structural[o] {
				sev := Error
				if p.Rule == "scope" {
					// The API server ignores it; it only misleads readers.
					sev = Warning
				}
				add("", "", p.Rule, sev, p.Message)
			}
			if o.APIVersion != "" && o.Kind != "" {
				for _, ks := range kube {
					if err := checkAPI(ks, crds, o, add); err != nil {
						return nil, err
					}
				}
				_, builtin := kube[0].gvks[o.APIVersion+"/"+o.Kind]
				for _, v := range metaProblems(o.Kind, builtin, o.Body) {
					add("", v.ptr, "metadata", Error, v.message)
				}
				for _, v := range semanticProblems(o.APIVersion, o.Kind, o.Body) {
					add("", v.ptr, "semantic", Error, v.message)
				}
				for _, p := range opts.Policies {
					action, params := opts.Settings.settingsFor(p, o.Namespace)
					if action == Off {
						continue
					}
					vs, err := p.evaluate(o.Body, params)
					if err != nil {
						return nil, fmt.Errorf("release %s, %s %s: %w", m.Release.Name, o.Kind, o.Name, err)
					}
					sev := Warning
					if action == Enforce {
						sev = Error
					}
					for _, v := range vs {
						add("", v.ptr, "policy/"+p.Name, sev, v.message+" ("+p.Description+")")
					}
				}
			}
			sum.Objects++
			errs, warns := 0, 0
			for _, f := range found {
				if f.Severity == Error {
					errs++
				} else {
					warns++
				}
			}
			switch {
			case errs > 0:
				sum.Errors++
			case warns > 0:
				sum.Warnings++
				sum.Passed++
			default:
				sum.Passed++
			}
			r.Findings = append(r.Findings, found...)
		}
		r.Releases = append(r.Releases, sum)
		r.Objects += sum.Objects
		r.Passed += sum.Passed
		r.Errors += sum.Errors
		r.Warnings += sum.Warnings
	}
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if a.Severity != b.Severity {
			return a.Severity == Error
		}
		return false
	})
	return r, nil
}

// checkAPI validates an object against the API of one minor.
func checkAPI(ks *kubeSchemas, crds *crdIndex, o *render.Object, add func(kv, ptr, rule string, sev Severity, msg string)) error {
	kv := ks.minor
	if c, removed, deprecated := apiChangeFor(o.APIVersion, o.Kind, kv); removed {
		add(kv, "/apiVersion", "removed-api", Error, fmt.Sprintf("%s %s was removed in Kubernetes %s; use %s", o.APIVersion, o.Kind, c.removedIn, c.replacement))
		return nil
	} else if deprecated {
		msg := fmt.Sprintf("%s %s is deprecated since Kubernetes %s", o.APIVersion, o.Kind, c.deprecatedIn)
		if c.removedIn != "" {
			msg += fmt.Sprintf(" and removed in %s", c.removedIn)
		}
		add(kv, "/apiVersion", "deprecated-api", Warning, msg+"; use "+c.replacement)
	}
	sch, err := ks.schemaFor(o.APIVersion, o.Kind)
	if err != nil {
		return err
	}
	if sch == nil {
		cv := crds.lookup(o.APIVersion, o.Kind)
		if cv == nil {
			if ks.servesGroupVersion(o.APIVersion) {
				add(kv, "/kind", "unknown-kind", Error, fmt.Sprintf("Kubernetes %s has no kind %s in %s", kv, o.Kind, o.APIVersion))
			} else {
				add(kv, "/apiVersion", "unknown-kind", Error, fmt.Sprintf("no schema knows %s %s: neither Kubernetes %s nor a CRD of the platform defines it", o.APIVersion, o.Kind, kv))
			}
			return nil
		}
		if !cv.served {
			add(kv, "/apiVersion", "unknown-kind", Error, fmt.Sprintf("the CRD of %s (%s) does not serve version %s", o.Kind, cv.source, cv.version))
			return nil
		}
		if cv.deprecated {
			add(kv, "/apiVersion", "deprecated-api", Warning, fmt.Sprintf("%s %s is deprecated by its CRD: %s", o.APIVersion, o.Kind, cv.warning))
		}
		if sch, err = cv.compileSchema(); err != nil {
			return err
		}
	}
	verr := sch.Validate(any(o.Body))
	if verr == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(verr, &ve) {
		return verr
	}
	x := schema.Explainer{
		Value: func(ptr string) (any, bool) { return lookup(o.Body, ptr) },
		Secret: func(ptr string) bool {
			return o.Kind == "Secret" && (strings.HasPrefix(ptr, "/data") || strings.HasPrefix(ptr, "/stringData"))
		},
	}
	for _, e := range x.Explain(ve) {
		msg := strings.Replace(e.Message, "a string matching "+QuantityPattern, "a quantity such as 100m, 2 or 1Gi", 1)
		add(kv, e.Pointer, "schema/"+e.Rule, Error, msg)
	}
	return nil
}

func lookup(v any, ptr string) (any, bool) {
	cur := v
	if ptr == "" {
		return cur, true
	}
	for _, seg := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		switch t := cur.(type) {
		case map[string]any:
			next, ok := t[seg]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			var i int
			if _, err := fmt.Sscanf(seg, "%d", &i); err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			cur = t[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
