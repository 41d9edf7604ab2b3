// Package migrate brings a values repo to the current values format: it
// reads the versioned changes of values-changes.yaml (checked against its
// own schema) and applies the pending ones to the repo's files in memory,
// all or nothing.
package migrate

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"

	"github.com/otomi/otomi/pkg/schema"
	"github.com/otomi/otomi/pkg/values"
)

// Where the binary keeps the changes and their schema (in the platform fs).
const (
	ChangesFile       = "values-changes.yaml"
	ChangesSchemaFile = "values-changes.schema.yaml"
)

// BaseVersion is the first values format: a repo without settings
// `version` is at this version.
const BaseVersion = 1

// VersionPointer is where a repo records the format version it is at.
const VersionPointer = "/version"

// Changes is a parsed values-changes.yaml.
type Changes struct {
	Changes []Change `json:"changes"`
}

// Change brings a repo to Version. Its operations run in the order of the
// fields: renamings, relocations, additions, mutations, deletions.
type Change struct {
	Version     int        `json:"version"`
	Description string     `json:"description,omitempty"`
	Renamings   []Move     `json:"renamings,omitempty"`
	Relocations []Move     `json:"relocations,omitempty"`
	Additions   []Addition `json:"additions,omitempty"`
	Mutations   []Mutation `json:"mutations,omitempty"`
	Deletions   []string   `json:"deletions,omitempty"`
}

// Move renames a file or relocates a value.
type Move struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Addition sets a value where it is missing.
type Addition struct {
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// Mutation rewrites a value that is set with a template.
type Mutation struct {
	Path     string `json:"path"`
	Template string `json:"template"`
}

// Invalid is a file that breaks its rules; the command prints the problems
// like validate-values does.
type Invalid struct {
	// Subject names what is invalid ("values", "values-changes.yaml").
	Subject  string
	Problems values.Problems
}

func (e *Invalid) Error() string {
	return fmt.Sprintf("%s invalid: %s", e.Subject, e.Problems.Error())
}

// LoadBuiltin reads the changes the binary carries from the platform fs.
func LoadBuiltin(platform fs.FS) (*Changes, error) {
	data, err := fs.ReadFile(platform, ChangesFile)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ChangesFile, err)
	}
	return Parse(platform, "values-changes.yaml", data)
}

// Parse reads a values-changes file and checks it against the schema in the
// platform fs: every problem is returned at once, located at its line, as
// an *Invalid.
func Parse(platform fs.FS, name string, data []byte) (*Changes, error) {
	schemaData, err := fs.ReadFile(platform, ChangesSchemaFile)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ChangesSchemaFile, err)
	}
	sch, err := schema.Load("values-changes.schema.yaml", schemaData)
	if err != nil {
		return nil, err
	}
	tree, origins, problems := values.ParseYAML(name, data)
	if len(problems) > 0 {
		return nil, &Invalid{Subject: name, Problems: problems}
	}
	if tree == nil {
		tree = map[string]any{}
	}
	v := &values.Values{Tree: tree, Origins: origins}
	if problems := sch.Validate(v); len(problems) > 0 {
		return nil, &Invalid{Subject: name, Problems: problems}
	}
	raw, err := json.Marshal(tree)
	if err != nil {
		return nil, err
	}
	var c Changes
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var order values.Problems
	for i := 1; i < len(c.Changes); i++ {
		if c.Changes[i].Version <= c.Changes[i-1].Version {
			p := values.JoinIndex("/changes", i) + "/version"
			order = append(order, values.Problem{Origin: v.Origin(p), Pointer: p, Rule: "order",
				Message: fmt.Sprintf("versions must increase: %d follows %d", c.Changes[i].Version, c.Changes[i-1].Version)})
		}
	}
	for i, ch := range c.Changes {
		for j, r := range ch.Renamings {
			for _, f := range []string{r.From, r.To} {
				if _, err := values.CheckPath(expandSample(f)); err != nil {
					p := fmt.Sprintf("/changes/%d/renamings/%d", i, j)
					order = append(order, values.Problem{Origin: v.Origin(p), Pointer: p, Rule: "layout", Message: err.Error()})
				}
			}
		}
	}
	if len(order) > 0 {
		return nil, &Invalid{Subject: name, Problems: order}
	}
	return &c, nil
}

// Latest is the version a repo is at once every change is applied.
func (c *Changes) Latest() int {
	latest := BaseVersion
	for _, ch := range c.Changes {
		latest = max(latest, ch.Version)
	}
	return latest
}

// Pending returns the changes a repo at version current still needs, in
// order. A repo newer than every change was written by a newer otomi.
func (c *Changes) Pending(current int) ([]Change, error) {
	if current > c.Latest() {
		return nil, fmt.Errorf("the values repo is at version %d, this otomi knows versions up to %d: use a newer otomi", current, c.Latest())
	}
	var out []Change
	for _, ch := range c.Changes {
		if ch.Version > current {
			out = append(out, ch)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// VersionOf returns the format version a tree records (BaseVersion when
// unset).
func VersionOf(tree map[string]any) (int, error) {
	v, ok := values.Get(tree, VersionPointer)
	if !ok || v == nil {
		return BaseVersion, nil
	}
	switch n := v.(type) {
	case int:
		return n, nil
	case uint64:
		return int(n), nil
	case float64:
		if n == float64(int(n)) {
			return int(n), nil
		}
	}
	return 0, fmt.Errorf("%s must be an integer, got %v", VersionPointer, v)
}
