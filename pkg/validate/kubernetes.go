package validate

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed schemas/kubernetes-*.json.gz
var schemaFiles embed.FS

// schemaFile is the generated document of one Kubernetes minor (see
// internal/cmd/genschemas).
type schemaFile struct {
	Version     string                    `json:"version"`
	GVKs        map[string]string         `json:"gvks"`
	Definitions map[string]map[string]any `json:"definitions"`
}

// KubeVersions lists the Kubernetes minors whose schemas are built in,
// oldest first.
func KubeVersions() []string {
	entries, _ := schemaFiles.ReadDir("schemas")
	var out []string
	for _, e := range entries {
		v := strings.TrimSuffix(strings.TrimPrefix(e.Name(), "kubernetes-"), ".json.gz")
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return minorLess(out[i], out[j]) })
	return out
}

func minorLess(a, b string) bool {
	var am, an, bm, bn int
	fmt.Sscanf(a, "%d.%d", &am, &an)
	fmt.Sscanf(b, "%d.%d", &bm, &bn)
	if am != bm {
		return am < bm
	}
	return an < bn
}

// QuantityPattern is the grammar of resource.Quantity, as the generated
// schemas spell it.
const QuantityPattern = `^[+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$`

// kubeSchemas validates built-in kinds of one minor; kinds compile on first use.
type kubeSchemas struct {
	minor    string
	version  string
	gvks     map[string]string
	compiler *jsonschema.Compiler
	url      string

	mu       sync.Mutex
	compiled map[string]*jsonschema.Schema
}

var (
	kubeMu    sync.Mutex
	kubeCache = map[string]*kubeSchemas{}
)

// kubernetesSchemas loads the schemas of a minor ("1.35").
func kubernetesSchemas(minor string) (*kubeSchemas, error) {
	kubeMu.Lock()
	defer kubeMu.Unlock()
	if ks, ok := kubeCache[minor]; ok {
		return ks, nil
	}
	raw, err := schemaFiles.ReadFile("schemas/kubernetes-" + minor + ".json.gz")
	if err != nil {
		return nil, fmt.Errorf("no built-in schemas for Kubernetes %s (built in: %s)", minor, strings.Join(KubeVersions(), ", "))
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	var f schemaFile
	dec := json.NewDecoder(zr)
	dec.UseNumber()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("built-in schemas for Kubernetes %s: %w", minor, err)
	}
	defs := make(map[string]any, len(f.Definitions))
	for k, v := range f.Definitions {
		defs[k] = v
	}
	url := "file:///otomi/kubernetes-" + minor + ".json"
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	if err := c.AddResource(url, map[string]any{"definitions": defs}); err != nil {
		return nil, err
	}
	ks := &kubeSchemas{minor: minor, version: f.Version, gvks: f.GVKs, compiler: c, url: url, compiled: map[string]*jsonschema.Schema{}}
	kubeCache[minor] = ks
	return ks, nil
}

// schemaFor returns the schema of apiVersion/kind, or nil when the minor
// does not serve it.
func (ks *kubeSchemas) schemaFor(apiVersion, kind string) (*jsonschema.Schema, error) {
	def, ok := ks.gvks[apiVersion+"/"+kind]
	if !ok {
		return nil, nil
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if s, ok := ks.compiled[def]; ok {
		return s, nil
	}
	s, err := ks.compiler.Compile(ks.url + "#/definitions/" + def)
	if err != nil {
		return nil, fmt.Errorf("compile schema of %s %s: %w", apiVersion, kind, err)
	}
	ks.compiled[def] = s
	return s, nil
}

// servesGroupVersion reports whether any kind of apiVersion is served.
func (ks *kubeSchemas) servesGroupVersion(apiVersion string) bool {
	for gvk := range ks.gvks {
		if strings.HasPrefix(gvk, apiVersion+"/") && strings.Count(gvk[len(apiVersion)+1:], "/") == 0 {
			return true
		}
	}
	return false
}

// WriteKubeconformSchemas writes the built-in schemas of a minor in
// kubeconform's layout (<kind>[-<group>]-<version>.json referring to
// _definitions.json), so both tools can check against the same schemas.
func WriteKubeconformSchemas(minor, dir string) error {
	raw, err := schemaFiles.ReadFile("schemas/kubernetes-" + minor + ".json.gz")
	if err != nil {
		return fmt.Errorf("no built-in schemas for Kubernetes %s", minor)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	var f schemaFile
	if err := json.NewDecoder(zr).Decode(&f); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defs, err := json.Marshal(map[string]any{"definitions": f.Definitions})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "_definitions.json"), defs, 0o644); err != nil {
		return err
	}
	for gvk, def := range f.GVKs {
		parts := strings.Split(gvk, "/")
		kind := strings.ToLower(parts[len(parts)-1])
		version := parts[len(parts)-2]
		name := kind + "-" + version + ".json"
		if len(parts) == 3 {
			name = kind + "-" + strings.Split(parts[0], ".")[0] + "-" + version + ".json"
		}
		doc := fmt.Sprintf(`{"$ref": "_definitions.json#/definitions/%s"}`, def)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(doc), 0o644); err != nil {
			return err
		}
	}
	return nil
}
