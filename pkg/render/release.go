// Package render turns a helmfile (the platform's helmfile.d, or any other)
// into Kubernetes manifests, in process: helmfile's own library loads the
// state files, environments, selectors, needs and values templates; the helm
// SDK renders each chart. Values, secrets included, stay in memory.
package render

import (
	"fmt"
	"sort"
	"strings"
)

// Release is one helm release of a helmfile, as helmfile planned it, with
// its chart values rendered and merged.
type Release struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Chart     string            `json:"chart"`
	Version   string            `json:"version,omitempty"`
	Labels    map[string]string `json:"labels"`
	Needs     []string          `json:"needs,omitempty"`
	Installed bool              `json:"installed"`
	// StateFile is the helmfile state file that declares the release.
	StateFile string `json:"stateFile"`
	// ChartPath is the absolute path of the local chart.
	ChartPath string `json:"-"`
	// ChartVersion is the version in the chart's Chart.yaml.
	ChartVersion string `json:"chartVersion,omitempty"`

	// Values are the merged chart values (helm -f semantics, in order of
	// the release's values entries, then set entries). They may hold
	// secrets: never print or log them.
	Values map[string]any `json:"-"`

	kubeVersion string
	apiVersions []string
	order       int
}

// ID names the release as helmfile does in needs: namespace/name.
func (r *Release) ID() string {
	return r.Namespace + "/" + r.Name
}

// Team returns the release's team label, if any.
func (r *Release) Team() string { return r.Labels["team"] }

// Selector is a helmfile release selector: key=value or key!=value pairs,
// comma-separated (all must match); several selectors match any of them.
type Selector struct {
	raw   string
	terms []term
}

type term struct {
	key, value string
	negate     bool
}

// ParseSelector parses one -l argument.
func ParseSelector(s string) (Selector, error) {
	sel := Selector{raw: s}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var t term
		if k, v, ok := strings.Cut(part, "!="); ok {
			t = term{key: strings.TrimSpace(k), value: strings.TrimSpace(v), negate: true}
		} else if k, v, ok := strings.Cut(part, "="); ok {
			t = term{key: strings.TrimSpace(k), value: strings.TrimSpace(v)}
		} else {
			return sel, fmt.Errorf("selector %q: expected key=value or key!=value", s)
		}
		if t.key == "" {
			return sel, fmt.Errorf("selector %q: empty key", s)
		}
		sel.terms = append(sel.terms, t)
	}
	if len(sel.terms) == 0 {
		return sel, fmt.Errorf("selector %q is empty", s)
	}
	return sel, nil
}

func (s Selector) String() string { return s.raw }

// keys lists the label keys the selector uses.
func (s Selector) keys() []string {
	out := make([]string, len(s.terms))
	for i, t := range s.terms {
		out[i] = t.key
	}
	return out
}

// checkSelectorKeys reports selector keys that no release carries: a typo
// would otherwise select nothing, or everything with !=.
func checkSelectorKeys(sels []Selector, known map[string]bool) error {
	for _, s := range sels {
		for _, k := range s.keys() {
			if !known[k] {
				names := make([]string, 0, len(known))
				for n := range known {
					names = append(names, n)
				}
				sort.Strings(names)
				return fmt.Errorf("selector %q: no release has a label %q (labels: %s)", s.raw, k, strings.Join(names, ", "))
			}
		}
	}
	return nil
}
