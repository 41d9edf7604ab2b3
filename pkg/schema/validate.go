package schema

import (
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/agnivade/levenshtein"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

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
	r := reporter{s: s, v: v, seen: map[string]bool{}}
	r.walk(ve)
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

type reporter struct {
	s    *Schema
	v    *values.Values
	out  values.Problems
	seen map[string]bool
}

var printer = message.NewPrinter(language.English)

func (r *reporter) add(ptr, rule, msg string) {
	key := ptr + "\x00" + msg
	if r.seen[key] {
		return
	}
	r.seen[key] = true
	o := r.v.Origin(ptr)
	if rule == "additionalProperties" || rule == "propertyNames" {
		o = o.AtKey()
	}
	r.out = append(r.out, values.Problem{Origin: o, Pointer: ptr, Rule: rule, Message: msg})
}

// secret reports whether the value at ptr must not be shown.
func (r *reporter) secret(ptr string) bool {
	return r.v.Origin(ptr).Encrypted || r.s.IsSecret(ptr)
}

// show renders an instance value for a message, redacting secrets.
func (r *reporter) show(ptr string, val any) string {
	if r.secret(ptr) {
		return Redacted
	}
	switch t := val.(type) {
	case string:
		if len(t) > 60 {
			t = t[:57] + "..."
		}
		return fmt.Sprintf("%q", t)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case nil:
		return "null"
	default:
		return fmt.Sprint(t)
	}
}

func (r *reporter) walk(e *jsonschema.ValidationError) {
	ptr := values.Pointer(e.InstanceLocation...)
	switch k := e.ErrorKind.(type) {
	case *kind.PropertyNames:
		// The library aliases InstanceLocation for this kind of error:
		// find the object from the schema location instead.
		name := values.Join(r.objectWithPropertyNames(e.SchemaURL, k.Property, ptr), k.Property)
		r.add(name, "propertyNames", fmt.Sprintf("invalid name %q: %s", k.Property, r.causeText(e, name)))
		return
	case *kind.AnyOf, *kind.OneOf:
		if len(e.Causes) > 0 && r.explainAlternatives(e, ptr) {
			return
		}
	}
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			r.walk(c)
		}
		return
	}
	r.leaf(e, ptr)
}

// explainAlternatives reports a failed anyOf/oneOf as one problem when every
// branch failed at the same place; it returns false to let the branches'
// own errors be reported instead.
func (r *reporter) explainAlternatives(e *jsonschema.ValidationError, ptr string) bool {
	if k, ok := e.ErrorKind.(*kind.OneOf); ok && len(k.Subschemas) > 1 {
		r.add(ptr, "oneOf", fmt.Sprintf("matches %d alternatives where exactly one is allowed", len(k.Subschemas)))
		return true
	}
	return false
}

// objectWithPropertyNames finds the object holding key whose schema has the
// propertyNames at schemaURL; fallback is returned when there is none.
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

func (r *reporter) causeText(e *jsonschema.ValidationError, ptr string) string {
	for _, c := range e.Causes {
		if len(c.Causes) == 0 {
			if p, ok := c.ErrorKind.(*kind.Pattern); ok {
				return fmt.Sprintf("expected a name matching %s", p.Want)
			}
			return c.ErrorKind.LocalizedString(printer)
		}
		return r.causeText(c, ptr)
	}
	return e.ErrorKind.LocalizedString(printer)
}

