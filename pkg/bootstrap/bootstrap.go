// Package bootstrap creates or repairs a values repo: the skeleton files,
// the user's values split by the schema into the layout's files, generated
// secrets and a root CA, the keys and .sops.yaml, every secrets file
// encrypted before it touches the disk, pending migrations, and git. Run it
// twice with the same input and the second run changes no byte.
package bootstrap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/otomi/otomi/pkg/migrate"
	"github.com/otomi/otomi/pkg/schema"
	"github.com/otomi/otomi/pkg/secrets"
	"github.com/otomi/otomi/pkg/values"
)

// Options of a bootstrap run.
type Options struct {
	// EnvDir names the values repo, or its env/ folder; it may not exist yet.
	EnvDir string
	// Input is a YAML document of values (nil for none), named InputName in
	// messages. An encrypted document is decrypted in memory.
	Input     []byte
	InputName string
	// Values from flags, over Input.
	ClusterName, Provider, DomainSuffix string
	// KMS is the provider from --kms ("" keeps the repo's, else age) and
	// KMSKeys its key ids from --kms-key.
	KMS     string
	KMSKeys []string
	Keys    AgeKeys
	// UseKeyFile makes the key file at path the one sops decrypts with
	// (when no SOPS_AGE_KEY(_FILE) is set) and returns what undoes it.
	UseKeyFile func(path string) (restore func())

	Schema *schema.Schema
	// SchemaYAML is values-schema.yaml, copied for editors.
	SchemaYAML []byte
	// Platform holds the skeleton (templates/bootstrap).
	Platform fs.FS
	Codec    secrets.Codec
	Changes  *migrate.Changes
	// Disk is written through; nil is the real file system.
	Disk secrets.Disk
	Now  func() time.Time
}

// Result says what bootstrap did.
type Result struct {
	Root string
	// New is true when the repo had no values files before.
	New    bool
	Writes []secrets.FileWrite
	// From and To are the values format versions before and after;
	// Migrated the changes applied.
	From, To int
	Migrated []migrate.Change
	// Generated are the pointers of the secrets rendered from templates.
	Generated []string
	// Moved are the secrets found in plain files, moved to secrets files.
	Moved []string
	// CA is true when a root CA was generated.
	CA bool
	// KeyFile is the age key file in use (or SOPS_AGE_KEY), KeyGenerated
	// true when bootstrap created it.
	KeyFile      string
	KeyGenerated bool
	// GitInit is true when a git repository was created.
	GitInit bool
}

// Written counts the files created, updated or removed.
func (r *Result) Written() int {
	n := 0
	for _, w := range r.Writes {
		if w.Action != secrets.Unchanged {
			n++
		}
	}
	return n
}

