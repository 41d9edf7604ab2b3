package values

// mergeInto deep-merges src (with its origins) into dst under ptr: maps
// merge key by key, anything else (scalars, lists) replaces what was there.
// The origins of replaced subtrees are dropped, so an origin always names
// the file that set the value now in the tree.
func mergeInto(dst map[string]any, dstOrigins map[string]Origin, src map[string]any, srcOrigins map[string]Origin, ptr string) {
	for k, sv := range src {
		p := Join(ptr, k)
		dv, exists := dst[k]
		dm, dIsMap := dv.(map[string]any)
		sm, sIsMap := sv.(map[string]any)
		if exists && dIsMap && sIsMap {
			if _, ok := dstOrigins[p]; !ok {
				dstOrigins[p] = srcOrigins[p]
			}
			mergeInto(dm, dstOrigins, sm, srcOrigins, p)
			continue
		}
		if exists {
			forgetOrigins(dv, dstOrigins, p)
		}
		dst[k] = DeepCopy(sv)
		copyOrigins(sv, srcOrigins, dstOrigins, p)
	}
}

// copyOrigins copies the origins of v and everything below it.
func copyOrigins(v any, from, to map[string]Origin, ptr string) {
	if o, ok := from[ptr]; ok {
		to[ptr] = o
	}
	switch n := v.(type) {
	case map[string]any:
		for k, c := range n {
			copyOrigins(c, from, to, Join(ptr, k))
		}
	case []any:
		for i, c := range n {
			copyOrigins(c, from, to, JoinIndex(ptr, i))
		}
	}
}

// forgetOrigins drops the origins of v and everything below it.
func forgetOrigins(v any, origins map[string]Origin, ptr string) {
	delete(origins, ptr)
	switch n := v.(type) {
	case map[string]any:
		for k, c := range n {
			forgetOrigins(c, origins, Join(ptr, k))
		}
	case []any:
		for i, c := range n {
			forgetOrigins(c, origins, JoinIndex(ptr, i))
		}
	}
}

// DeepCopy copies a values tree so that the copy can be changed freely.
func DeepCopy(v any) any {
	switch n := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(n))
		for k, c := range n {
			out[k] = DeepCopy(c)
		}
		return out
	case []any:
		out := make([]any, len(n))
		for i, c := range n {
			out[i] = DeepCopy(c)
		}
		return out
	default:
		return v
	}
}
