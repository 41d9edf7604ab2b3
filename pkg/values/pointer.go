package values

import (
	"strconv"
	"strings"
)

// Pointer builds an RFC 6901 JSON pointer from path segments.
func Pointer(segments ...string) string {
	if len(segments) == 0 {
		return ""
	}
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(escapeToken(s))
	}
	return b.String()
}

// Join appends segments to an existing pointer.
func Join(ptr string, segments ...string) string {
	return ptr + Pointer(segments...)
}

// JoinIndex appends a list index to an existing pointer.
func JoinIndex(ptr string, i int) string {
	return ptr + "/" + strconv.Itoa(i)
}

// Split returns the unescaped segments of a JSON pointer.
func Split(ptr string) []string {
	if ptr == "" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	for i, p := range parts {
		parts[i] = unescapeToken(p)
	}
	return parts
}

// Parent returns the pointer of the enclosing node ("" for the root).
func Parent(ptr string) string {
	i := strings.LastIndexByte(ptr, '/')
	if i <= 0 {
		return ""
	}
	return ptr[:i]
}

// HasPrefix reports whether ptr equals prefix or lies below it.
func HasPrefix(ptr, prefix string) bool {
	return ptr == prefix || strings.HasPrefix(ptr, prefix+"/") || prefix == ""
}

func escapeToken(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func unescapeToken(s string) string {
	if !strings.Contains(s, "~") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

// Get returns the node at ptr in tree.
func Get(tree any, ptr string) (any, bool) {
	cur := tree
	for _, seg := range Split(ptr) {
		switch n := cur.(type) {
		case map[string]any:
			v, ok := n[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(n) {
				return nil, false
			}
			cur = n[i]
		default:
			return nil, false
		}
	}
	return cur, true
}
