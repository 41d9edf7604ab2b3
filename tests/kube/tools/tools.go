//go:build tools

// Package tools records the Kubernetes commands tests/kube/build.sh builds, so
// that `go mod tidy` in this module keeps them and their dependencies.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
