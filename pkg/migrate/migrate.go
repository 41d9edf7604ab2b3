package migrate

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/otomi/otomi/pkg/schema"
	"github.com/otomi/otomi/pkg/secrets"
	"github.com/otomi/otomi/pkg/values"
)

// Options of a migration run.
type Options struct {
	// EnvDir is the values repo (or its env/ folder).
	EnvDir  string
	Schema  *schema.Schema
	Codec   secrets.Codec
	Changes *Changes
	// DryRun computes everything and writes nothing.
	DryRun bool
	// Disk is written through; nil is the real file system.
	Disk secrets.Disk
}

// Result says what a migration did (or, dry run, would do).
type Result struct {
	Root     string
	From, To int
	Applied  []Change
	// Diff is the values diff, secrets redacted.
	Diff   string
	Writes []secrets.FileWrite
}

// Run loads the repo, applies the pending changes in memory, checks the
// result against the values schema and, unless DryRun, writes the files
// that changed (secrets files encrypted in memory first). Any failure
// leaves the repo as it was.
func Run(ctx context.Context, opts Options) (*Result, error) {
	v, err := values.Load(ctx, opts.EnvDir, opts.Codec)
	if err != nil {
		return nil, err
	}
	if errs := v.Problems.Errors(); len(errs) > 0 {
		return nil, &Invalid{Subject: "values", Problems: errs}
	}
	before := v.Fragments()
	res := &Result{Root: v.Repo.Root}
	after, applied, from, to, err := Pending(before, opts.Changes, opts.Schema)
	if err != nil {
		return nil, err
	}
	res.From, res.To, res.Applied = from, to, applied
	if len(applied) == 0 {
		return res, nil
	}
	if problems := Check(after, opts.Schema, v.Repo); len(problems) > 0 {
		return nil, &Invalid{Subject: "values after migration", Problems: problems}
	}
	res.Diff = Diff(before, after, opts.Schema.IsSecret)
	stored, err := secrets.Stored(v)
	if err != nil {
		return nil, err
	}
	writes, err := secrets.PlanValues(ctx, opts.Codec, RepoRules(v.Repo), v.Repo.Root, stored, after)
	if err != nil {
		return nil, err
	}
	res.Writes = writes
	if opts.DryRun {
		return res, nil
	}
	tx := secrets.NewTx(opts.Disk)
	if err := tx.Apply(v.Repo.Root, writes); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			return nil, fmt.Errorf("%w; undoing the files written so far also failed: %v", err, rerr)
		}
		return nil, fmt.Errorf("%w (nothing was changed)", err)
	}
	return res, nil
}

// Pending applies the changes that the files' version still needs and
// records the version reached. It returns the new files (a copy), the
// changes applied and the versions before and after.
func Pending(fr values.Fragments, changes *Changes, sch *schema.Schema) (values.Fragments, []Change, int, int, error) {
	from, err := VersionOf(fr.Tree())
	if err != nil {
		return nil, nil, 0, 0, err
	}
	pending, err := changes.Pending(from)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	if len(pending) == 0 {
		return fr.Clone(), nil, from, from, nil
	}
	after, err := Apply(fr, pending, sch.IsSecret)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	to := pending[len(pending)-1].Version
	if err := after.Put(VersionPointer, to, sch.IsSecret); err != nil {
		return nil, nil, 0, 0, err
	}
	return after, pending, from, to, nil
}

// Check validates the values of fr (with the schema's defaults) and
// returns the problems, each located at the file that holds the value.
func Check(fr values.Fragments, sch *schema.Schema, repo values.Repo) values.Problems {
	v := &values.Values{Repo: repo, Tree: fr.Tree(), Origins: fr.Origins()}
	sch.ApplyDefaults(v)
	return sch.Validate(v).Errors()
}

// RepoRules returns the creation rules of the repo's own .sops.yaml, each
// file's looked up once.
func RepoRules(repo values.Repo) secrets.RuleSource {
	cache := map[string]*secrets.Rule{}
	return func(rel string) (*secrets.Rule, error) {
		if r, ok := cache[rel]; ok {
			return r, nil
		}
		conf, ok := repo.SopsConfig()
		if !ok {
			return nil, fmt.Errorf("%s must be written encrypted, but the repo has no %s (otomi bootstrap writes one)", rel, values.SopsConfigFile)
		}
		r, err := secrets.RuleFor(conf, filepath.Join(repo.Root, filepath.FromSlash(rel)))
		if err != nil {
			return nil, err
		}
		cache[rel] = r
		return r, nil
	}
}
