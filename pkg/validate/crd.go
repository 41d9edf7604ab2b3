package validate

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// crdVersion is one served version of a CustomResourceDefinition.
type crdVersion struct {
	group, version, kind string
	source               string // where the CRD was found
	schema               map[string]any
	served               bool
	deprecated           bool
	warning              string

	once     sync.Once
	compiled *jsonschema.Schema
	err      error
}

// crdIndex holds the custom kinds the platform defines.
type crdIndex struct {
	versions map[string]*crdVersion // apiVersion/kind
	scopes   map[string]string      // kind -> Namespaced|Cluster
}

func newCRDIndex() *crdIndex {
	return &crdIndex{versions: map[string]*crdVersion{}, scopes: map[string]string{}}
}

// add registers the versions of a CRD object (any apiextensions/v1 CRD).
func (ix *crdIndex) add(obj map[string]any, source string) error {
	spec, _ := obj["spec"].(map[string]any)
	group, _ := spec["group"].(string)
	names, _ := spec["names"].(map[string]any)
	kind, _ := names["kind"].(string)
	scope, _ := spec["scope"].(string)
	if group == "" || kind == "" {
		return fmt.Errorf("CustomResourceDefinition in %s lacks spec.group or spec.names.kind", source)
	}
	ix.scopes[kind] = scope
	versions, _ := spec["versions"].([]any)
	for _, v := range versions {
		vm, _ := v.(map[string]any)
		name, _ := vm["name"].(string)
		served, _ := vm["served"].(bool)
		deprecated, _ := vm["deprecated"].(bool)
		warning, _ := vm["deprecationWarning"].(string)
		var sch map[string]any
		if s, ok := vm["schema"].(map[string]any); ok {
			sch, _ = s["openAPIV3Schema"].(map[string]any)
		}
		ix.versions[group+"/"+name+"/"+kind] = &crdVersion{group: group, version: name, kind: kind, source: source,
			schema: sch, served: served, deprecated: deprecated, warning: warning}
	}
	return nil
}

func (ix *crdIndex) lookup(apiVersion, kind string) *crdVersion {
	return ix.versions[apiVersion+"/"+kind]
}

// compile turns the structural schema into a JSON schema with the API
// server's semantics: unknown fields are refused unless
// x-kubernetes-preserve-unknown-fields; int-or-string accepts both;
// nullable accepts null; embedded resources carry apiVersion/kind/metadata.
func (cv *crdVersion) compileSchema() (*jsonschema.Schema, error) {
	cv.once.Do(func() {
		root := map[string]any{"type": "object"}
		if cv.schema != nil {
			root = structural(cv.schema)
		}
		props, _ := root["properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
			root["properties"] = props
		}
		props["apiVersion"] = map[string]any{"type": "string"}
		props["kind"] = map[string]any{"type": "string"}
		props["metadata"] = map[string]any{"type": "object"}
		if cv.schema == nil {
			delete(root, "additionalProperties")
		}
		// Round-trip through JSON so numbers are what the compiler expects.
		data, err := json.Marshal(root)
		if err != nil {
			cv.err = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytesReader(data))
		if err != nil {
			cv.err = err
			return
		}
		url := fmt.Sprintf("file:///otomi/crd/%s/%s/%s.json", cv.group, cv.version, cv.kind)
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft7)
		if err := c.AddResource(url, doc); err != nil {
			cv.err = fmt.Errorf("CRD %s/%s %s schema: %w", cv.group, cv.version, cv.kind, err)
			return
		}
		cv.compiled, cv.err = c.Compile(url)
		if cv.err != nil {
			cv.err = fmt.Errorf("CRD %s/%s %s schema: %w", cv.group, cv.version, cv.kind, cv.err)
		}
	})
	return cv.compiled, cv.err
}

// structural converts one node of an OpenAPI v3 structural schema.
func structural(s map[string]any) map[string]any {
	out := map[string]any{}
	preserve, _ := s["x-kubernetes-preserve-unknown-fields"].(bool)
	intOrString, _ := s["x-kubernetes-int-or-string"].(bool)
	embedded, _ := s["x-kubernetes-embedded-resource"].(bool)
	nullable, _ := s["nullable"].(bool)
	for k, v := range s {
		switch k {
		case "properties":
			props := map[string]any{}
			for name, p := range v.(map[string]any) {
				if pm, ok := p.(map[string]any); ok {
					props[name] = structural(pm)
				}
			}
			out[k] = props
		case "items":
			if m, ok := v.(map[string]any); ok {
				out[k] = structural(m)
			}
		case "additionalProperties":
			if m, ok := v.(map[string]any); ok {
				out[k] = structural(m)
			} else {
				out[k] = v
			}
		case "allOf", "anyOf", "oneOf":
			var list []any
			for _, e := range v.([]any) {
				if m, ok := e.(map[string]any); ok {
					list = append(list, structural(m))
				}
			}
			out[k] = list
		case "not":
			if m, ok := v.(map[string]any); ok {
				out[k] = structural(m)
			}
		case "type", "enum", "required", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
			"minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "multipleOf", "default":
			out[k] = v
		}
	}
	if intOrString {
		delete(out, "type")
		out["anyOf"] = append(asList(out["anyOf"]), map[string]any{"type": "integer"}, map[string]any{"type": "string"})
		if len(asList(s["anyOf"])) > 0 {
			// Structural schemas may constrain each alternative already.
			out["anyOf"] = asList(s["anyOf"])
		}
	}
	if embedded {
		props, _ := out["properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
			out["properties"] = props
		}
		for _, f := range []string{"apiVersion", "kind"} {
			if _, ok := props[f]; !ok {
				props[f] = map[string]any{"type": "string"}
			}
		}
		if _, ok := props["metadata"]; !ok {
			props["metadata"] = map[string]any{"type": "object"}
		}
	}
	if t, _ := out["type"].(string); t == "object" && !preserve {
		if _, hasProps := out["properties"]; hasProps {
			if _, set := out["additionalProperties"]; !set {
				out["additionalProperties"] = false
			}
		}
	}
	if nullable {
		if t, ok := out["type"].(string); ok {
			out["type"] = []any{t, "null"}
		}
	}
	return out
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
