// Command otomi drives a Kubernetes platform from a values repo.
package main

import (
	"os"

	"github.com/otomi/otomi/pkg/cmd/root"
)

func main() { os.Exit(root.Main()) }