// Run bootstraps the values repo. Nothing is written unless every step
// succeeded; a failure while writing undoes what was written.
func Run(ctx context.Context, opts Options) (*Result, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	sch := opts.Schema
	isSecret := sch.IsSecret
	root, env, err := locate(opts.EnvDir)
	if err != nil {
		return nil, err
	}
	repo := values.Repo{Root: root, Env: env}
	res := &Result{Root: root}

	in, inOrigins, err := opts.input(ctx)
	if err != nil {
		return nil, err
	}
	keys := opts.Keys
	if keys.EnvKey == "" && keys.EnvKeyFile == "" && opts.UseKeyFile != nil {
		if p := keys.KeyFile(earlyClusterName(in, env)); p != "" {
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				defer opts.UseKeyFile(p)()
				keys.EnvKeyFile = p
			}
		}
	}

	// The repo as it is, with pending migrations applied.
	fr := values.Fragments{}
	stored := map[string]secrets.StoredFile{}
	lineOrigins := map[string]values.Origin{}
	fresh, err := noValuesFiles(env)
	if err != nil {
		return nil, err
	}
	res.New = fresh
	if !fresh {
		v, err := values.Load(ctx, root, opts.Codec)
		if err != nil {
			return nil, err
		}
		if errs := v.Problems.Errors(); len(errs) > 0 {
			return nil, &migrate.Invalid{Subject: "values", Problems: errs}
		}
		if stored, err = secrets.Stored(v); err != nil {
			return nil, err
		}
		lineOrigins = v.Origins
		fr, res.Migrated, res.From, res.To, err = migrate.Pending(v.Fragments(), opts.Changes, sch)
		if err != nil {
			return nil, err
		}
		if res.Moved, err = moveMisplacedSecrets(fr, sch); err != nil {
			return nil, err
		}
	} else {
		res.From, res.To = opts.Changes.Latest(), opts.Changes.Latest()
	}

	// The user's values over the stored ones.
	if err := fr.Merge("", in, isSecret); err != nil {
		return nil, err
	}
	if err := fr.Put(migrate.VersionPointer, res.To, isSecret); err != nil {
		return nil, err
	}
	flagOrigins := map[string]values.Origin{}
	if err := kmsFlags(fr, opts.KMS, opts.KMSKeys, isSecret, flagOrigins); err != nil {
		return nil, err
	}
	origins := func() map[string]values.Origin {
		o := fr.Origins()
		for p, lo := range lineOrigins {
			if cur, ok := o[p]; ok && cur.File == lo.File {
				o[p] = lo
			}
		}
		for p, io := range inOrigins {
			o[p] = io
		}
		for p, fo := range flagOrigins {
			o[p] = fo
		}
		return o
	}
	if problems := check(fr, origins(), repo, sch); len(problems) > 0 {
		return nil, &migrate.Invalid{Subject: "values", Problems: problems}
	}

	// Keys, generated secrets, the CA.
	cluster, _ := fr.Get("/cluster/name")
	clusterName, _ := cluster.(string)
	kms, newKey, keySource, err := resolveKMS(fr, clusterName, keys, isSecret, now())
	if err != nil {
		return nil, err
	}
	res.KeyFile, res.KeyGenerated = keySource, newKey != nil
	given := map[string]bool{}
	values.Leaves(in, "", func(p string, _ any) { given[p] = true })
	gens, err := (&secrets.Generator{Schema: sch, Given: given}).Generate(fr)
	if err != nil {
		return nil, err
	}
	for _, g := range gens {
		res.Generated = append(res.Generated, g.Pointer)
	}
	if res.CA, err = ensureCA(fr, sch, clusterName, now()); err != nil {
		var inv *migrate.Invalid
		if errors.As(err, &inv) {
			o := origins()
			for i := range inv.Problems {
				inv.Problems[i].Origin = o[inv.Problems[i].Pointer]
			}
		}
		return nil, err
	}
	if problems := check(fr, origins(), repo, sch); len(problems) > 0 {
		return nil, &migrate.Invalid{Subject: "values", Problems: problems}
	}

	// Every file, in memory: secrets files encrypted.
	writes, err := planRepo(ctx, opts, repo, kms, fr, stored, skeletonData{Cluster: clusterName, Domain: stringAt(fr, "/cluster/domainSuffix")})
	if err != nil {
		return nil, err
	}
	res.Writes = writes

	// Write, all or nothing.
	tx := secrets.NewTx(opts.Disk)
	fail := func(err error) (*Result, error) {
		if rerr := tx.Rollback(); rerr != nil {
			return nil, fmt.Errorf("%w; undoing what was written also failed: %v", err, rerr)
		}
		return nil, fmt.Errorf("%w (nothing was changed)", err)
	}
	if newKey != nil {
		if err := tx.MkdirAll(filepath.Dir(newKey.Path), 0o700); err != nil {
			return fail(err)
		}
		if err := tx.WriteFile(newKey.Path, newKey.Data, 0o600); err != nil {
			return fail(err)
		}
	}
	if err := tx.MkdirAll(env, 0o755); err != nil {
		return fail(err)
	}
	if err := tx.Apply(root, writes); err != nil {
		return fail(err)
	}
	inRepo, err := inGitRepo(root)
	if err != nil {
		return fail(err)
	}
	if !inRepo {
		tx.OnRollback(func() error { return removeGit(root) })
		if err := gitInit(root); err != nil {
			return fail(err)
		}
		res.GitInit = true
	}
	return res, nil
}

