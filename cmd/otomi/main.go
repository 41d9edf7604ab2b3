// Command otomi drives a Kubernetes platform from a values repo.
package main

import (
	"os"

	"github.com/otomi/otomi/pkg/cmd/root"
	"github.com/otomi/otomi/pkg/render"
)

func main() {
	// helmfile may probe this binary as its helm (see render.HelmVersionShim).
	if render.HelmVersionShim(os.Args[1:], os.Stdout) {
		return
	}
	os.Exit(root.Main())
}
