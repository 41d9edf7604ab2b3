package cmdutil

import (
	"context"

	"github.com/otomi/otomi/pkg/schema"
	"github.com/otomi/otomi/pkg/values"
)

// LoadedValues is a values repo read, completed with the schema's defaults,
// and checked: every problem found on the way is in Problems.
type LoadedValues struct {
	Values *values.Values
	Schema *schema.Schema
	// LoadProblems are files that could not be read, parsed or decrypted,
	// or that set values outside their scope: the tree is incomplete.
	LoadProblems values.Problems
	// Problems are all problems, LoadProblems included.
	Problems values.Problems
}

// LoadValues reads the values repo of the global --env-dir, decrypting its
// secrets in memory, fills in the schema defaults (unless filesOnly) and
// checks it: schema, secret placement, encryption. The error is for a repo
// that cannot be read at all.
func LoadValues(ctx context.Context, f *Factory, filesOnly bool) (*LoadedValues, error) {
	// Compiling the schema and reading the repo are independent: overlap them.
	type compiled struct {
		s   *schema.Schema
		err error
	}
	ready := make(chan compiled, 1)
	go func() {
		s, err := f.Schema()
		ready <- compiled{s, err}
	}()
	v, err := values.Load(ctx, f.Globals.EnvDir, f.Crypto())
	c := <-ready
	if c.err != nil {
		return nil, c.err
	}
	if err != nil {
		return nil, err
	}
	sch := c.s
	f.Logger.Debug("values loaded", "root", v.Repo.Root, "files", len(v.Sources))
	loadProblems := append(values.Problems{}, v.Problems...)
	problems := append(values.Problems{}, loadProblems...)
	problems = append(problems, v.CheckEncryption()...)
	problems = append(problems, sch.CheckPlacement(v)...)
	if !filesOnly {
		sch.ApplyDefaults(v)
	}
	// Validation of a tree without its defaults would report missing
	// defaults as errors, so it always runs on a completed copy.
	checked := v
	if filesOnly {
		checked = &values.Values{Repo: v.Repo, Sources: v.Sources, Tree: values.DeepCopy(v.Tree).(map[string]any), Origins: copyOrigins(v.Origins)}
		sch.ApplyDefaults(checked)
	}
	for _, p := range sch.Validate(checked) {
		// A file that could not be loaded leaves its values missing: say
		// so once (its load problem), not once per required property.
		if p.Rule == "required" && v.Unreadable(p.Pointer) {
			continue
		}
		problems = append(problems, p)
	}
	return &LoadedValues{Values: v, Schema: sch, LoadProblems: loadProblems, Problems: problems}, nil
}

func copyOrigins(in map[string]values.Origin) map[string]values.Origin {
	out := make(map[string]values.Origin, len(in))
	for k, o := range in {
		out[k] = o
	}
	return out
}
