package values

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// maxFileSize bounds a values file; anything larger is refused unread.
const maxFileSize = 8 << 20

// SopsConfigFile is the name of the SOPS configuration at the repo root.
const SopsConfigFile = ".sops.yaml"

// Decrypter turns a SOPS-encrypted file into its plaintext, in memory.
type Decrypter interface {
	Decrypt(ctx context.Context, path string, data []byte) ([]byte, error)
}

// Repo is a located values repo.
type Repo struct {
	// Root is the repo's top folder (holding .sops.yaml, env/, ...).
	Root string
	// Env is the folder holding the values files (Root/env).
	Env string
}

// SopsConfig returns the path of the repo's .sops.yaml and whether it exists.
func (r Repo) SopsConfig() (string, bool) {
	p := filepath.Join(r.Root, SopsConfigFile)
	st, err := os.Stat(p)
	return p, err == nil && st.Mode().IsRegular()
}

// Rel returns p relative to the repo root, slash-separated.
func (r Repo) Rel(p string) string {
	if rel, err := filepath.Rel(r.Root, p); err == nil {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(p)
}

// Locate finds the values repo for dir: dir itself when it holds env/, or
// the parent of dir when dir is the env folder itself.
func Locate(dir string) (Repo, error) {
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Repo{}, fmt.Errorf("env dir %s: %w", dir, err)
	}
	st, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Repo{}, fmt.Errorf("env dir %s does not exist (set --env-dir or OTOMI_ENV_DIR to a values repo)", dir)
	case err != nil:
		return Repo{}, fmt.Errorf("env dir %s: %w", dir, err)
	case !st.IsDir():
		return Repo{}, fmt.Errorf("env dir %s is not a directory", dir)
	}
	if st, err := os.Stat(filepath.Join(abs, EnvFolder)); err == nil && st.IsDir() {
		return Repo{Root: abs, Env: filepath.Join(abs, EnvFolder)}, nil
	}
	if filepath.Base(abs) == EnvFolder {
		return Repo{Root: filepath.Dir(abs), Env: abs}, nil
	}
	return Repo{}, fmt.Errorf("env dir %s holds no %s/ folder: a values repo keeps its values in %s", dir, EnvFolder, LayoutHelp)
}

// Values is the merged values tree of a repo with the origin of every node.
type Values struct {
	Repo Repo
	// Sources are the files as read, in merge order, each with its own tree.
	Sources []Source
	// Tree is the merged tree: maps, lists, strings, numbers, booleans, nil.
	Tree map[string]any
	// Origins maps the JSON pointer of every node to where it was set.
	Origins map[string]Origin
	// Problems found while loading (malformed files, misplaced values, ...).
	// Loading goes on past them so that every problem is reported at once.
	Problems Problems
}

// Source is one values file and its own content, before merging.
type Source struct {
	File File
	// Tree is nil when the file could not be read, parsed or decrypted.
	Tree    map[string]any
	Origins map[string]Origin
}

// Files lists the values files in merge order.
func (v *Values) Files() []File {
	out := make([]File, len(v.Sources))
	for i, s := range v.Sources {
		out[i] = s.File
	}
	return out
}

// Unreadable reports whether ptr lies where a file that could not be
// loaded would have set values: what is missing there is a consequence of
// that file's problem, not a problem of its own.
func (v *Values) Unreadable(ptr string) bool {
	for _, s := range v.Sources {
		if s.Tree != nil {
			continue
		}
		if s.File.Scope == "" {
			segs := Split(ptr)
			if len(segs) > 0 && ownedElsewhere(segs[0]) == "" {
				return true
			}
			continue
		}
		if HasPrefix(ptr, s.File.Scope) {
			return true
		}
	}
	return false
}

// Origin returns where the node at ptr came from; for a node that was never
// set it returns the origin of its closest ancestor that was.
func (v *Values) Origin(ptr string) Origin {
	for {
		if o, ok := v.Origins[ptr]; ok {
			return o
		}
		if ptr == "" {
			return Origin{File: EnvFolder + "/"}
		}
		ptr = Parent(ptr)
	}
}

// Set stores val at ptr (creating maps on the way) with the given origin.
func (v *Values) Set(ptr string, val any, o Origin) {
	segs := Split(ptr)
	cur := v.Tree
	for i, seg := range segs[:len(segs)-1] {
		next, ok := cur[seg].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[seg] = next
			v.Origins[Pointer(segs[:i+1]...)] = o
		}
		cur = next
	}
	cur[segs[len(segs)-1]] = val
	v.Origins[ptr] = o
}

// Load reads and merges the values files of the repo at dir. Encrypted files
// are decrypted in memory by dec; with a nil dec they are reported as
// problems. The returned error is for a repo that cannot be read at all;
// problems with single files are in Values.Problems.
func Load(ctx context.Context, dir string, dec Decrypter) (*Values, error) {
	repo, err := Locate(dir)
	if err != nil {
		return nil, err
	}
	files, problems, err := discover(repo)
	if err != nil {
		return nil, err
	}
	docs := make([]document, len(files))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			docs[i] = readFile(ctx, repo, &files[i], dec)
		}(i)
	}
	wg.Wait()

	v := &Values{Repo: repo, Tree: map[string]any{}, Origins: map[string]Origin{}, Problems: problems}
	for i, f := range files {
		d := docs[i]
		v.Sources = append(v.Sources, Source{File: f, Tree: d.tree, Origins: d.origins})
		v.Problems = append(v.Problems, d.problems...)
		if d.tree == nil {
			continue
		}
		v.Problems = append(v.Problems, enforceScope(f, d.tree, d.origins)...)
		mergeInto(v.Tree, v.Origins, d.tree, d.origins, "")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return v, nil
}

