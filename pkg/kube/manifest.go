package kube

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/release"
)

// KeepPolicy is helm's annotation that keeps a resource when its release
// is uninstalled or stops rendering it.
const (
	keepAnnotation = "helm.sh/resource-policy"
	keepValue      = "keep"
)

// KeepNamespaces marks every Namespace of a manifest with helm's keep
// policy, so that neither an uninstall nor an upgrade that drops it
// deletes a namespace (and everything in it): namespaces go only with
// `destroy --full`. Other documents are returned byte for byte.
func KeepNamespaces(text string) (string, error) {
	docs := splitDocs(text)
	changed := false
	for i, d := range docs {
		nd, ok, err := keepNamespace(d)
		if err != nil {
			return "", err
		}
		if ok {
			docs[i], changed = nd, true
		}
	}
	if !changed {
		return text, nil
	}
	return strings.Join(docs, ""), nil
}

// splitDocs cuts a stream after each "---" separator line, keeping every
// byte: joining the parts gives the text back.
func splitDocs(text string) []string {
	var docs []string
	start := 0
	for i := 0; i < len(text); {
		end := strings.IndexByte(text[i:], '\n')
		if end < 0 {
			break
		}
		line := text[i : i+end]
		if strings.TrimRight(line, " \t\r") == "---" && i > start {
			docs = append(docs, text[start:i])
			start = i
		}
		i += end + 1
	}
	return append(docs, text[start:])
}

// keepNamespace rewrites a "---"-led document if it is a v1 Namespace
// without a resource policy.
func keepNamespace(doc string) (string, bool, error) {
	if !strings.Contains(doc, "Namespace") {
		return doc, false, nil
	}
	// Leading separator and comment lines (# Source: ...) stay as they are.
	head, body := "", doc
	for body != "" {
		nl := strings.IndexByte(body, '\n')
		if nl < 0 {
			break
		}
		line := strings.TrimSpace(body[:nl])
		if line != "---" && !strings.HasPrefix(line, "#") && line != "" {
			break
		}
		head, body = head+body[:nl+1], body[nl+1:]
	}
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(body), &root); err != nil || len(root.Content) == 0 {
		return doc, false, nil // not ours to judge: helm reports bad YAML
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode || scalar(m, "apiVersion") != "v1" || scalar(m, "kind") != "Namespace" {
		return doc, false, nil
	}
	meta := child(m, "metadata")
	if meta == nil || meta.Kind != yaml.MappingNode {
		return doc, false, nil
	}
	ann := child(meta, "annotations")
	if ann == nil || ann.Kind != yaml.MappingNode || ann.Tag == "!!null" {
		ann = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		setChild(meta, "annotations", ann)
	}
	if child(ann, keepAnnotation) != nil {
		return doc, false, nil
	}
	ann.Content = append(ann.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: keepAnnotation},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: keepValue})
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return "", false, fmt.Errorf("encode namespace: %w", err)
	}
	return head + b.String(), true, nil
}

func child(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func setChild(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

func scalar(m *yaml.Node, key string) string {
	if c := child(m, key); c != nil && c.Kind == yaml.ScalarNode {
		return c.Value
	}
	return ""
}

// keepNamespacesRenderer is KeepNamespaces as a helm post-renderer.
type keepNamespacesRenderer struct{}

func (keepNamespacesRenderer) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	out, err := KeepNamespaces(in.String())
	if err != nil {
		return nil, err
	}
	return bytes.NewBufferString(out), nil
}

// StoredManifest is a stored release's manifest in the form render gives
// a rendered one: the manifest, then each hook under its # Source line.
func StoredManifest(rel *release.Release) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(rel.Manifest))
	b.WriteString("\n")
	for _, h := range rel.Hooks {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", h.Path, h.Manifest)
	}
	return b.String()
}

// sameManifest compares two manifests, ignoring surrounding whitespace.
func sameManifest(a, b string) bool {
	return strings.TrimSpace(a) == strings.TrimSpace(b)
}

// canonicalJSON encodes values with sorted keys and JSON's number form,
// so that values read back from helm's storage compare equal to the
// values that were stored.
func canonicalJSON(v map[string]any) ([]byte, error) {
	if v == nil {
		v = map[string]any{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var back any
	if err := json.Unmarshal(b, &back); err != nil {
		return nil, err
	}
	return json.Marshal(back)
}

// fingerprint hashes what decides a release beyond its manifest: the
// values, the chart's name and version and its CRDs.
func fingerprint(values []byte, chart, version string, crds []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "chart=%s\x00version=%s\x00values=", chart, version)
	h.Write(values)
	for _, c := range crds {
		h.Write([]byte{0})
		h.Write([]byte(c))
	}
	return hex.EncodeToString(h.Sum(nil))[:40]
}
