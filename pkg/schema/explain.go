package schema

import (
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

// Explanation is one violation of a JSON schema, in words: where (a JSON
// pointer into the instance), which rule, and expected vs got.
type Explanation struct {
	Pointer string
	Rule    string
	Message string
}

// Explainer turns a validation error of santhosh-tekuri/jsonschema into
// explanations a person can act on. Its hooks are optional.
type Explainer struct {
	// Value returns the instance value at a pointer, to show what was found.
	Value func(ptr string) (any, bool)
	// Secret reports values that must show as <redacted>.
	Secret func(ptr string) bool
	// Known lists the declared properties at a pointer, for "did you mean".
	Known func(ptr string) []string
	// Owner finds the object that holds a badly named key (the library
	// does not keep that location reliably).
	Owner func(schemaURL, key, fallback string) string

	out  []Explanation
	seen map[string]bool
}

var printer = message.NewPrinter(language.English)

// Explain returns every leaf violation of err, de-duplicated, in order.
func (x Explainer) Explain(err *jsonschema.ValidationError) []Explanation {
	x.out, x.seen = nil, map[string]bool{}
	x.walk(err)
	return x.out
}

func (x *Explainer) add(ptr, rule, msg string) {
	key := ptr + "\x00" + msg
	if x.seen[key] {
		return
	}
	x.seen[key] = true
	x.out = append(x.out, Explanation{Pointer: ptr, Rule: rule, Message: msg})
}

// secret reports whether the value at ptr must not be shown.
// show renders an instance value for a message, redacting secrets.
func (x *Explainer) show(ptr string, val any) string {
	if x.Secret != nil && x.Secret(ptr) {
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

func (x *Explainer) walk(e *jsonschema.ValidationError) {
	ptr := values.Pointer(e.InstanceLocation...)
	switch k := e.ErrorKind.(type) {
	case *kind.PropertyNames:
		// The library aliases InstanceLocation for this kind of error:
		// find the object from the schema location instead.
		owner := ptr
		if x.Owner != nil {
			owner = x.Owner(e.SchemaURL, k.Property, ptr)
		}
		name := values.Join(owner, k.Property)
		x.add(name, "propertyNames", fmt.Sprintf("invalid name %q: %s", k.Property, x.causeText(e, name)))
		return
	case *kind.AnyOf, *kind.OneOf:
		if len(e.Causes) > 0 && x.explainAlternatives(e, ptr) {
			return
		}
		// Report the alternative that came closest: drop the ones that
		// failed only because the value is of another type altogether
		// (such as "null" beside an object), unless all did.
		var closer []*jsonschema.ValidationError
		for _, c := range e.Causes {
			if !typeMismatchAt(c, ptr) {
				closer = append(closer, c)
			}
		}
		if len(closer) > 0 && len(closer) < len(e.Causes) {
			for _, c := range closer {
				x.walk(c)
			}
			return
		}
	}
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			x.walk(c)
		}
		return
	}
	x.leaf(e, ptr)
}

// explainAlternatives reports a failed anyOf/oneOf as one problem when every
// branch failed at the same place; it returns false to let the branches'
// own errors be reported instead.
func (x *Explainer) explainAlternatives(e *jsonschema.ValidationError, ptr string) bool {
	if k, ok := e.ErrorKind.(*kind.OneOf); ok && len(k.Subschemas) > 1 {
		x.add(ptr, "oneOf", fmt.Sprintf("matches %d alternatives where exactly one is allowed", len(k.Subschemas)))
		return true
	}
	return false
}

// objectWithPropertyNames finds the object holding key whose schema has the
// propertyNames at schemaURL; fallback is returned when there is none.
func (x *Explainer) causeText(e *jsonschema.ValidationError, ptr string) string {
	for _, c := range e.Causes {
		if len(c.Causes) == 0 {
			if p, ok := c.ErrorKind.(*kind.Pattern); ok {
				return fmt.Sprintf("expected a name matching %s", p.Want)
			}
			return c.ErrorKind.LocalizedString(printer)
		}
		return x.causeText(c, ptr)
	}
	return e.ErrorKind.LocalizedString(printer)
}

func (x *Explainer) leaf(e *jsonschema.ValidationError, ptr string) {
	var val any
	if x.Value != nil {
		val, _ = x.Value(ptr)
	}
	got := func() string { return x.show(ptr, val) }
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			x.add(values.Join(ptr, m), "required", fmt.Sprintf("missing required property %q", m))
		}
	case *kind.AdditionalProperties:
		var known []string
		if x.Known != nil {
			known = x.Known(ptr)
		}
		for _, p := range k.Properties {
			msg := fmt.Sprintf("unknown property %q", p)
			if s := suggest(p, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else if len(known) > 0 && len(known) <= 12 {
				sort.Strings(known)
				msg += fmt.Sprintf("; allowed: %s", strings.Join(known, ", "))
			}
			x.add(values.Join(ptr, p), "additionalProperties", msg)
		}
	case *kind.Type:
		x.add(ptr, "type", fmt.Sprintf("expected %s, got %s", strings.Join(k.Want, " or "), describe(k.Got, got())))
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprint(w)
		}
		msg := fmt.Sprintf("expected one of %s, got %s", strings.Join(want, ", "), got())
		if str, ok := val.(string); ok && (x.Secret == nil || !x.Secret(ptr)) {
			if s := suggest(str, want); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
		}
		x.add(ptr, "enum", msg)
	case *kind.Const:
		x.add(ptr, "const", fmt.Sprintf("expected %v, got %s", k.Want, got()))
	case *kind.Pattern:
		x.add(ptr, "pattern", fmt.Sprintf("expected a string matching %s, got %s", k.Want, got()))
	case *kind.Format:
		x.add(ptr, "format", fmt.Sprintf("expected a valid %s, got %s", k.Want, got()))
	case *kind.MinLength:
		x.add(ptr, "minLength", fmt.Sprintf("expected at least %d characters, got %d", k.Want, k.Got))
	case *kind.MaxLength:
		x.add(ptr, "maxLength", fmt.Sprintf("expected at most %d characters, got %d", k.Want, k.Got))
	case *kind.Minimum:
		x.add(ptr, "minimum", fmt.Sprintf("expected a number >= %s, got %s", rat(k.Want), got()))
	case *kind.Maximum:
		x.add(ptr, "maximum", fmt.Sprintf("expected a number <= %s, got %s", rat(k.Want), got()))
	case *kind.ExclusiveMinimum:
		x.add(ptr, "exclusiveMinimum", fmt.Sprintf("expected a number > %s, got %s", rat(k.Want), got()))
	case *kind.ExclusiveMaximum:
		x.add(ptr, "exclusiveMaximum", fmt.Sprintf("expected a number < %s, got %s", rat(k.Want), got()))
	case *kind.MinItems:
		x.add(ptr, "minItems", fmt.Sprintf("expected at least %d items, got %d", k.Want, k.Got))
	case *kind.MaxItems:
		x.add(ptr, "maxItems", fmt.Sprintf("expected at most %d items, got %d", k.Want, k.Got))
	case *kind.MaxProperties:
		x.add(ptr, "maxProperties", fmt.Sprintf("expected at most %d properties, got %d", k.Want, k.Got))
	case *kind.MinProperties:
		x.add(ptr, "minProperties", fmt.Sprintf("expected at least %d properties, got %d", k.Want, k.Got))
	case *kind.UniqueItems:
		x.add(ptr, "uniqueItems", fmt.Sprintf("expected unique items, but items %d and %d are equal", k.Duplicates[0], k.Duplicates[1]))
	case *kind.FalseSchema:
		x.add(ptr, "false", "no value is allowed here")
	default:
		kw := strings.Join(e.ErrorKind.KeywordPath(), "/")
		msg := e.ErrorKind.LocalizedString(printer)
		if x.Secret != nil && x.Secret(ptr) {
			msg = "the secret value breaks the rule " + kw
		}
		x.add(ptr, kw, msg)
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

// typeMismatchAt reports whether an alternative failed only on the type of
// the value at ptr itself.
func typeMismatchAt(e *jsonschema.ValidationError, ptr string) bool {
	for len(e.Causes) == 1 {
		e = e.Causes[0]
	}
	_, isType := e.ErrorKind.(*kind.Type)
	return isType && len(e.Causes) == 0 && values.Pointer(e.InstanceLocation...) == ptr
}
