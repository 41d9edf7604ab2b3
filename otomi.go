// Package otomi holds the platform that the otomi binary carries: the
// values schema (and, as they land, helmfile.d, charts and templates).
package otomi

import _ "embed"

// ValuesSchema is values-schema.yaml, the JSON schema of a values repo.
//
//go:embed values-schema.yaml
var ValuesSchema []byte