// input parses the user's values and the flags into one tree.
func (o Options) input(ctx context.Context) (map[string]any, map[string]values.Origin, error) {
	tree := map[string]any{}
	origins := map[string]values.Origin{}
	if len(bytes.TrimSpace(o.Input)) > 0 {
		name := o.InputName
		if name == "" {
			name = "input"
		}
		data := o.Input
		encrypted := values.IsEncrypted(data)
		if encrypted {
			plain, err := o.Codec.Decrypt(ctx, name, data)
			if err != nil {
				return nil, nil, fmt.Errorf("decrypt %s: %w", name, err)
			}
			data = plain
		}
		t, or, problems := values.ParseYAML(name, data)
		if len(problems) > 0 {
			return nil, nil, &migrate.Invalid{Subject: "values", Problems: problems}
		}
		if t != nil {
			tree = t
		}
		for p, x := range or {
			x.Encrypted = encrypted
			origins[p] = x
		}
	}
	for _, f := range []struct{ ptr, val, flag string }{
		{"/cluster/name", o.ClusterName, "--cluster-name"},
		{"/cluster/provider", o.Provider, "--provider"},
		{"/cluster/domainSuffix", o.DomainSuffix, "--domain-suffix"},
	} {
		if f.val != "" {
			setIn(tree, f.ptr, f.val)
			origins[f.ptr] = values.Origin{File: f.flag}
		}
	}
	return tree, origins, nil
}

// locate returns the repo root and its env folder for dir, which may not
// exist yet: dir itself when it holds env/ or is not named env, otherwise
// (dir is the env folder) its parent.
func locate(dir string) (root, env string, err error) {
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", fmt.Errorf("env dir %s: %w", dir, err)
	}
	st, err := os.Stat(abs)
	switch {
	case err == nil && !st.IsDir():
		return "", "", fmt.Errorf("env dir %s is not a directory", dir)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return "", "", fmt.Errorf("env dir %s: %w", dir, err)
	}
	root, env = abs, filepath.Join(abs, values.EnvFolder)
	if _, err := os.Stat(env); err != nil && filepath.Base(abs) == values.EnvFolder {
		root, env = filepath.Dir(abs), abs
	}
	if st, err := os.Stat(env); err == nil && !st.IsDir() {
		return "", "", fmt.Errorf("%s is not a directory", env)
	}
	return root, env, nil
}

// noValuesFiles reports whether env holds no .yaml file yet.
func noValuesFiles(env string) (bool, error) {
	found := false
	err := filepath.WalkDir(env, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == env {
				return fs.SkipAll
			}
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			found = true
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("read %s: %w", env, err)
	}
	return !found, nil
}

// earlyClusterName finds the cluster's name before the repo is loaded: the
// input's (flags included), else the plain env/cluster.yaml's.
func earlyClusterName(in map[string]any, env string) string {
	if n, ok := values.Get(in, "/cluster/name"); ok {
		if s, ok := n.(string); ok {
			return s
		}
	}
	data, err := os.ReadFile(filepath.Join(env, "cluster.yaml"))
	if err != nil {
		return ""
	}
	tree, _, _ := values.ParseYAML("cluster.yaml", data)
	n, _ := values.Get(tree, "/cluster/name")
	s, _ := n.(string)
	return s
}

// moveMisplacedSecrets moves x-secret values found in plain files to the
// secrets files beside them (a value a secrets file already overrides is
// dropped from the plain file), so they are stored encrypted from now on.
func moveMisplacedSecrets(fr values.Fragments, sch *schema.Schema) ([]string, error) {
	var moved []string
	for _, p := range fr.Paths() {
		if f, _ := values.CheckPath(p); f.Secret {
			continue
		}
		for _, ptr := range sch.SecretPointers(fr[p]) {
			v, _ := values.Get(fr[p], ptr)
			one := values.Fragments{p: fr[p]}
			one.Delete(ptr)
			if len(fr[p]) == 0 {
				delete(fr, p)
			}
			if _, overridden := fr.Get(ptr); !overridden {
				if err := fr.Put(ptr, v, sch.IsSecret); err != nil {
					return nil, err
				}
			}
			moved = append(moved, ptr)
		}
	}
	return moved, nil
}

// check validates the values with the schema's defaults.
func check(fr values.Fragments, origins map[string]values.Origin, repo values.Repo, sch *schema.Schema) values.Problems {
	v := &values.Values{Repo: repo, Tree: fr.Tree(), Origins: origins}
	sch.ApplyDefaults(v)
	return sch.Validate(v).Errors()
}

