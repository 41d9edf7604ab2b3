// Package build carries the version of the binary, set at link time with
// -ldflags "-X github.com/otomi/otomi/pkg/build.Version=v1.2.3 ...".
package build

var (
	// Version of otomi.
	Version = "dev"
	// Commit the binary was built from.
	Commit = ""
	// Date of the build (RFC 3339).
	Date = ""
)
