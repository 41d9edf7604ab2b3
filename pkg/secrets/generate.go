package secrets

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/Masterminds/sprig/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/otomi/otomi/pkg/schema"
	"github.com/otomi/otomi/pkg/values"
)

// Generator renders the x-secret templates of the schema.
type Generator struct {
	Schema *schema.Schema
	// Given are the pointers the user provided in this run: never replaced.
	Given map[string]bool
}

// Generated is a secret leaf rendered by a template.
type Generated struct {
	Pointer string
	// Derived is true for a template that reads other values.
	Derived bool
}

// Generate fills in every x-secret leaf that has a template and no value:
// the template is rendered once (sprig functions, as in helm) and the value
// is stored from then on. Precedence: the user's value in this run, then
// the value stored in the repo, then a new one. A template that reads other
// values (a derived value, such as a bcrypt hash of a password) is rendered
// again on every run, but its bcrypt and htpasswd functions return the
// stored hash while it still matches, so nothing changes until its source
// does. Leaves of a disabled app are left out.
func (g *Generator) Generate(fr values.Fragments) ([]Generated, error) {
	var out []Generated
	leaves := g.Schema.SecretLeaves()
	for _, pass := range []bool{false, true} {
		tree := fr.Tree()
		data := values.DeepCopy(tree).(map[string]any)
		g.Schema.ApplyDefaults(&values.Values{Tree: data, Origins: map[string]values.Origin{}})
		for _, leaf := range leaves {
			if leaf.Template == "" {
				continue
			}
			tmpl, err := template.New(leaf.Pattern).Funcs(templateFuncs()).Option("missingkey=zero").Parse(leaf.Template)
			if err != nil {
				return nil, fmt.Errorf("x-secret template of %s: %w", leaf.Pattern, err)
			}
			if derived := readsValues(tmpl.Tree); derived != pass {
				continue
			}
			for _, ptr := range expandPattern(data, leaf.Pattern) {
				if !appEnabled(data, ptr) {
					continue
				}
				cur, set := values.Get(tree, ptr)
				set = set && cur != nil && cur != ""
				if set && (!pass || g.Given[ptr]) {
					continue
				}
				val, err := render(tmpl, data, ptr, cur)
				if err != nil {
					return nil, fmt.Errorf("generate %s: %w", ptr, err)
				}
				if set && val == cur {
					continue
				}
				if err := fr.Put(ptr, val, g.Schema.IsSecret); err != nil {
					return nil, err
				}
				setIn(data, ptr, val)
				out = append(out, Generated{Pointer: ptr, Derived: pass})
			}
		}
	}
	return out, nil
}

// templateFuncs are helm's template functions (sprig) and sibling.
func templateFuncs() template.FuncMap {
	f := sprig.TxtFuncMap()
	f["sibling"] = func(string) any { return nil }
	return f
}

// render executes a secret's template. Its data is the values tree with
// defaults; sibling NAME reads a key beside the leaf; bcrypt and htpasswd
// keep the stored hash cur while it matches.
func render(tmpl *template.Template, data map[string]any, ptr string, cur any) (string, error) {
	stored, _ := cur.(string)
	parent, _ := values.Get(data, values.Parent(ptr))
	funcs := template.FuncMap{
		"sibling": func(name string) any {
			if m, ok := parent.(map[string]any); ok {
				return m[name]
			}
			return nil
		},
		"bcrypt": func(pw string) string {
			if strings.HasPrefix(stored, "$2") && bcrypt.CompareHashAndPassword([]byte(stored), []byte(pw)) == nil {
				return stored
			}
			return sprig.TxtFuncMap()["bcrypt"].(func(string) string)(pw)
		},
		"htpasswd": func(user, pw string) string {
			if u, hash, ok := strings.Cut(stored, ":"); ok && u == user && bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil {
				return stored
			}
			return sprig.TxtFuncMap()["htpasswd"].(func(string, string) string)(user, pw)
		},
	}
	t, err := tmpl.Clone()
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := t.Funcs(funcs).Execute(&buf, data); err != nil {
		// Template errors may quote values: keep only the template's own words.
		msg := err.Error()
		if i := strings.IndexAny(msg, "\"`"); i >= 0 {
			msg = msg[:i] + "<redacted>"
		}
		return "", fmt.Errorf("x-secret template: %s", msg)
	}
	val := buf.String()
	if val == "" {
		return "", fmt.Errorf("x-secret template rendered an empty value")
	}
	return val, nil
}

// readsValues reports whether a template reads the values tree (a field, a
// variable, dot or sibling), which makes its result derived.
func readsValues(t *parse.Tree) bool {
	found := false
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		if n == nil || found {
			return
		}
		switch x := n.(type) {
		case *parse.ListNode:
			if x == nil {
				return
			}
			for _, c := range x.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(x.Pipe)
		case *parse.PipeNode:
			if x == nil {
				return
			}
			for _, c := range x.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for _, a := range x.Args {
				walk(a)
			}
		case *parse.FieldNode, *parse.DotNode, *parse.VariableNode, *parse.ChainNode:
			found = true
		case *parse.IdentifierNode:
			if x.Ident == "sibling" {
				found = true
			}
		case *parse.IfNode:
			walk(x.Pipe)
			walk(x.List)
			walk(x.ElseList)
		case *parse.RangeNode:
			walk(x.Pipe)
			walk(x.List)
			walk(x.ElseList)
		case *parse.WithNode:
			walk(x.Pipe)
			walk(x.List)
			walk(x.ElseList)
		}
	}
	walk(t.Root)
	return found
}

// expandPattern returns the pointers a pattern with "*" segments names in
// tree: every segment but the last must exist; "*" stands for each key (or
// list index) present.
func expandPattern(tree any, pattern string) []string {
	var out []string
	var walk func(node any, segs []string, ptr string)
	walk = func(node any, segs []string, ptr string) {
		seg := segs[0]
		keys := []string{seg}
		if seg == "*" {
			keys = childKeys(node)
		}
		for _, k := range keys {
			p := values.Join(ptr, k)
			if len(segs) == 1 {
				if _, isMap := node.(map[string]any); isMap {
					out = append(out, p)
				}
				continue
			}
			child, ok := values.Get(node, values.Pointer(k))
			if !ok {
				continue
			}
			walk(child, segs[1:], p)
		}
	}
	segs := values.Split(pattern)
	if len(segs) > 0 {
		walk(tree, segs, "")
	}
	sort.Strings(out)
	return out
}

func childKeys(node any) []string {
	var out []string
	switch t := node.(type) {
	case map[string]any:
		for k := range t {
			out = append(out, k)
		}
		sort.Strings(out)
	case []any:
		for i := range t {
			out = append(out, strconv.Itoa(i))
		}
	}
	return out
}

// appEnabled is false for a leaf of an app that is switched off.
func appEnabled(tree map[string]any, ptr string) bool {
	segs := values.Split(ptr)
	if len(segs) < 3 || segs[0] != "apps" {
		return true
	}
	enabled, ok := values.Get(tree, values.Pointer("apps", segs[1], "enabled"))
	return !ok || enabled != false
}

// setIn stores val at ptr in tree, creating maps on the way.
func setIn(tree map[string]any, ptr string, val any) {
	segs := values.Split(ptr)
	m := tree
	for _, s := range segs[:len(segs)-1] {
		next, ok := m[s].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[s] = next
		}
		m = next
	}
	m[segs[len(segs)-1]] = val
}
