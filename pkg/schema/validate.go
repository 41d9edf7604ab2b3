package schema

import (
	"errors"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/otomi/otomi/pkg/values"
)

// Redacted replaces a secret value in every message.
const Redacted = "<redacted>"

// Validate checks the values tree against the schema and returns every
// violation, each located at the file, line and column that set the value
// (or, for a missing value, where its parent was set).
func (s *Schema) Validate(v *values.Values) values.Problems {
	err := s.compiled.Validate(any(v.Tree))
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return values.Problems{{Origin: values.Origin{File: FileName}, Rule: "schema", Message: err.Error()}}
	}
	r := reporter{s: s, v: v}
	x := Explainer{
		Value:  func(ptr string) (any, bool) { return values.Get(v.Tree, ptr) },
		Secret: r.secret,
		Known:  s.propertyNames,
		Owner:  r.objectWithPropertyNames,
	}
	for _, e := range x.Explain(ve) {
		r.add(e.Pointer, e.Rule, e.Message)
	}
	sort.SliceStable(r.out, func(i, j int) bool {
		a, b := r.out[i], r.out[j]
		if a.Origin.File != b.Origin.File {
			return a.Origin.File < b.Origin.File
		}
		if a.Origin.Line != b.Origin.Line {
			return a.Origin.Line < b.Origin.Line
		}
		return a.Pointer < b.Pointer
	})
	return r.out
}

// reporter places the explanations of a validation at their origins.
type reporter struct {
	s   *Schema
	v   *values.Values
	out values.Problems
}

func (r *reporter) add(ptr, rule, msg string) {
	o := r.v.Origin(ptr)
	if rule == "additionalProperties" || rule == "propertyNames" {
		o = o.AtKey()
	}
	r.out = append(r.out, values.Problem{Origin: o, Pointer: ptr, Rule: rule, Message: msg})
}

func (r *reporter) secret(ptr string) bool {
	return r.v.Origin(ptr).Encrypted || r.s.IsSecret(ptr)
}

func (r *reporter) objectWithPropertyNames(schemaURL, key, fallback string) string {
	_, frag, _ := strings.Cut(schemaURL, "#")
	owner := strings.TrimSuffix(frag, "/propertyNames")
	found := ""
	var walk func(val any, ptr string)
	walk = func(val any, ptr string) {
		if found != "" {
			return
		}
		switch t := val.(type) {
		case map[string]any:
			if _, ok := t[key]; ok {
				for _, n := range r.s.at(ptr) {
					if n.ptr == owner {
						found = ptr
						return
					}
				}
			}
			for k, c := range t {
				walk(c, values.Join(ptr, k))
			}
		case []any:
			for i, c := range t {
				walk(c, values.JoinIndex(ptr, i))
			}
		}
	}
	walk(r.v.Tree, "")
	if found == "" && owner == "" {
		return ""
	}
	if found == "" {
		return fallback
	}
	return found
}
