// Command gengatekeeper writes the generated files of the gatekeeper-constraints chart from the platform
// policies (policies/*.yaml): the constraint CRDs, the ConstraintTemplates (Gatekeeper's CEL engine) and
// the policies' kinds and default parameters. Run from the repository root: go run ./internal/cmd/gengatekeeper
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/otomi/otomi/pkg/validate"
)

func main() {
	policies, err := validate.LoadPolicies(os.DirFS("."))
	if err != nil {
		fail(err)
	}
	files, err := validate.GatekeeperFiles(policies)
	if err != nil {
		fail(err)
	}
	for rel, data := range files {
		path := filepath.Join(validate.GatekeeperChart, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			fail(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gengatekeeper:", err)
	os.Exit(1)
}
