package schema

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/otomi/otomi/pkg/values"
)

// SecretKeyword marks a secret leaf in the schema. Its value is "" for a
// secret the user supplies, or a template that generates it.
const SecretKeyword = "x-secret"

// IsSecret reports whether the leaf at ptr is marked x-secret.
func (s *Schema) IsSecret(ptr string) bool {
	_, ok := s.Keyword(ptr, SecretKeyword)
	return ok
}

// SecretPointers returns the pointers of every x-secret node present in
// tree, sorted.
func (s *Schema) SecretPointers(tree map[string]any) []string {
	var out []string
	var walk func(v any, nodes []node, ptr string)
	walk = func(v any, nodes []node, ptr string) {
		for _, n := range nodes {
			if _, ok := n.m[SecretKeyword]; ok {
				out = append(out, ptr)
				return
			}
		}
		switch t := v.(type) {
		case map[string]any:
			for k, c := range t {
				if sub := s.child(nodes, k); len(sub) > 0 {
					walk(c, sub, values.Join(ptr, k))
				}
			}
		case []any:
			for i, c := range t {
				idx := strconv.Itoa(i)
				if sub := s.child(nodes, idx); len(sub) > 0 {
					walk(c, sub, values.JoinIndex(ptr, i))
				}
			}
		}
	}
	walk(tree, s.expand(s.root()), "")
	sort.Strings(out)
	return out
}

// SecretLeaf is an x-secret leaf the schema declares.
type SecretLeaf struct {
	// Pattern is a JSON pointer where "*" stands for any key or list index.
	Pattern string `json:"pattern"`
	// Template generates the secret; "" when the user must supply it.
	Template string `json:"template"`
}

// SecretLeaves lists every x-secret leaf of the schema, sorted by pattern.
func (s *Schema) SecretLeaves() []SecretLeaf {
	seen := map[string]bool{}
	var out []SecretLeaf
	var walk func(n node, ptr string, depth int)
	walk = func(n node, ptr string, depth int) {
		if depth > 40 {
			return
		}
		for _, e := range s.expand(n) {
			if t, ok := e.m[SecretKeyword]; ok {
				if !seen[ptr] {
					seen[ptr] = true
					tmpl, _ := t.(string)
					out = append(out, SecretLeaf{Pattern: ptr, Template: tmpl})
				}
				return
			}
		}
		for _, e := range s.expand(n) {
			if props, ok := e.m["properties"].(map[string]any); ok {
				for k, sub := range props {
					if sm, ok := sub.(map[string]any); ok {
						walk(node{ptr: values.Join(e.ptr, "properties", k), m: sm}, values.Join(ptr, k), depth+1)
					}
				}
			}
			for _, kw := range []string{"additionalProperties", "items"} {
				if sm, ok := e.m[kw].(map[string]any); ok {
					walk(node{ptr: values.Join(e.ptr, kw), m: sm}, ptr+"/*", depth+1)
				}
			}
			if pats, ok := e.m["patternProperties"].(map[string]any); ok {
				for pat, sub := range pats {
					if sm, ok := sub.(map[string]any); ok {
						walk(node{ptr: values.Join(e.ptr, "patternProperties", pat), m: sm}, ptr+"/*", depth+1)
					}
				}
			}
		}
	}
	walk(s.root(), "", 0)
	sort.Slice(out, func(i, j int) bool { return out[i].Pattern < out[j].Pattern })
	return out
}

// CheckPlacement reports, file by file, x-secret values in plain files (an
// error: they would be committed in plaintext, even where a secrets file
// overrides them) and plain values in secrets files (a warning: they are
// encrypted for no reason).
func (s *Schema) CheckPlacement(v *values.Values) values.Problems {
	var problems values.Problems
	for _, src := range v.Sources {
		if src.Tree == nil {
			continue
		}
		secrets := s.SecretPointers(src.Tree)
		if !src.File.Secret {
			for _, p := range secrets {
				problems = append(problems, values.Problem{Origin: src.Origins[p], Pointer: p, Rule: "secret-placement",
					Message: fmt.Sprintf("secret value (x-secret) in a plain file: move it to %s", secretsFileFor(src.File.Path))})
			}
			continue
		}
		isSecret := make(map[string]bool, len(secrets))
		for _, p := range secrets {
			isSecret[p] = true
		}
		var walk func(val any, ptr string)
		walk = func(val any, ptr string) {
			if isSecret[ptr] {
				return
			}
			switch t := val.(type) {
			case map[string]any:
				for k, c := range t {
					walk(c, values.Join(ptr, k))
				}
			case []any:
				for i, c := range t {
					walk(c, values.JoinIndex(ptr, i))
				}
			default:
				problems = append(problems, values.Problem{Origin: src.Origins[ptr], Pointer: ptr, Rule: "secret-placement", Warning: true,
					Message: fmt.Sprintf("not a secret (no x-secret in the schema): it belongs in %s", plainFileFor(src.File.Path))})
			}
		}
		walk(src.Tree, "")
	}
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Pointer < problems[j].Pointer })
	return problems
}

func secretsFileFor(file string) string {
	dir, base := path.Split(file)
	if base == "cluster.yaml" || base == "settings.yaml" {
		return dir + "secrets.settings.yaml"
	}
	return dir + "secrets." + base
}

func plainFileFor(file string) string {
	dir, base := path.Split(file)
	return dir + strings.TrimPrefix(base, "secrets.")
}

// Redact returns a copy of the tree with every secret replaced: the leaves
// the schema marks x-secret and everything read from an encrypted file.
func (s *Schema) Redact(v *values.Values) map[string]any {
	out := values.DeepCopy(v.Tree).(map[string]any)
	secret := map[string]bool{}
	for _, p := range s.SecretPointers(v.Tree) {
		secret[p] = true
	}
	var walk func(val any, ptr string) any
	walk = func(val any, ptr string) any {
		if secret[ptr] {
			return Redacted
		}
		switch t := val.(type) {
		case map[string]any:
			for k, c := range t {
				t[k] = walk(c, values.Join(ptr, k))
			}
			return t
		case []any:
			for i, c := range t {
				t[i] = walk(c, values.JoinIndex(ptr, i))
			}
			return t
		default:
			if v.Origins[ptr].Encrypted {
				return Redacted
			}
			return val
		}
	}
	walk(out, "")
	return out
}
