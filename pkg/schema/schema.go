// Package schema compiles values-schema.yaml and checks a values tree
// against it: JSON Schema validation with located, readable problems,
// schema defaults, and the x-secret marks that say which leaves are secret.
package schema

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/otomi/otomi/pkg/values"
)

// FileName is the name of the schema file at the root of the otomi repo.
const FileName = "values-schema.yaml"

const resourceURL = "file:///otomi/" + FileName

// Schema is a compiled values schema.
type Schema struct {
	doc      map[string]any
	origins  map[string]values.Origin
	compiled *jsonschema.Schema
	patterns map[string]*regexp.Regexp
}

// Load parses and compiles a values schema written in YAML. name is used
// in messages and as the origin of defaults.
func Load(name string, data []byte) (*Schema, error) {
	doc, origins, problems := values.ParseYAML(name, data)
	if len(problems) > 0 {
		return nil, fmt.Errorf("schema %s", problems.Error())
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	if err := c.AddResource(resourceURL, doc); err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	compiled, err := c.Compile(resourceURL)
	if err != nil {
		return nil, fmt.Errorf("schema %s is not a valid JSON schema: %v", name, err)
	}
	return &Schema{doc: doc, origins: origins, compiled: compiled, patterns: map[string]*regexp.Regexp{}}, nil
}

// node is one (sub)schema as a raw map, with its pointer in the schema doc.
type node struct {
	ptr string
	m   map[string]any
}

func (s *Schema) root() node { return node{ptr: "", m: s.doc} }

// lookup returns the schema node at a pointer of the schema document.
func (s *Schema) lookup(ptr string) (node, bool) {
	v, ok := values.Get(s.doc, ptr)
	m, isMap := v.(map[string]any)
	return node{ptr: ptr, m: m}, ok && isMap
}

// expand follows $ref and the branches of allOf/anyOf/oneOf, returning
// every schema that applies to the same instance.
func (s *Schema) expand(n node) []node {
	var out []node
	var walk func(n node, depth int)
	walk = func(n node, depth int) {
		if n.m == nil || depth > 32 {
			return
		}
		if ref, ok := n.m["$ref"].(string); ok {
			if t, ok := s.lookup(strings.TrimPrefix(ref, "#")); ok && strings.HasPrefix(ref, "#") {
				walk(t, depth+1)
			}
		}
		out = append(out, n)
		for _, kw := range []string{"allOf", "anyOf", "oneOf"} {
			if list, ok := n.m[kw].([]any); ok {
				for i := range list {
					if sub, ok := list[i].(map[string]any); ok {
						walk(node{ptr: values.JoinIndex(values.Join(n.ptr, kw), i), m: sub}, depth+1)
					}
				}
			}
		}
	}
	walk(n, 0)
	return out
}

// child returns the schemas that apply to key (an object property name or
// a list index) of an instance described by the schemas in parents.
func (s *Schema) child(parents []node, key string) []node {
	var out []node
	for _, p := range parents {
		matched := false
		if props, ok := p.m["properties"].(map[string]any); ok {
			if sub, ok := props[key].(map[string]any); ok {
				out = append(out, s.expand(node{ptr: values.Join(p.ptr, "properties", key), m: sub})...)
				matched = true
			}
		}
		if pats, ok := p.m["patternProperties"].(map[string]any); ok {
			for pat, sub := range pats {
				if re := s.regexp(pat); re != nil && re.MatchString(key) {
					if sm, ok := sub.(map[string]any); ok {
						out = append(out, s.expand(node{ptr: values.Join(p.ptr, "patternProperties", pat), m: sm})...)
						matched = true
					}
				}
			}
		}
		if !matched {
			if sub, ok := p.m["additionalProperties"].(map[string]any); ok {
				out = append(out, s.expand(node{ptr: values.Join(p.ptr, "additionalProperties"), m: sub})...)
			}
		}
		if _, err := strconv.Atoi(key); err == nil {
			if sub, ok := p.m["items"].(map[string]any); ok {
				out = append(out, s.expand(node{ptr: values.Join(p.ptr, "items"), m: sub})...)
			}
		}
	}
	return out
}

// At returns the schemas that apply to the instance at ptr.
func (s *Schema) at(ptr string) []node {
	nodes := s.expand(s.root())
	for _, seg := range values.Split(ptr) {
		nodes = s.child(nodes, seg)
		if len(nodes) == 0 {
			return nil
		}
	}
	return nodes
}

func (s *Schema) regexp(pat string) *regexp.Regexp {
	if re, ok := s.patterns[pat]; ok {
		return re
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		re = nil
	}
	s.patterns[pat] = re
	return re
}

// Keyword returns the value of an annotation keyword (such as x-group or
// description) of the schema at an instance pointer.
func (s *Schema) Keyword(ptr, keyword string) (any, bool) {
	for _, n := range s.at(ptr) {
		if v, ok := n.m[keyword]; ok {
			return v, true
		}
	}
	return nil, false
}

// Apps returns the integrated apps the schema knows, with their group
// (core, shared, team or optional) from x-group.
func (s *Schema) Apps() map[string]string {
	out := map[string]string{}
	for _, n := range s.at("/apps") {
		props, _ := n.m["properties"].(map[string]any)
		for name := range props {
			g, _ := s.Keyword(values.Pointer("apps", name), "x-group")
			gs, _ := g.(string)
			out[name] = gs
		}
	}
	return out
}

// propertyNames lists the declared property names of the schema at ptr.
func (s *Schema) propertyNames(ptr string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range s.at(ptr) {
		props, _ := n.m["properties"].(map[string]any)
		for k := range props {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}
