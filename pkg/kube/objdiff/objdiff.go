// Package objdiff compares two manifests object by object: which objects
// were added, removed or changed, with a unified diff of each changed
// object's YAML. Secret data never appears: only which keys changed.
package objdiff

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"sigs.k8s.io/yaml"
)

// Op is what happened to an object.
type Op string

const (
	Added   Op = "added"
	Removed Op = "removed"
	Changed Op = "changed"
)

// Object identifies a Kubernetes object.
type Object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

func (o Object) String() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// KeyChange is a Secret key that was added, removed or changed.
type KeyChange struct {
	Key string `json:"key"`
	Op  Op     `json:"op"`
}

// Change is one object that differs.
type Change struct {
	Object
	Op Op `json:"op"`
	// Diff is the unified diff of the object's YAML (keys sorted, Secret
	// values redacted), for Changed; empty when only Secret data changed.
	Diff string `json:"diff,omitempty"`
	// SecretKeys are the data/stringData keys of a Secret that changed.
	SecretKeys []KeyChange `json:"secretKeys,omitempty"`
}

// Redacted replaces every Secret value in output.
const Redacted = "<redacted>"

type parsed struct {
	Object
	raw map[string]any
}

// Compare returns the objects that differ between the old and the new
// manifest (YAML streams), new ones in the new manifest's order first,
// then the removed ones in the old manifest's order.
func Compare(oldManifest, newManifest string) ([]Change, error) {
	olds, err := parse(oldManifest)
	if err != nil {
		return nil, fmt.Errorf("old manifest: %w", err)
	}
	news, err := parse(newManifest)
	if err != nil {
		return nil, fmt.Errorf("new manifest: %w", err)
	}
	oldBy := map[string]parsed{}
	for _, o := range olds {
		oldBy[key(o.Object)] = o
	}
	newKeys := map[string]bool{}
	var out []Change
	for _, n := range news {
		k := key(n.Object)
		newKeys[k] = true
		o, ok := oldBy[k]
		if !ok {
			out = append(out, Change{Object: n.Object, Op: Added})
			continue
		}
		if c, changed := compareObject(o, n); changed {
			out = append(out, c)
		}
	}
	for _, o := range olds {
		if !newKeys[key(o.Object)] {
			out = append(out, Change{Object: o.Object, Op: Removed})
		}
	}
	return out, nil
}

// Objects lists the objects of a manifest.
func Objects(manifest string) ([]Object, error) {
	ps, err := parse(manifest)
	if err != nil {
		return nil, err
	}
	out := make([]Object, len(ps))
	for i, p := range ps {
		out[i] = p.Object
	}
	return out, nil
}

func compareObject(o, n parsed) (Change, bool) {
	c := Change{Object: n.Object, Op: Changed}
	if isSecret(n.Object) || isSecret(o.Object) {
		c.SecretKeys = secretKeys(o.raw, n.raw)
	}
	a, b := render(o), render(n)
	if a != b {
		d, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: difflib.SplitLines(strings.TrimSuffix(a, "\n")), B: difflib.SplitLines(strings.TrimSuffix(b, "\n")),
			FromFile: "live", ToFile: "values repo", Context: 3,
		})
		c.Diff = d
	}
	return c, c.Diff != "" || len(c.SecretKeys) > 0
}

// render is an object's YAML with sorted keys and Secret values redacted.
func render(p parsed) string {
	obj := p.raw
	if isSecret(p.Object) {
		obj = redactSecret(obj)
	}
	b, err := yaml.Marshal(obj)
	if err != nil {
		return fmt.Sprint(obj)
	}
	return string(b)
}

func isSecret(o Object) bool { return o.Kind == "Secret" && o.APIVersion == "v1" }

func redactSecret(obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		out[k] = v
	}
	for _, field := range []string{"data", "stringData"} {
		m, ok := obj[field].(map[string]any)
		if !ok {
			continue
		}
		r := make(map[string]any, len(m))
		for k := range m {
			r[k] = Redacted
		}
		out[field] = r
	}
	return out
}

// secretKeys compares the data and stringData of two Secrets.
func secretKeys(o, n map[string]any) []KeyChange {
	var out []KeyChange
	for _, field := range []string{"data", "stringData"} {
		om, _ := o[field].(map[string]any)
		nm, _ := n[field].(map[string]any)
		prefix := ""
		if field == "stringData" {
			prefix = "stringData."
		}
		for k, nv := range nm {
			ov, ok := om[k]
			switch {
			case !ok:
				out = append(out, KeyChange{Key: prefix + k, Op: Added})
			case fmt.Sprint(ov) != fmt.Sprint(nv):
				out = append(out, KeyChange{Key: prefix + k, Op: Changed})
			}
		}
		for k := range om {
			if _, ok := nm[k]; !ok {
				out = append(out, KeyChange{Key: prefix + k, Op: Removed})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func key(o Object) string {
	group := ""
	if i := strings.LastIndex(o.APIVersion, "/"); i >= 0 {
		group = o.APIVersion[:i]
	}
	return group + "|" + o.Kind + "|" + o.Namespace + "|" + o.Name
}

func parse(manifest string) ([]parsed, error) {
	var out []parsed
	for _, doc := range splitDocs(manifest) {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		p := parsed{raw: m}
		p.APIVersion, _ = m["apiVersion"].(string)
		p.Kind, _ = m["kind"].(string)
		if meta, ok := m["metadata"].(map[string]any); ok {
			p.Name, _ = meta["name"].(string)
			p.Namespace, _ = meta["namespace"].(string)
		}
		out = append(out, p)
	}
	return out, nil
}

func splitDocs(s string) []string {
	var docs []string
	var cur strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if strings.TrimRight(line, " \t\r\n") == "---" {
			docs = append(docs, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteString(line)
	}
	return append(docs, cur.String())
}
