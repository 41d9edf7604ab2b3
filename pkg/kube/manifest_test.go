package kube

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeepNamespaces(t *testing.T) {
	in := `---
# Source: base/templates/namespaces.yaml
apiVersion: v1
kind: Namespace
metadata:
  name: apps
  labels:
    a: b
---
# Source: base/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name:   odd-spacing   # kept byte for byte
---
# Source: base/templates/ns2.yaml
apiVersion: v1
kind: Namespace
metadata:
  name: mine
  annotations:
    helm.sh/resource-policy: delete-me-not
`
	out, err := KeepNamespaces(in)
	require.NoError(t, err)
	assert.Equal(t, `---
# Source: base/templates/namespaces.yaml
apiVersion: v1
kind: Namespace
metadata:
  name: apps
  labels:
    a: b
  annotations:
    helm.sh/resource-policy: keep
---
# Source: base/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name:   odd-spacing   # kept byte for byte
---
# Source: base/templates/ns2.yaml
apiVersion: v1
kind: Namespace
metadata:
  name: mine
  annotations:
    helm.sh/resource-policy: delete-me-not
`, out)
	again, err := KeepNamespaces(out)
	require.NoError(t, err)
	assert.Equal(t, out, again, "idempotent")
	assert.Equal(t, []string{"apps", "mine"}, ManifestNamespaces(out))
}
