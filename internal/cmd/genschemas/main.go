// Command genschemas generates the Kubernetes API schemas otomi embeds, from
// the OpenAPI (swagger) document that each k8s.io/kubernetes release
// carries in its module (api/openapi-spec/swagger.json), fetched through
// the Go module proxy. One gzipped JSON file per minor:
//
//	{"version": "v1.35.4", "gvks": {"apps/v1/Deployment": "io.k8s.api.apps.v1.Deployment", ...},
//	 "definitions": {...}}
//
// Definitions lose their descriptions; int-or-string and quantities become
// anyOf string/number; objects with declared properties refuse unknown
// fields (strict, as kubectl's field validation is); optional fields accept
// null, as the API server does.
//
// Usage: go run ./internal/cmd/genschemas -out pkg/validate/schemas v1.35.4 v1.34.4 ...
// With -kubeconform DIR it writes the built-in schemas of one minor in
// kubeconform's folder layout (for the benchmark).
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/otomi/otomi/pkg/validate"
)

func main() {
	out := flag.String("out", "pkg/validate/schemas", "folder for the generated files")
	kubeconform := flag.String("kubeconform", "", "write kubeconform's layout of the built-in schemas of -from into this folder")
	from := flag.String("from", "", "generated file (kubernetes-X.Y.json.gz) to convert with -kubeconform")
	flag.Parse()
	if *kubeconform != "" {
		if err := writeKubeconform(*from, *kubeconform); err != nil {
			fail(err)
		}
		return
	}
	if flag.NArg() == 0 {
		fail(fmt.Errorf("name the k8s.io/kubernetes versions to generate, e.g. v1.35.4"))
	}
	for _, v := range flag.Args() {
		if err := generate(v, *out); err != nil {
			fail(fmt.Errorf("%s: %w", v, err))
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "genschemas:", err)
	os.Exit(1)
}

// moduleDir downloads k8s.io/kubernetes@version through the module proxy.
func moduleDir(version string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", "k8s.io/kubernetes@"+version)
	cmd.Stderr = os.Stderr
	data, err := cmd.Output()
	if err != nil {
		return "", err
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(data, &info); err != nil {
		return "", err
	}
	if info.Error != "" {
		return "", fmt.Errorf("%s", info.Error)
	}
	return info.Dir, nil
}

// File is the generated document of one minor.
type File struct {
	Version     string                    `json:"version"`
	GVKs        map[string]string         `json:"gvks"`
	Definitions map[string]map[string]any `json:"definitions"`
}

func generate(version, out string) error {
	dir, err := moduleDir(version)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(dir, "api", "openapi-spec", "swagger.json"))
	if err != nil {
		return err
	}
	var swagger struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(data, &swagger); err != nil {
		return err
	}
	f := File{Version: version, GVKs: map[string]string{}, Definitions: map[string]map[string]any{}}
	for name, def := range swagger.Definitions {
		if gvks, ok := def["x-kubernetes-group-version-kind"].([]any); ok && len(gvks) == 1 {
			g := gvks[0].(map[string]any)
			gv := g["version"].(string)
			if grp := g["group"].(string); grp != "" {
				gv = grp + "/" + gv
			}
			f.GVKs[gv+"/"+g["kind"].(string)] = name
		}
		switch name {
		case "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
			f.Definitions[name] = map[string]any{"anyOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
			continue
		case "io.k8s.apimachinery.pkg.api.resource.Quantity":
			f.Definitions[name] = map[string]any{"anyOf": []any{
				map[string]any{"type": "string", "pattern": validate.QuantityPattern},
				map[string]any{"type": "number"},
			}}
			continue
		}
		f.Definitions[name] = transform(def, true)
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	enc := json.NewEncoder(zw)
	if err := enc.Encode(f); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	minor := strings.Join(strings.Split(strings.TrimPrefix(version, "v"), ".")[:2], ".")
	path := filepath.Join(out, "kubernetes-"+minor+".json.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Printf("%s: %d definitions, %d kinds -> %s (%d bytes)\n", version, len(f.Definitions), len(f.GVKs), path, buf.Len())
	return nil
}

// transform rewrites one schema node (see the package comment).
func transform(s map[string]any, top bool) map[string]any {
	out := map[string]any{}
	for k, v := range s {
		switch k {
		case "description", "x-kubernetes-group-version-kind", "x-kubernetes-patch-merge-key",
			"x-kubernetes-patch-strategy", "x-kubernetes-list-map-keys", "x-kubernetes-list-type",
			"x-kubernetes-map-type", "x-kubernetes-unions":
			continue
		case "properties":
			props := map[string]any{}
			for name, p := range v.(map[string]any) {
				props[name] = nullable(transform(p.(map[string]any), false))
			}
			out[k] = props
		case "items":
			if m, ok := v.(map[string]any); ok {
				out[k] = transform(m, false)
			}
		case "additionalProperties":
			if m, ok := v.(map[string]any); ok {
				out[k] = transform(m, false)
			} else {
				out[k] = v
			}
		case "allOf", "anyOf", "oneOf":
			var list []any
			for _, e := range v.([]any) {
				list = append(list, transform(e.(map[string]any), false))
			}
			out[k] = list
		case "format":
			// Only int-or-string matters (handled by its definition);
			// other formats (int32, byte, date-time) the server parses itself.
			continue
		default:
			out[k] = v
		}
	}
	if _, hasProps := out["properties"]; hasProps {
		if _, set := out["additionalProperties"]; !set {
			out["additionalProperties"] = false
		}
	}
	_ = top
	return out
}

// nullable lets an optional field be null, as the API server accepts.
func nullable(s map[string]any) map[string]any {
	if ref, ok := s["$ref"]; ok {
		return map[string]any{"anyOf": []any{map[string]any{"$ref": ref}, map[string]any{"type": "null"}}}
	}
	if t, ok := s["type"].(string); ok {
		s["type"] = []any{t, "null"}
	}
	return s
}

func writeKubeconform(from, dir string) error {
	minor := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(from), "kubernetes-"), ".json.gz")
	return validate.WriteKubeconformSchemas(minor, dir)
}
