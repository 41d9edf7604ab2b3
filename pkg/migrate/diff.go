package migrate

import (
	"reflect"
	"sort"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/otomi/otomi/pkg/schema"
	"github.com/otomi/otomi/pkg/values"
)

// Changed marks a secret whose value a change altered.
const Changed = schema.Redacted + " (changed)"

// Diff renders what changes between two sets of values files as a unified
// diff per file, with every secret value (each value of a secrets file and
// every x-secret leaf) replaced by <redacted>, or "<redacted> (changed)"
// where its value differs from the value at the same place before.
func Diff(before, after values.Fragments, isSecret func(ptr string) bool) string {
	prevTree := before.Tree()
	paths := map[string]bool{}
	for p := range before {
		paths[p] = true
	}
	for p := range after {
		paths[p] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	var b strings.Builder
	for _, p := range sorted {
		secretFile := false
		if f, err := values.CheckPath(p); err == nil {
			secretFile = f.Secret
		}
		a := redacted(before[p], secretFile, isSecret, nil)
		z := redacted(after[p], secretFile, isSecret, prevTree)
		if a == z {
			continue
		}
		from, to := "a/"+p, "b/"+p
		if before[p] == nil {
			from = "/dev/null"
		}
		if after[p] == nil {
			to = "/dev/null"
		}
		text, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: lines(a), B: lines(z),
			FromFile: from, ToFile: to, Context: 3,
		})
		b.WriteString(text)
	}
	return b.String()
}

// redacted encodes a file's tree with its secrets replaced. With prev, a
// secret that differs from prev at the same pointer is marked changed.
func redacted(tree map[string]any, secretFile bool, isSecret func(string) bool, prev map[string]any) string {
	if tree == nil {
		return ""
	}
	mark := func(ptr string, v any) string {
		if prev != nil {
			if old, ok := values.Get(prev, ptr); ok && !reflect.DeepEqual(old, v) {
				return Changed
			}
		}
		return schema.Redacted
	}
	m := map[string]any{}
	if secretFile {
		values.Leaves(tree, "", func(ptr string, v any) { setLeaf(m, values.Split(ptr), mark(ptr, v)) })
	} else {
		var walk func(v any, ptr string) any
		walk = func(v any, ptr string) any {
			if isSecret(ptr) {
				return mark(ptr, v)
			}
			switch t := v.(type) {
			case map[string]any:
				out := make(map[string]any, len(t))
				for k, c := range t {
					out[k] = walk(c, values.Join(ptr, k))
				}
				return out
			case []any:
				out := make([]any, len(t))
				for i, c := range t {
					out[i] = walk(c, values.JoinIndex(ptr, i))
				}
				return out
			}
			return v
		}
		for k, c := range tree {
			m[k] = walk(c, values.Pointer(k))
		}
	}
	data, err := values.Encode(m)
	if err != nil {
		return ""
	}
	return string(data)
}

func setLeaf(m map[string]any, segs []string, v any) {
	if len(segs) == 0 {
		return
	}
	for _, s := range segs[:len(segs)-1] {
		next, ok := m[s].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[s] = next
		}
		m = next
	}
	m[segs[len(segs)-1]] = v
}

// lines splits text after each newline, without an empty last line.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	out := strings.SplitAfter(s, "\n")
	if out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}