// discover lists the values files of the repo in merge order.
func discover(repo Repo) ([]File, Problems, error) {
	var files []File
	var problems Problems
	err := filepath.WalkDir(repo.Env, func(p string, d fs.DirEntry, err error) error {
		rel := repo.Rel(p)
		if err != nil {
			problems = append(problems, Problem{Origin: Origin{File: rel}, Rule: "read", Message: err.Error()})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		name := d.Name()
		if p != repo.Env && strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			return nil
		}
		envRel, _ := filepath.Rel(repo.Env, p)
		envRel = filepath.ToSlash(envRel)
		if strings.HasSuffix(name, ".yml") {
			problems = append(problems, Problem{Origin: Origin{File: rel}, Rule: "layout",
				Message: "values files end in .yaml; rename it to " + strings.TrimSuffix(name, ".yml") + ".yaml"})
			return nil
		}
		f, ok := classify(envRel)
		if !ok {
			problems = append(problems, Problem{Origin: Origin{File: rel}, Rule: "layout",
				Message: "this file has no place in a values repo (expected " + LayoutHelp + ")"})
			return nil
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", repo.Env, err)
	}
	if len(files) == 0 && len(problems) == 0 {
		return nil, nil, fmt.Errorf("%s holds no values files (expected %s)", repo.Env, LayoutHelp)
	}
	sortFiles(files)
	return files, problems, nil
}

// readFile reads, decrypts when needed, and parses one values file.
func readFile(ctx context.Context, repo Repo, f *File, dec Decrypter) document {
	full := filepath.Join(repo.Root, filepath.FromSlash(f.Path))
	fail := func(rule, msg string) document {
		return document{problems: []Problem{{Origin: Origin{File: f.Path}, Rule: rule, Message: msg}}}
	}
	st, err := os.Stat(full)
	if err != nil {
		return fail("read", err.Error())
	}
	if st.Size() > maxFileSize {
		return fail("read", fmt.Sprintf("file is %d bytes, more than the %d a values file may have", st.Size(), maxFileSize))
	}
	data, err := os.ReadFile(full)
	if err != nil {
		return fail("read", strings.TrimPrefix(err.Error(), "open "+full+": "))
	}
	onDisk, err := parseNode(data)
	if err != nil {
		return document{problems: []Problem{yamlProblem(f.Path, err)}}
	}
	if !isEncrypted(onDisk) {
		return parseDocument(f.Path, data, nil, false)
	}
	f.Encrypted = true
	if dec == nil {
		return fail("decrypt", "the file is SOPS-encrypted and no decrypter is configured")
	}
	plain, err := dec.Decrypt(ctx, full, data)
	if err != nil {
		return fail("decrypt", err.Error())
	}
	return parseDocument(f.Path, plain, onDisk, true)
}

// isEncrypted reports whether a parsed document carries SOPS metadata.
func isEncrypted(doc *yaml.Node) bool {
	if doc == nil || len(doc.Content) == 0 {
		return false
	}
	body := doc.Content[0]
	if body.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(body.Content); i += 2 {
		if body.Content[i].Value == "sops" && body.Content[i+1].Kind == yaml.MappingNode {
			return true
		}
	}
	return false
}

// IsEncrypted reports whether data is a SOPS-encrypted YAML document.
func IsEncrypted(data []byte) bool {
	n, err := parseNode(data)
	return err == nil && isEncrypted(n)
}

// CheckEncryption reports secrets files stored in plaintext: an error when
// the repo has a .sops.yaml (they would be committed in the clear), else
// one warning.
func (v *Values) CheckEncryption() Problems {
	_, hasConfig := v.Repo.SopsConfig()
	var plain []File
	for _, f := range v.Files() {
		if f.Secret && !f.Encrypted {
			plain = append(plain, f)
		}
	}
	if len(plain) == 0 {
		return nil
	}
	if !hasConfig {
		return Problems{{Origin: Origin{File: SopsConfigFile}, Rule: "encryption", Warning: true,
			Message: fmt.Sprintf("no .sops.yaml: %d secrets files are stored in plaintext", len(plain))}}
	}
	var out Problems
	for _, f := range plain {
		out = append(out, Problem{Origin: Origin{File: f.Path}, Rule: "encryption",
			Message: "secrets file is plaintext while .sops.yaml exists: run 'otomi encrypt' before committing"})
	}
	return out
}

// PlaintextSecretsFiles lists the secrets.*.yaml files under the repo's
// env/ folder that are not SOPS-encrypted.
func PlaintextSecretsFiles(repo Repo) ([]string, error) {
	var out []string
	err := filepath.WalkDir(repo.Env, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != repo.Env {
			return fs.SkipDir
		}
		name := d.Name()
		if !d.Type().IsRegular() || !strings.HasPrefix(name, "secrets.") || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !IsEncrypted(data) {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}