func (r *reporter) leaf(e *jsonschema.ValidationError, ptr string) {
	val, _ := values.Get(r.v.Tree, ptr)
	got := func() string { return r.show(ptr, val) }
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			r.add(values.Join(ptr, m), "required", fmt.Sprintf("missing required property %q", m))
		}
	case *kind.AdditionalProperties:
		known := r.s.propertyNames(ptr)
		for _, p := range k.Properties {
			msg := fmt.Sprintf("unknown property %q", p)
			if s := suggest(p, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else if len(known) > 0 && len(known) <= 12 {
				sort.Strings(known)
				msg += fmt.Sprintf("; allowed: %s", strings.Join(known, ", "))
			}
			r.add(values.Join(ptr, p), "additionalProperties", msg)
		}
	case *kind.Type:
		r.add(ptr, "type", fmt.Sprintf("expected %s, got %s", strings.Join(k.Want, " or "), describe(k.Got, got())))
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprint(w)
		}
		msg := fmt.Sprintf("expected one of %s, got %s", strings.Join(want, ", "), got())
		if str, ok := val.(string); ok && !r.secret(ptr) {
			if s := suggest(str, want); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
		}
		r.add(ptr, "enum", msg)
	case *kind.Const:
		r.add(ptr, "const", fmt.Sprintf("expected %v, got %s", k.Want, got()))
	case *kind.Pattern:
		r.add(ptr, "pattern", fmt.Sprintf("expected a string matching %s, got %s", k.Want, got()))
	case *kind.Format:
		r.add(ptr, "format", fmt.Sprintf("expected a valid %s, got %s", k.Want, got()))
	case *kind.MinLength:
		r.add(ptr, "minLength", fmt.Sprintf("expected at least %d characters, got %d", k.Want, k.Got))
	case *kind.MaxLength:
		r.add(ptr, "maxLength", fmt.Sprintf("expected at most %d characters, got %d", k.Want, k.Got))
	case *kind.Minimum:
		r.add(ptr, "minimum", fmt.Sprintf("expected a number >= %s, got %s", rat(k.Want), got()))
	case *kind.Maximum:
		r.add(ptr, "maximum", fmt.Sprintf("expected a number <= %s, got %s", rat(k.Want), got()))
	case *kind.ExclusiveMinimum:
		r.add(ptr, "exclusiveMinimum", fmt.Sprintf("expected a number > %s, got %s", rat(k.Want), got()))
	case *kind.ExclusiveMaximum:
		r.add(ptr, "exclusiveMaximum", fmt.Sprintf("expected a number < %s, got %s", rat(k.Want), got()))
	case *kind.MinItems:
		r.add(ptr, "minItems", fmt.Sprintf("expected at least %d items, got %d", k.Want, k.Got))
	case *kind.MaxItems:
		r.add(ptr, "maxItems", fmt.Sprintf("expected at most %d items, got %d", k.Want, k.Got))
	case *kind.MaxProperties:
		r.add(ptr, "maxProperties", fmt.Sprintf("expected at most %d properties, got %d", k.Want, k.Got))
	case *kind.MinProperties:
		r.add(ptr, "minProperties", fmt.Sprintf("expected at least %d properties, got %d", k.Want, k.Got))
	case *kind.UniqueItems:
		r.add(ptr, "uniqueItems", fmt.Sprintf("expected unique items, but items %d and %d are equal", k.Duplicates[0], k.Duplicates[1]))
	case *kind.FalseSchema:
		r.add(ptr, "false", "no value is allowed here")
	default:
		kw := strings.Join(e.ErrorKind.KeywordPath(), "/")
		msg := e.ErrorKind.LocalizedString(printer)
		if r.secret(ptr) {
			msg = "the secret value breaks the rule " + kw
		}
		r.add(ptr, kw, msg)
	}
}

// describe names a JSON type and, for scalars, shows the value.
func describe(jsonType, shown string) string {
	switch jsonType {
	case "object":
		return "a mapping"
	case "array":
		return "a list"
	case "null":
		return "null"
	case "integer":
		return "an integer " + shown
	}
	return "a " + jsonType + " " + shown
}

func rat(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return fmt.Sprint(f)
}

// suggest returns the known name closest to name when it is close enough to
// be a likely typo.
func suggest(name string, known []string) string {
	best, bestDist := "", 1<<30
	for _, k := range known {
		d := levenshtein.ComputeDistance(strings.ToLower(name), strings.ToLower(k))
		if d < bestDist || (d == bestDist && k < best) {
			best, bestDist = k, d
		}
	}
	limit := 2
	if len(name) > 8 {
		limit = 3
	}
	if best != "" && bestDist <= limit && bestDist < len(name) {
		return best
	}
	return ""
}
