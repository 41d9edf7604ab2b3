package objdiff

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const old = `---
# Source: app/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
  namespace: apps
data:
  greeting: hello
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: apps
stringData:
  password: old-canary
  user: admin
data:
  token: b2xkLWNhbmFyeQ==
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: gone
  namespace: apps
`

const updated = `---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: apps
  labels:
    rotated: "yes"
stringData:
  password: new-canary
  user: admin
  extra: more-canary
---
# Source: app/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  namespace: apps
  name: cm
data:
  greeting: hello
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: new
  namespace: apps
`

func TestCompare(t *testing.T) {
	changes, err := Compare(old, updated)
	require.NoError(t, err)
	var got []string
	for _, c := range changes {
		got = append(got, string(c.Op)+" "+c.String())
	}
	assert.Equal(t, []string{"changed Secret apps/creds", "added ConfigMap apps/new", "removed Deployment apps/gone"}, got,
		"the ConfigMap differs only in key order and comments: unchanged")
	secret := changes[0]
	assert.Equal(t, []KeyChange{{"stringData.extra", Added}, {"stringData.password", Changed}, {"token", Removed}}, secret.SecretKeys)
	assert.Contains(t, secret.Diff, "+    rotated: \"yes\"")
	assert.Contains(t, secret.Diff, "-  token: <redacted>")
	assert.NotContains(t, secret.Diff, "canary", "no Secret value in a diff")
	assert.NotContains(t, secret.Diff, "b2xk")
}

func TestCompareOnlySecretData(t *testing.T) {
	a := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  k: YQ==\n"
	b := strings.Replace(a, "YQ==", "Yg==", 1)
	changes, err := Compare(a, b)
	require.NoError(t, err)
	require.Len(t, changes, 1)
	assert.Empty(t, changes[0].Diff, "only a value changed: nothing to show but the key")
	assert.Equal(t, []KeyChange{{"k", Changed}}, changes[0].SecretKeys)

	changes, err = Compare(a, a)
	require.NoError(t, err)
	assert.Empty(t, changes)
}
