//go:build tools

// Package tools records the reference CLIs the interop tests build from the
// versions in go.mod (helm v3, helmfile), so `go mod tidy` keeps them.
package tools

import (
	_ "github.com/helmfile/helmfile"
	_ "helm.sh/helm/v3/cmd/helm"
)