// ensureCA generates the platform root CA when the values have none and
// the platform issues certificates with it (ingress.certificate.issuer
// custom-ca); a given CA is checked.
func ensureCA(fr values.Fragments, sch *schema.Schema, cluster string, now time.Time) (bool, error) {
	crt, hasCrt := fr.Get(CACertPointer)
	key, hasKey := fr.Get(CAKeyPointer)
	if hasCrt && hasKey {
		c, _ := crt.(string)
		k, _ := key.(string)
		if err := CheckCA(c, k); err != nil {
			return false, &migrate.Invalid{Subject: "values", Problems: values.Problems{{Pointer: CAKeyPointer, Rule: "ca", Message: err.Error()}}}
		}
		return false, nil
	}
	if hasCrt || hasKey {
		return false, nil // the schema reports the missing half
	}
	data := &values.Values{Tree: fr.Tree(), Origins: map[string]values.Origin{}}
	sch.ApplyDefaults(data)
	if issuer, _ := values.Get(data.Tree, "/ingress/certificate/issuer"); issuer != "custom-ca" {
		return false, nil
	}
	c, k, err := NewCA("otomi CA "+cluster, now)
	if err != nil {
		return false, err
	}
	if err := fr.Put(CACertPointer, c, sch.IsSecret); err != nil {
		return false, err
	}
	if err := fr.Put(CAKeyPointer, k, sch.IsSecret); err != nil {
		return false, err
	}
	return true, nil
}

// planRepo computes every file of the repo: the skeleton (where missing),
// the editor's schema copy, .sops.yaml and the values files.
func planRepo(ctx context.Context, opts Options, repo values.Repo, kms secrets.KMS, fr values.Fragments, stored map[string]secrets.StoredFile, data skeletonData) ([]secrets.FileWrite, error) {
	var writes []secrets.FileWrite
	sk, err := skeleton(opts.Platform, data)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(sk))
	for n := range sk {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w, err := planFile(repo.Root, n, sk[n], true)
		if err != nil {
			return nil, err
		}
		writes = append(writes, w)
	}
	schemaCopy, err := editorSchema(opts.SchemaYAML)
	if err != nil {
		return nil, err
	}
	w, err := planFile(repo.Root, SchemaCopy, schemaCopy, false)
	if err != nil {
		return nil, err
	}
	writes = append(writes, w)

	conf, err := secrets.SopsConfig(kms)
	if err != nil {
		return nil, err
	}
	rules, cleanup, err := secrets.ConfigRules(conf)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	const sample = "env/secrets.settings.yaml"
	want, err := rules(sample)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", values.SopsConfigFile, err)
	}
	if _, ok := repo.SopsConfig(); ok {
		// A .sops.yaml naming the same keys is kept as it is (comments,
		// rules of its own).
		repoRules := migrate.RepoRules(repo)
		if have, err := repoRules(sample); err == nil && slices.Equal(have.Recipients(), want.Recipients()) {
			rules = repoRules
			conf = nil
		}
	}
	if conf != nil {
		w, err := planFile(repo.Root, values.SopsConfigFile, conf, false)
		if err != nil {
			return nil, err
		}
		writes = append(writes, w)
	}
	vw, err := secrets.PlanValues(ctx, opts.Codec, rules, repo.Root, stored, fr)
	if err != nil {
		return nil, fmt.Errorf("the %s key cannot be used: %w", kms.Provider, err)
	}
	return append(writes, vw...), nil
}

// planFile compares content with the file on disk. onlyIfMissing keeps an
// existing file whatever it holds.
func planFile(root, rel string, content []byte, onlyIfMissing bool) (secrets.FileWrite, error) {
	w := secrets.FileWrite{Path: rel, Data: content, Perm: 0o644, Action: secrets.Create}
	old, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return w, nil
	case err != nil:
		return w, fmt.Errorf("read %s: %w", rel, err)
	case onlyIfMissing || bytes.Equal(old, content):
		w.Action, w.Data = secrets.Unchanged, old
	default:
		w.Action = secrets.Update
	}
	return w, nil
}

func stringAt(fr values.Fragments, ptr string) string {
	v, _ := fr.Get(ptr)
	s, _ := v.(string)
	return s
}

// setIn stores val at ptr in tree, creating maps on the way.
func setIn(tree map[string]any, ptr string, val any) {
	segs := values.Split(ptr)
	m := tree
	for _, s := range segs[:len(segs)-1] {
		next, ok := m[s].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[s] = next
		}
		m = next
	}
	m[segs[len(segs)-1]] = val
}
