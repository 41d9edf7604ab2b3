package secrets

import (
	"testing"
	"text/template"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadsValues(t *testing.T) {
	cases := map[string]bool{
		`{{ randAlphaNum 24 }}`:                                false,
		`{{ randAlphaNum 32 | b64enc }}`:                       false,
		`{{ .apps.loki.adminPassword | sha256sum }}`:           true,
		`{{ sibling "password" | bcrypt }}`:                    true,
		`{{ if .otomi }}x{{ else }}{{ randAscii 3 }}{{ end }}`: true,
		`{{ htpasswd "admin" $.apps.loki.adminPassword }}`:     true,
	}
	for text, want := range cases {
		tmpl, err := template.New("x").Funcs(templateFuncs()).Parse(text)
		require.NoError(t, err)
		assert.Equal(t, want, readsValues(tmpl.Tree), text)
	}
}

func TestExpandPattern(t *testing.T) {
	tree := map[string]any{
		"teamConfig": map[string]any{"b": map[string]any{}, "a": map[string]any{"password": "x"}, "c": "not a team"},
		"apps":       map[string]any{"harbor": map[string]any{"enabled": false}},
	}
	assert.Equal(t, []string{"/teamConfig/a/password", "/teamConfig/b/password"}, expandPattern(tree, "/teamConfig/*/password"))
	assert.Equal(t, []string{"/apps/harbor/secretKey"}, expandPattern(tree, "/apps/harbor/secretKey"))
	assert.Empty(t, expandPattern(tree, "/apps/loki/adminPassword"), "no loki: nothing to generate")
	assert.False(t, appEnabled(tree, "/apps/harbor/secretKey"))
	assert.True(t, appEnabled(tree, "/otomi/adminPassword"))
}
