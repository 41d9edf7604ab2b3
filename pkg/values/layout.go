package values

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// File is one file of the values repo and the part of the tree it may set.
type File struct {
	// Path is slash-separated and relative to the repo root, e.g. "env/apps/harbor.yaml".
	Path string `json:"path"`
	// Scope is the JSON pointer under which the file's content belongs. The
	// settings files have the root scope minus the keys other files own.
	Scope string `json:"scope"`
	// Secret marks a secrets.*.yaml file, the only place for x-secret values.
	Secret bool `json:"secret,omitempty"`
	// Encrypted is true when the file is stored SOPS-encrypted.
	Encrypted bool `json:"encrypted,omitempty"`

	order int
	// anyScopeType: the value at Scope may be a list or scalar (a team's
	// services are a list); otherwise it must be a mapping.
	anyScopeType bool
}

// EnvFolder is the folder of the values repo that holds the values files.
const EnvFolder = "env"

// ownedKeys are the top-level keys that have files of their own; the
// settings files hold every other top-level key.
var ownedKeys = []string{"apps", "cluster", "databases", "teamConfig"}

// ownedElsewhere returns the reason a top-level key may not be set by a
// settings file, or "" when it may.
func ownedElsewhere(key string) string {
	switch key {
	case "cluster":
		return "env/cluster.yaml"
	case "teamConfig":
		return "env/teams.yaml or env/teams/<type>.<team>.yaml"
	case "apps":
		return "env/apps/<app>.yaml"
	case "databases":
		return "env/databases/<db>.yaml"
	}
	return ""
}

// classify maps a path relative to the env folder to its place in the
// layout. ok is false for a YAML file that has no place in it.
func classify(rel string) (f File, ok bool) {
	f.Path = path.Join(EnvFolder, rel)
	dir, base := path.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	name := strings.TrimSuffix(base, ".yaml")
	secret := strings.HasPrefix(name, "secrets.")
	bare := strings.TrimPrefix(name, "secrets.")
	f.Secret = secret
	switch dir {
	case "":
		switch bare {
		case "cluster":
			f.Scope, f.order = "/cluster", 0
			return f, !secret
		case "settings":
			f.Scope, f.order = "", 1
			return f, true
		case "teams":
			f.Scope, f.order = "/teamConfig", 3
			return f, true
		}
	case "teams":
		// teams/<type>.<team>.yaml sets teamConfig.<team>.<type>
		parts := strings.Split(bare, ".")
		if len(parts) == 2 && parts[0] != "" && parts[1] != "" {
			f.Scope, f.order, f.anyScopeType = Pointer("teamConfig", parts[1], parts[0]), 4, true
			return f, true
		}
	case "apps":
		if bare != "" && !strings.Contains(bare, ".") {
			f.Scope, f.order = Pointer("apps", bare), 5
			return f, true
		}
	case "databases":
		if bare != "" && !strings.Contains(bare, ".") {
			f.Scope, f.order = Pointer("databases", bare), 6
			return f, true
		}
	}
	return f, false
}

// sortFiles puts files in merge order: cluster, settings, teams, team
// files, apps, databases; within a kind by name; a secrets file right
// after the plain file of the same scope.
func sortFiles(files []File) {
	sort.SliceStable(files, func(i, j int) bool {
		a, b := files[i], files[j]
		if a.order != b.order {
			return a.order < b.order
		}
		if a.Scope != b.Scope {
			return a.Scope < b.Scope
		}
		return !a.Secret && b.Secret
	})
}

// LayoutHelp describes the files a values repo may hold.
const LayoutHelp = `env/cluster.yaml, env/settings.yaml, env/teams.yaml, env/teams/<type>.<team>.yaml, ` +
	`env/apps/<app>.yaml, env/databases/<db>.yaml, and secrets.<name>.yaml beside each (except cluster.yaml)`

// enforceScope removes from tree what lies outside the file's scope and
// reports it, so a value can only come from the file that owns it.
func enforceScope(f File, tree map[string]any, origins map[string]Origin) []Problem {
	var problems []Problem
	if f.Scope == "" {
		for _, k := range sortedKeys(tree) {
			if owner := ownedElsewhere(k); owner != "" {
				p := Pointer(k)
				problems = append(problems, Problem{Origin: origins[p], Pointer: p, Rule: "file-scope",
					Message: fmt.Sprintf("%s may not set %s: it belongs in %s", f.Path, p, owner)})
				delete(tree, k)
			}
		}
		return problems
	}
	cur := tree
	segs := Split(f.Scope)
	for i, seg := range segs {
		here := Pointer(segs[:i]...)
		for _, k := range sortedKeys(cur) {
			if k == seg {
				continue
			}
			p := Join(here, k)
			problems = append(problems, Problem{Origin: origins[p], Pointer: p, Rule: "file-scope",
				Message: fmt.Sprintf("%s may only set values under %s; move %s to the file that owns it", f.Path, f.Scope, p)})
			delete(cur, k)
		}
		next, present := cur[seg]
		if !present {
			break
		}
		m, ok := next.(map[string]any)
		last := i == len(segs)-1
		if last && f.anyScopeType {
			break
		}
		if !ok && next == nil && last {
			delete(cur, seg) // "harbor:" with nothing below: no values
			break
		}
		if !ok {
			p := Join(here, seg)
			problems = append(problems, Problem{Origin: origins[p], Pointer: p, Rule: "type",
				Message: fmt.Sprintf("expected a mapping, got %s", describeKind(next))})
			delete(cur, seg)
			break
		}
		if last {
			break
		}
		cur = m
	}
	return problems
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func describeKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}
