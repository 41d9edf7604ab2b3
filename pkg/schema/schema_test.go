package schema

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi/pkg/values"
)

func loadTestSchema(t *testing.T) *Schema {
	t.Helper()
	data, err := os.ReadFile("testdata/schema.yaml")
	require.NoError(t, err)
	s, err := Load("testdata/schema.yaml", data)
	require.NoError(t, err)
	return s
}

// tree parses YAML documents as files of a values repo, merged in order.
func valuesFrom(t *testing.T, files map[string]string, order ...string) *values.Values {
	t.Helper()
	v := &values.Values{Tree: map[string]any{}, Origins: map[string]values.Origin{}}
	for _, name := range order {
		tree, origins, problems := values.ParseYAML(name, []byte(files[name]))
		require.Empty(t, problems)
		for p, o := range origins {
			v.Origins[p] = o
		}
		for k, val := range tree {
			v.Tree[k] = values.DeepCopy(val)
		}
		v.Sources = append(v.Sources, values.Source{File: values.File{Path: name, Secret: strings.Contains(name, "secrets.")}, Tree: tree, Origins: origins})
	}
	return v
}

func TestValidateReportsEveryViolationWithOrigin(t *testing.T) {
	s := loadTestSchema(t)
	v := valuesFrom(t, map[string]string{
		"env/cluster.yaml":     "cluster:\n  name: Demo_1\n  providr: aws\n",
		"env/apps/harbor.yaml": "apps:\n  harbor:\n    enabled: true\n    replicas: two\n    resourcse: {}\n",
		"env/teams.yaml":       "teamConfig:\n  Bad_Team: {}\n  demo:\n    services:\n      - name: web\n        ingress: publik\n        port: 0\n",
	}, "env/cluster.yaml", "env/apps/harbor.yaml", "env/teams.yaml")
	s.ApplyDefaults(v)
	got := map[string]values.Problem{}
	for _, p := range s.Validate(v) {
		got[p.Pointer] = p
	}
	cases := []struct {
		ptr, origin, contains string
	}{
		{"/cluster/name", "env/cluster.yaml:2:9", `expected a string matching ^[a-z0-9-]+$, got "Demo_1"`},
		{"/cluster/providr", "env/cluster.yaml:3:3", `unknown property "providr" (did you mean "provider"?)`},
		{"/cluster/provider", "env/cluster.yaml:1:1", `missing required property "provider"`},
		{"/apps/harbor/replicas", "env/apps/harbor.yaml:4:15", `expected integer, got a string "two"`},
		{"/apps/harbor/resourcse", "env/apps/harbor.yaml:5:5", `did you mean "resources"?`},
		{"/teamConfig/Bad_Team", "env/teams.yaml:2:3", `invalid name "Bad_Team": expected a name matching ^[a-z][a-z0-9-]*$`},
		{"/teamConfig/demo/services/0/ingress", "env/teams.yaml:6:18", `expected one of public, sso, cluster, got "publik" (did you mean "public"?)`},
		{"/teamConfig/demo/services/0/port", "env/teams.yaml:7:15", "expected a number >= 1, got 0"},
	}
	for _, c := range cases {
		t.Run(c.ptr, func(t *testing.T) {
			p, ok := got[c.ptr]
			require.True(t, ok, "no problem at %s; got %v", c.ptr, got)
			assert.Equal(t, c.origin, p.Origin.String())
			assert.Contains(t, p.Message, c.contains)
		})
	}
	assert.Len(t, got, len(cases))
}

func TestValidateRedactsSecrets(t *testing.T) {
	s := loadTestSchema(t)
	v := valuesFrom(t, map[string]string{
		"env/cluster.yaml":          "cluster: {name: demo, provider: aws}\n",
		"env/secrets.settings.yaml": "smtp:\n  password: short\notomi:\n  adminPassword: 12345\n",
	}, "env/cluster.yaml", "env/secrets.settings.yaml")
	problems := s.Validate(v)
	require.Len(t, problems, 2)
	for _, p := range problems {
		assert.NotContains(t, p.Message, "short")
		assert.NotContains(t, p.Message, "12345")
	}
	assert.Contains(t, problems[0].Message+problems[1].Message, Redacted)
}

