package values

import (
	"bytes"
	"fmt"
	"path"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Fragments are the values files of a repo by path (slash-separated, relative
// to the repo root, e.g. "env/apps/harbor.yaml"), each holding its part of
// the tree starting from the root. It is the inverse of Load: a tree split
// into the layout's files, secret leaves in the secrets files.
type Fragments map[string]map[string]any

// TeamFileKinds are the keys of a team that get a file of their own,
// env/teams/<kind>.<team>.yaml, when otomi places them.
var TeamFileKinds = []string{"backups", "builds", "jobs", "netpols", "services", "workloads"}

// Fragments returns a copy of the content of every file that was read.
func (v *Values) Fragments() Fragments {
	fr := Fragments{}
	for _, s := range v.Sources {
		if s.Tree != nil {
			fr[s.File.Path] = DeepCopy(s.Tree).(map[string]any)
		}
	}
	return fr
}

// Clone returns a deep copy.
func (fr Fragments) Clone() Fragments {
	out := make(Fragments, len(fr))
	for p, t := range fr {
		out[p] = DeepCopy(t).(map[string]any)
	}
	return out
}

// Paths lists the files in merge order.
func (fr Fragments) Paths() []string {
	files := make([]File, 0, len(fr))
	for p := range fr {
		f, _ := CheckPath(p)
		files = append(files, f)
	}
	sortFiles(files)
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Path
	}
	return out
}

// Tree merges the files the way Load does.
func (fr Fragments) Tree() map[string]any {
	tree := map[string]any{}
	origins := map[string]Origin{}
	for _, p := range fr.Paths() {
		mergeInto(tree, origins, fr[p], map[string]Origin{}, "")
	}
	return tree
}

// Equal reports whether two sets of files hold the same values.
func (fr Fragments) Equal(other Fragments) bool {
	return reflect.DeepEqual(map[string]map[string]any(fr), map[string]map[string]any(other))
}

// CheckPath returns the place in the layout of a values file path such as
// "env/apps/harbor.yaml", or an error naming the layout.
func CheckPath(p string) (File, error) {
	rel, ok := strings.CutPrefix(p, EnvFolder+"/")
	if !ok || path.Clean(p) != p || !strings.HasSuffix(p, ".yaml") {
		return File{Path: p}, fmt.Errorf("%s is not a values file: expected %s", p, LayoutHelp)
	}
	f, ok := classify(rel)
	if !ok {
		return f, fmt.Errorf("%s has no place in a values repo: expected %s", p, LayoutHelp)
	}
	return f, nil
}

// FileFor returns the file a value at ptr belongs in when nothing holds it
// yet: its scope's file, or the secrets file beside it when secret.
func FileFor(ptr string, secret bool) (string, error) {
	segs := Split(ptr)
	if len(segs) == 0 {
		return "", fmt.Errorf("the root of the values is not a leaf")
	}
	name := func(dir, base string) string {
		if secret {
			base = "secrets." + base
		}
		return path.Join(EnvFolder, dir, base+".yaml")
	}
	var p string
	switch segs[0] {
	case "cluster":
		if secret {
			return "", fmt.Errorf("%s: env/cluster.yaml has no secrets file; a secret cannot live under /cluster", ptr)
		}
		p = name("", "cluster")
	case "teamConfig":
		switch {
		case len(segs) < 2:
			return "", fmt.Errorf("%s: teamConfig holds one entry per team", ptr)
		case len(segs) >= 3 && contains(TeamFileKinds, segs[2]):
			p = name("teams", segs[2]+"."+segs[1])
		default:
			p = name("", "teams")
		}
	case "apps", "databases":
		if len(segs) < 2 {
			return "", fmt.Errorf("%s: %s holds one entry per name", ptr, segs[0])
		}
		p = name(segs[0], segs[1])
	default:
		p = name("", "settings")
	}
	if _, err := CheckPath(p); err != nil {
		return "", fmt.Errorf("%s: %w", ptr, err)
	}
	return p, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Holders lists, in merge order, the files that set the node at ptr.
func (fr Fragments) Holders(ptr string) []string {
	var out []string
	for _, p := range fr.Paths() {
		if _, ok := Get(fr[p], ptr); ok {
			out = append(out, p)
		}
	}
	return out
}

// Get returns the merged value at ptr.
func (fr Fragments) Get(ptr string) (any, bool) {
	return Get(fr.Tree(), ptr)
}

// Delete removes the node at ptr from every file, drops the maps it leaves
// empty and the files it leaves empty. It reports whether anything was there.
func (fr Fragments) Delete(ptr string) bool {
	found := false
	for p, tree := range fr {
		if deleteAt(tree, Split(ptr)) {
			found = true
			if len(tree) == 0 {
				delete(fr, p)
			}
		}
	}
	return found
}

// deleteAt removes the node at segs and prunes maps that become empty.
func deleteAt(m map[string]any, segs []string) bool {
	if len(segs) == 0 {
		return false
	}
	if len(segs) == 1 {
		_, ok := m[segs[0]]
		delete(m, segs[0])
		return ok
	}
	child, ok := m[segs[0]].(map[string]any)
	if !ok {
		return false
	}
	if !deleteAt(child, segs[1:]) {
		return false
	}
	if len(child) == 0 {
		delete(m, segs[0])
	}
	return true
}

// Put sets the node at ptr to val: it replaces what was there and places
// every leaf of val (a scalar or a list, or a secret node) in a file. A
// leaf some file held before stays in that file; a new one goes to the file
// FileFor names, secret per isSecret.
func (fr Fragments) Put(ptr string, val any, isSecret func(ptr string) bool) error {
	if ptr == "" {
		m, ok := val.(map[string]any)
		if !ok {
			return fmt.Errorf("the values must be a mapping")
		}
		for _, k := range sortedKeys(m) {
			if err := fr.Put(Pointer(k), m[k], isSecret); err != nil {
				return err
			}
		}
		return nil
	}
	before := map[string]string{}
	fr.leafHolders(ptr, before)
	fr.Delete(ptr)
	return fr.place(ptr, val, isSecret, before)
}

// Merge sets every leaf of val below ptr, keeping what val does not name:
// maps merge, anything else replaces.
func (fr Fragments) Merge(ptr string, val any, isSecret func(ptr string) bool) error {
	if m, ok := val.(map[string]any); ok && (ptr == "" || !isSecret(ptr)) {
		if len(m) == 0 && ptr != "" {
			// An empty mapping only asks for the node to exist.
			if _, exists := fr.Get(ptr); exists {
				return nil
			}
			return fr.Put(ptr, map[string]any{}, isSecret)
		}
		for _, k := range sortedKeys(m) {
			if err := fr.Merge(Join(ptr, k), m[k], isSecret); err != nil {
				return err
			}
		}
		return nil
	}
	return fr.Put(ptr, val, isSecret)
}

// leafHolders records, for every leaf at or below ptr, the last file (in
// merge order) that holds it.
func (fr Fragments) leafHolders(ptr string, out map[string]string) {
	for _, p := range fr.Paths() {
		v, ok := Get(fr[p], ptr)
		if !ok {
			continue
		}
		var walk func(v any, at string)
		walk = func(v any, at string) {
			if m, ok := v.(map[string]any); ok && len(m) > 0 {
				for k, c := range m {
					walk(c, Join(at, k))
				}
				return
			}
			out[at] = p
		}
		walk(v, ptr)
	}
}

func (fr Fragments) place(ptr string, val any, isSecret func(string) bool, before map[string]string) error {
	if m, ok := val.(map[string]any); ok && len(m) > 0 && !isSecret(ptr) {
		for _, k := range sortedKeys(m) {
			if err := fr.place(Join(ptr, k), m[k], isSecret, before); err != nil {
				return err
			}
		}
		return nil
	}
	file, ok := before[ptr]
	if !ok {
		var err error
		if file, err = FileFor(ptr, isSecret(ptr)); err != nil {
			return err
		}
	}
	tree := fr[file]
	if tree == nil {
		tree = map[string]any{}
		fr[file] = tree
	}
	setAt(tree, Split(ptr), DeepCopy(val))
	return nil
}

// setAt stores val at segs, creating (or replacing non-map values with) maps
// on the way.
func setAt(m map[string]any, segs []string, val any) {
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

// Rename moves a file to another path of the layout, its content to the
// new file's scope. A missing from is not an error (nothing to rename); an
// existing to is.
func (fr Fragments) Rename(from, to string) error {
	ff, err := CheckPath(from)
	if err != nil {
		return err
	}
	tf, err := CheckPath(to)
	if err != nil {
		return err
	}
	if ff.Secret != tf.Secret {
		return fmt.Errorf("rename %s to %s: a secrets file can only be renamed to a secrets file, a plain file to a plain file", from, to)
	}
	tree, ok := fr[from]
	if !ok {
		return nil
	}
	if _, exists := fr[to]; exists {
		return fmt.Errorf("rename %s to %s: %s exists already", from, to, to)
	}
	if (ff.Scope == "") != (tf.Scope == "") {
		return fmt.Errorf("rename %s to %s: the settings files cannot change scope", from, to)
	}
	delete(fr, from)
	if ff.Scope == tf.Scope {
		fr[to] = tree
		return nil
	}
	content, ok := Get(tree, ff.Scope)
	if !ok {
		return nil
	}
	moved := map[string]any{}
	setAt(moved, Split(tf.Scope), content)
	fr[to] = moved
	return nil
}

// Encode renders a file's tree as YAML: keys sorted, two-space indent.
func Encode(tree map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(tree); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Leaves calls fn for every leaf of tree (scalars, lists, empty maps) in
// sorted order, with its pointer below ptr.
func Leaves(tree any, ptr string, fn func(ptr string, v any)) {
	m, ok := tree.(map[string]any)
	if !ok || len(m) == 0 {
		fn(ptr, tree)
		return
	}
	keys := sortedKeys(m)
	sort.Strings(keys)
	for _, k := range keys {
		Leaves(m[k], Join(ptr, k), fn)
	}
}

// Origins returns, for every node of every file, the file that sets it (no
// line: the files may not be written yet). Values of secrets files are
// marked encrypted, so that reports redact them.
func (fr Fragments) Origins() map[string]Origin {
	out := map[string]Origin{}
	for _, p := range fr.Paths() {
		f, _ := CheckPath(p)
		o := Origin{File: p, Encrypted: f.Secret}
		var walk func(v any, ptr string)
		walk = func(v any, ptr string) {
			out[ptr] = o
			switch t := v.(type) {
			case map[string]any:
				for k, c := range t {
					walk(c, Join(ptr, k))
				}
			case []any:
				for i, c := range t {
					walk(c, JoinIndex(ptr, i))
				}
			}
		}
		for k, c := range fr[p] {
			walk(c, Pointer(k))
		}
	}
	return out
}

// EncodeOver renders tree as YAML over the file's previous content old,
// keeping what did not change as it was written: key order, comments and
// the style of unchanged values. New keys are added after the existing
// ones. It falls back to Encode when old is not a plain mapping document
// (anchors and aliases included).
func EncodeOver(old []byte, tree map[string]any) ([]byte, error) {
	doc, err := parseNode(old)
	if err != nil || doc == nil || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode || hasAliases(doc) {
		return Encode(tree)
	}
	body, err := patchNode(doc.Content[0], tree)
	if err != nil {
		return Encode(tree)
	}
	doc.Content[0] = body
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func hasAliases(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode || n.Anchor != "" || n.Tag == "!!merge" {
		return true
	}
	for _, c := range n.Content {
		if hasAliases(c) {
			return true
		}
	}
	return false
}

// patchNode returns n changed to hold val, reusing the nodes that already
// hold the same value.
func patchNode(n *yaml.Node, val any) (*yaml.Node, error) {
	if m, ok := val.(map[string]any); ok && n.Kind == yaml.MappingNode {
		seen := map[string]bool{}
		var content []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			nv, keep := m[k.Value]
			if !keep || seen[k.Value] {
				continue
			}
			seen[k.Value] = true
			pv, err := patchNode(v, nv)
			if err != nil {
				return nil, err
			}
			content = append(content, k, pv)
		}
		for _, k := range sortedKeys(m) {
			if seen[k] {
				continue
			}
			nv, err := valueNode(m[k])
			if err != nil {
				return nil, err
			}
			content = append(content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, nv)
		}
		out := *n
		out.Content = content
		return &out, nil
	}
	var cur any
	if err := n.Decode(&cur); err == nil && reflect.DeepEqual(normalizeDecoded(cur), val) {
		return n, nil
	}
	nv, err := valueNode(val)
	if err != nil {
		return nil, err
	}
	nv.HeadComment, nv.LineComment, nv.FootComment = n.HeadComment, n.LineComment, n.FootComment
	return nv, nil
}

// valueNode encodes a value as a node, as Encode would write it.
func valueNode(val any) (*yaml.Node, error) {
	var n yaml.Node
	if err := n.Encode(val); err != nil {
		return nil, err
	}
	return &n, nil
}

// normalizeDecoded turns yaml.v3's decoded maps into the loader's types.
func normalizeDecoded(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, c := range t {
			out[k] = normalizeDecoded(c)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, c := range t {
			out[i] = normalizeDecoded(c)
		}
		return out
	}
	return v
}
