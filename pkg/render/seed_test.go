package render

import (
	"reflect"
	"testing"

	"github.com/helmfile/helmfile/pkg/app"
	"github.com/helmfile/helmfile/pkg/filesystem"
	"github.com/stretchr/testify/require"
)

// TestSeedHelmLayout pins the private layout of helmfile's App that
// seedHelm relies on: when helmfile changes it, this fails (and loading
// falls back to running the binary as helm).
func TestSeedHelmLayout(t *testing.T) {
	a := app.New(&config{file: "testdata/ok/helmfile.d", logger: quietLogger()}).WithFileSystem(filesystem.DefaultFileSystem())
	require.NoError(t, seedHelm(a, "/bin/otomi-test"))
	v := reflect.ValueOf(a).Elem().FieldByName("helms")
	require.True(t, v.IsValid(), "helmfile's App has no helms field any more")
	require.Equal(t, reflect.Map, v.Kind())
	require.Equal(t, 1, v.Len(), "the in-process helm was not stored")
	key := v.MapKeys()[0]
	require.Equal(t, "/bin/otomi-test", key.FieldByName("Binary").String())
	require.Equal(t, "", key.FieldByName("Context").String())
}
