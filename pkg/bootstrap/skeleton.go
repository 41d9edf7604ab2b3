package bootstrap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"text/template"

	"go.yaml.in/yaml/v3"
)

// SkeletonDir is where the platform fs keeps the files of a new values repo.
const SkeletonDir = "templates/bootstrap"

// SchemaCopy is the editor's copy of the values schema in a values repo.
const SchemaCopy = ".vscode/values-schema.json"

// skeletonFiles maps a file of SkeletonDir to its path in the values repo.
// A file is written only when it is missing: people may edit them.
var skeletonFiles = []struct{ src, dst string }{
	{"gitignore", ".gitignore"},
	{"gitattributes", ".gitattributes"},
	{"pre-commit-config.yaml", ".pre-commit-config.yaml"},
	{"vscode-settings.json", ".vscode/settings.json"},
	{"README.md.tmpl", "README.md"},
}

// skeletonData fills in README.md.tmpl.
type skeletonData struct {
	Cluster string
	Domain  string
}

// skeleton renders the repo's own files (path -> content).
func skeleton(platform fs.FS, data skeletonData) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, f := range skeletonFiles {
		src := path.Join(SkeletonDir, f.src)
		raw, err := fs.ReadFile(platform, src)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", src, err)
		}
		if path.Ext(f.src) == ".tmpl" {
			t, err := template.New(f.src).Option("missingkey=error").Parse(string(raw))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", src, err)
			}
			var buf bytes.Buffer
			if err := t.Execute(&buf, data); err != nil {
				return nil, fmt.Errorf("%s: %w", src, err)
			}
			raw = buf.Bytes()
		}
		out[f.dst] = raw
	}
	return out, nil
}

// editorSchema converts values-schema.yaml into the JSON schema editors
// apply to every values file. Each file holds only a part of the tree, so
// the root's required list is dropped.
func editorSchema(schemaYAML []byte) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(schemaYAML, &doc); err != nil {
		return nil, fmt.Errorf("values schema: %w", err)
	}
	delete(doc, "required")
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("values schema: %w", err)
	}
	return append(data, '\n'), nil
}