func TestApplyDefaults(t *testing.T) {
	s := loadTestSchema(t)
	v := valuesFrom(t, map[string]string{
		"env/cluster.yaml":     "cluster: {name: demo, provider: aws}\n",
		"env/teams.yaml":       "teamConfig:\n  demo:\n    services: [{name: web}, {name: api, ingress: sso}]\n",
		"env/apps/harbor.yaml": "apps:\n  harbor:\n    replicas: 3\n",
	}, "env/cluster.yaml", "env/teams.yaml", "env/apps/harbor.yaml")
	s.ApplyDefaults(v)
	get := func(p string) any { val, _ := values.Get(v.Tree, p); return val }
	assert.Equal(t, 1, get("/version"))
	assert.Equal(t, true, get("/otomi/isMultitenant"))
	assert.Equal(t, false, get("/apps/harbor/enabled"))
	assert.Equal(t, 3, get("/apps/harbor/replicas"), "a set value is kept")
	assert.Equal(t, "128Mi", get("/apps/harbor/resources/memory"))
	assert.Equal(t, true, get("/apps/istio/enabled"))
	assert.Equal(t, "public", get("/teamConfig/demo/services/0/ingress"))
	assert.Equal(t, "sso", get("/teamConfig/demo/services/1/ingress"))
	_, hasSmtp := values.Get(v.Tree, "/smtp")
	assert.False(t, hasSmtp, "no object without a default below it")
	o := v.Origins["/apps/harbor/enabled"]
	assert.True(t, o.Default)
	assert.Equal(t, "testdata/schema.yaml", o.File)
	assert.Positive(t, o.Line)
	assert.Empty(t, s.Validate(v))
}

func TestSecrets(t *testing.T) {
	s := loadTestSchema(t)
	assert.True(t, s.IsSecret("/teamConfig/demo/password"))
	assert.True(t, s.IsSecret("/apps/harbor/adminPassword"))
	assert.False(t, s.IsSecret("/apps/harbor/replicas"))
	leaves := s.SecretLeaves()
	assert.Equal(t, []SecretLeaf{
		{Pattern: "/apps/harbor/adminPassword", Template: "{{ randAlphaNum 16 }}"},
		{Pattern: "/otomi/adminPassword", Template: "{{ randAlphaNum 20 }}"},
		{Pattern: "/smtp/password", Template: ""},
		{Pattern: "/teamConfig/*/password", Template: "{{ randAlphaNum 20 }}"},
	}, leaves)
	assert.Equal(t, map[string]string{"harbor": "shared", "istio": "core"}, s.Apps())
}

func TestCheckPlacement(t *testing.T) {
	s := loadTestSchema(t)
	v := valuesFrom(t, map[string]string{
		"env/teams.yaml":               "teamConfig:\n  demo:\n    password: plain-secret\n",
		"env/apps/secrets.harbor.yaml": "apps:\n  harbor:\n    adminPassword: x\n    replicas: 2\n",
	}, "env/teams.yaml", "env/apps/secrets.harbor.yaml")
	problems := s.CheckPlacement(v)
	require.Len(t, problems, 2)
	byPtr := map[string]values.Problem{}
	for _, p := range problems {
		byPtr[p.Pointer] = p
	}
	pw := byPtr["/teamConfig/demo/password"]
	assert.False(t, pw.Warning)
	assert.Equal(t, "env/teams.yaml:3:15", pw.Origin.String())
	assert.Contains(t, pw.Message, "move it to env/secrets.teams.yaml")
	assert.NotContains(t, pw.Message, "plain-secret")
	rep := byPtr["/apps/harbor/replicas"]
	assert.True(t, rep.Warning)
	assert.Contains(t, rep.Message, "env/apps/harbor.yaml")
}

func TestDefaultsNeverCreateAnObjectMissingRequiredProperties(t *testing.T) {
	data := []byte(`type: object
properties:
  ksvc:
    type: object
    required: [image]
    properties:
      image: {type: string}
      scaleToZero: {type: boolean, default: true}
  probe:
    type: object
    properties:
      port: {type: integer, default: 8080}
`)
	s, err := Load("inline.yaml", data)
	require.NoError(t, err)
	v := &values.Values{Tree: map[string]any{}, Origins: map[string]values.Origin{}}
	s.ApplyDefaults(v)
	assert.Equal(t, map[string]any{"probe": map[string]any{"port": 8080}}, v.Tree)
	assert.Empty(t, s.Validate(v))
}
