package schema

import (
	"github.com/otomi/otomi/pkg/values"
)

// ApplyDefaults fills in the schema's defaults where the values leave a
// property unset: a property with a default gets a copy of it, and an
// object property without one is created when something below it has a
// default. Defaults reach into every team, app and list item the values
// have. Each default's origin is its line in the schema.
func (s *Schema) ApplyDefaults(v *values.Values) {
	s.fill(v, v.Tree, s.expand(s.root()), "", 0)
}

func (s *Schema) fill(v *values.Values, obj map[string]any, nodes []node, ptr string, depth int) {
	if depth > 40 {
		return
	}
	for _, n := range nodes {
		props, _ := n.m["properties"].(map[string]any)
		for key := range props {
			if _, set := obj[key]; set {
				continue
			}
			sub := s.child([]node{n}, key)
			p := values.Join(ptr, key)
			if d, ok := defaultOf(sub); ok {
				obj[key] = values.DeepCopy(d.m["default"])
				o := s.origins[values.Join(d.ptr, "default")]
				o.Default = true
				v.Origins[p] = o
				continue
			}
			if isObject(sub) && s.hasDefaults(sub, depth+1) {
				child := map[string]any{}
				s.fill(v, child, sub, p, depth+1)
				if len(child) > 0 && satisfiesRequired(sub, child) {
					obj[key] = child
					o := s.origins[sub[0].ptr]
					o.Default = true
					v.Origins[p] = o
				}
			}
		}
	}
	for key, val := range obj {
		p := values.Join(ptr, key)
		switch t := val.(type) {
		case map[string]any:
			if sub := s.child(nodes, key); len(sub) > 0 {
				s.fill(v, t, sub, p, depth+1)
			}
		case []any:
			items := s.child(s.child(nodes, key), "0")
			if len(items) == 0 {
				continue
			}
			for i, item := range t {
				if m, ok := item.(map[string]any); ok {
					s.fill(v, m, items, values.JoinIndex(p, i), depth+1)
				}
			}
		}
	}
}

// satisfiesRequired reports whether obj has every property the schemas
// require: an object made of defaults alone must not invent an invalid one.
func satisfiesRequired(nodes []node, obj map[string]any) bool {
	for _, n := range nodes {
		req, _ := n.m["required"].([]any)
		for _, r := range req {
			if name, ok := r.(string); ok {
				if _, set := obj[name]; !set {
					return false
				}
			}
		}
	}
	return true
}

func defaultOf(nodes []node) (node, bool) {
	for _, n := range nodes {
		if _, ok := n.m["default"]; ok {
			return n, true
		}
	}
	return node{}, false
}

func isObject(nodes []node) bool {
	for _, n := range nodes {
		if t, _ := n.m["type"].(string); t == "object" {
			return true
		}
		if _, ok := n.m["properties"]; ok {
			return true
		}
	}
	return false
}

// hasDefaults reports whether a default sits somewhere in the declared
// properties below nodes.
func (s *Schema) hasDefaults(nodes []node, depth int) bool {
	if depth > 40 {
		return false
	}
	for _, n := range nodes {
		props, _ := n.m["properties"].(map[string]any)
		for key := range props {
			sub := s.child([]node{n}, key)
			if _, ok := defaultOf(sub); ok {
				return true
			}
			if isObject(sub) && s.hasDefaults(sub, depth+1) {
				return true
			}
		}
	}
	return false
}
