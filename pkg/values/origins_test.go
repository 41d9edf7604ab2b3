package values

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi/internal/golden"
)

// TestOriginsGolden pins the origin of every node of a small repo.
func TestOriginsGolden(t *testing.T) {
	v, err := Load(context.Background(), "testdata/repo", nil)
	require.NoError(t, err)
	require.Empty(t, v.Problems)
	ptrs := make([]string, 0, len(v.Origins))
	for p := range v.Origins {
		ptrs = append(ptrs, p)
	}
	sort.Strings(ptrs)
	var b strings.Builder
	for _, p := range ptrs {
		val, ok := Get(v.Tree, p)
		require.True(t, ok, "origin for a node not in the tree: %s", p)
		fmt.Fprintf(&b, "%-40s %-40s %s\n", p, v.Origins[p], describe(val))
	}
	golden.Assert(t, "origins.txt", []byte(b.String()))
}

func describe(v any) string {
	switch t := v.(type) {
	case map[string]any:
		return "mapping"
	case []any:
		return "list"
	default:
		return fmt.Sprintf("%T %q", t, fmt.Sprint(t))
	}
}
