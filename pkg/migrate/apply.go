package migrate

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"go.yaml.in/yaml/v3"

	"github.com/otomi/otomi/pkg/values"
)

// TeamPlaceholder in a path or pointer stands for every team of teamConfig.
const TeamPlaceholder = "{team}"

// Apply applies changes in order to a copy of fr and returns it; fr itself
// is never changed, so an error leaves the caller with the repo as it was.
// isSecret says which leaves belong in secrets files.
func Apply(fr values.Fragments, changes []Change, isSecret func(ptr string) bool) (values.Fragments, error) {
	out := fr.Clone()
	for _, ch := range changes {
		if err := applyChange(out, ch, isSecret); err != nil {
			return nil, fmt.Errorf("values change version %d: %w", ch.Version, err)
		}
	}
	return out, nil
}

func applyChange(fr values.Fragments, ch Change, isSecret func(string) bool) error {
	for _, r := range ch.Renamings {
		for _, x := range expand(fr, r.From, r.To) {
			if err := fr.Rename(x.a, x.b); err != nil {
				return fmt.Errorf("renaming: %w", err)
			}
		}
	}
	for _, r := range ch.Relocations {
		for _, x := range expand(fr, r.From, r.To) {
			if err := relocate(fr, x.a, x.b, isSecret); err != nil {
				return fmt.Errorf("relocation %s -> %s: %w", x.a, x.b, err)
			}
		}
	}
	for _, a := range ch.Additions {
		for _, x := range expand(fr, a.Path, "") {
			if err := add(fr, x.a, a.Value, isSecret); err != nil {
				return fmt.Errorf("addition %s: %w", x.a, err)
			}
		}
	}
	for _, m := range ch.Mutations {
		for _, x := range expand(fr, m.Path, "") {
			if err := mutate(fr, x.a, m.Template, x.team, isSecret); err != nil {
				return fmt.Errorf("mutation %s: %w", x.a, err)
			}
		}
	}
	for _, d := range ch.Deletions {
		for _, x := range expand(fr, d, "") {
			if strings.HasPrefix(x.a, values.EnvFolder+"/") {
				delete(fr, x.a)
				continue
			}
			fr.Delete(x.a)
		}
	}
	return nil
}

type expanded struct{ a, b, team string }

// expand replaces {team} in a and b with every team, in name order; a
// string without it is returned as is.
func expand(fr values.Fragments, a, b string) []expanded {
	if !strings.Contains(a, TeamPlaceholder) && !strings.Contains(b, TeamPlaceholder) {
		return []expanded{{a: a, b: b}}
	}
	var teams []string
	if tc, ok := fr.Get("/teamConfig"); ok {
		if m, ok := tc.(map[string]any); ok {
			for t := range m {
				teams = append(teams, t)
			}
		}
	}
	sort.Strings(teams)
	out := make([]expanded, 0, len(teams))
	for _, t := range teams {
		out = append(out, expanded{
			a:    strings.ReplaceAll(a, TeamPlaceholder, t),
			b:    strings.ReplaceAll(b, TeamPlaceholder, t),
			team: t,
		})
	}
	return out
}

// expandSample replaces {team} with a valid team name, to check a path.
func expandSample(s string) string { return strings.ReplaceAll(s, TeamPlaceholder, "team") }

// checkParent refuses a pointer whose parent holds something other than a
// mapping: a value cannot be put there.
func checkParent(fr values.Fragments, ptr string) error {
	tree := fr.Tree()
	segs := values.Split(ptr)
	for i := 1; i < len(segs); i++ {
		p := values.Pointer(segs[:i]...)
		v, ok := values.Get(tree, p)
		if !ok {
			return nil
		}
		if _, isMap := v.(map[string]any); !isMap {
			return fmt.Errorf("%s holds %s, not a mapping", p, kind(v))
		}
	}
	return nil
}

func relocate(fr values.Fragments, from, to string, isSecret func(string) bool) error {
	v, ok := fr.Get(from)
	if !ok {
		return nil
	}
	if values.HasPrefix(to, from) {
		return fmt.Errorf("cannot move a value into itself")
	}
	if _, exists := fr.Get(to); exists {
		return fmt.Errorf("%s is set already", to)
	}
	if err := checkParent(fr, to); err != nil {
		return err
	}
	fr.Delete(from)
	return fr.Put(to, v, isSecret)
}

func add(fr values.Fragments, ptr string, val any, isSecret func(string) bool) error {
	if _, exists := fr.Get(ptr); exists {
		return nil
	}
	if err := checkParent(fr, ptr); err != nil {
		return err
	}
	return fr.Put(ptr, normalize(val), isSecret)
}

func mutate(fr values.Fragments, ptr, text, team string, isSecret func(string) bool) error {
	prev, ok := fr.Get(ptr)
	if !ok {
		return nil
	}
	tmpl, err := template.New(ptr).Funcs(sprig.TxtFuncMap()).Option("missingkey=error").Parse(text)
	if err != nil {
		return fmt.Errorf("template: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, map[string]any{"prev": prev, "team": team}); err != nil {
		// The error may quote the value; a secret's must not show.
		if isSecret(ptr) {
			return fmt.Errorf("template failed on the secret value")
		}
		return fmt.Errorf("template: %w", err)
	}
	if strings.TrimSpace(buf.String()) == "" {
		return fmt.Errorf("the template rendered nothing (write '\"\"' for an empty string)")
	}
	var next any
	if err := yaml.Unmarshal(buf.Bytes(), &next); err != nil {
		if isSecret(ptr) {
			return fmt.Errorf("the template rendered invalid YAML")
		}
		return fmt.Errorf("the template rendered invalid YAML: %w", err)
	}
	return fr.Put(ptr, normalize(next), isSecret)
}

// normalize turns decoded YAML or JSON into the loader's types.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, c := range t {
			out[k] = normalize(c)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, c := range t {
			out[fmt.Sprint(k)] = normalize(c)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, c := range t {
			out[i] = normalize(c)
		}
		return out
	case float64:
		if t == float64(int(t)) && t < 1<<53 && t > -(1<<53) {
			return int(t)
		}
		return t
	default:
		return v
	}
}

func kind(v any) string {
	switch v.(type) {
	case []any:
		return "a list"
	case nil:
		return "null"
	case string:
		return "a string"
	default:
		return "a scalar"
	}
}
