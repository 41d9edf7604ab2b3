// Package otomi holds the platform that the otomi binary carries: the
// values schema, helmfile.d, the charts and the shared templates.
package otomi

import (
	"embed"
	"io/fs"
)

// ValuesSchema is values-schema.yaml, the JSON schema of a values repo.
//
//go:embed values-schema.yaml
var ValuesSchema []byte

//go:embed all:charts all:helmfile.d all:templates all:policies values-schema.yaml values-changes.yaml values-changes.schema.yaml
var platform embed.FS

// Platform returns the platform files: charts/, helmfile.d/, templates/
// policies/ and values-schema.yaml, as they were when the binary was built.
func Platform() fs.FS { return platform }
