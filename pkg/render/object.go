package render

import (
	"fmt"
	"sort"
	"strings"
	"unicode"

	"sigs.k8s.io/yaml"
)

// Object is one Kubernetes object of a rendered release.
type Object struct {
	// Source is the chart template it came from (the # Source: header).
	Source     string
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	// Body is the object as parsed (helm's YAML reading).
	Body map[string]any
	// YAML is the document text as rendered.
	YAML string
}

// Ref names the object: kind/namespace/name.
func (o *Object) Ref() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// parseObjects splits a release's manifest into objects.
func parseObjects(r *Release, text string) ([]*Object, error) {
	var out []*Object
	for _, doc := range splitDocuments(text) {
		source, body := "", doc
		if strings.HasPrefix(doc, "# Source: ") {
			line, rest, _ := strings.Cut(doc, "\n")
			source, body = strings.TrimPrefix(line, "# Source: "), rest
		}
		if strings.TrimSpace(stripComments(body)) == "" {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(body), &m); err != nil {
			return nil, fmt.Errorf("%s: rendered YAML does not parse: %w", sourceOr(source, r.Chart), err)
		}
		if m == nil {
			continue
		}
		o := &Object{Source: source, Body: m, YAML: doc}
		o.APIVersion, _ = m["apiVersion"].(string)
		o.Kind, _ = m["kind"].(string)
		if meta, ok := m["metadata"].(map[string]any); ok {
			o.Name, _ = meta["name"].(string)
			o.Namespace, _ = meta["namespace"].(string)
		}
		out = append(out, o)
	}
	return out, nil
}

func sourceOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// splitDocuments splits a multi-document YAML stream on "---" lines.
func splitDocuments(text string) []string {
	var docs []string
	var cur strings.Builder
	for _, line := range strings.SplitAfter(text, "\n") {
		if strings.TrimRight(line, " \t\r\n") == "---" {
			docs = append(docs, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteString(line)
	}
	docs = append(docs, cur.String())
	var out []string
	for _, d := range docs {
		if strings.TrimSpace(d) != "" {
			out = append(out, d)
		}
	}
	return out
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
			b.WriteString("\n")
		}
	}
	return b.String()
}

// clusterScoped lists the built-in kinds that have no namespace.
var clusterScoped = map[string]bool{
	"Namespace": true, "Node": true, "PersistentVolume": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"CustomResourceDefinition": true, "APIService": true, "PriorityClass": true, "StorageClass": true,
	"CSIDriver": true, "CSINode": true, "VolumeAttachment": true, "IngressClass": true, "RuntimeClass": true,
	"MutatingWebhookConfiguration": true, "ValidatingWebhookConfiguration": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true,
	"MutatingAdmissionPolicy": true, "MutatingAdmissionPolicyBinding": true,
	"CertificateSigningRequest": true, "FlowSchema": true, "PriorityLevelConfiguration": true,
	"ComponentStatus": true, "PodSecurityPolicy": true, "IPAddress": true, "ServiceCIDR": true,
	"DeviceClass": true, "VolumeAttributesClass": true,
}

// StructureProblem is an object that lacks what every Kubernetes object
// needs, or one rendered twice.
type StructureProblem struct {
	Release *Release
	Object  *Object
	// Rule is missing-field, scope or duplicate.
	Rule    string
	Message string
}

func (p StructureProblem) Error() string {
	return fmt.Sprintf("release %s, %s: %s", p.Release.Name, sourceOr(p.Object.Source, "?"), p.Message)
}

// CheckStructure reports objects that lack what every Kubernetes object
// needs: apiVersion, kind, metadata.name and, for namespaced kinds, a
// namespace. Custom kinds are namespaced unless a rendered CRD says
// otherwise. Duplicates (same kind, namespace and name) are reported too,
// except identical CRDs that several releases of one chart share.
func CheckStructure(manifests []*Manifest) []StructureProblem {
	scope := map[string]string{}
	for _, m := range manifests {
		for _, o := range m.Objects {
			if o.Kind == "CustomResourceDefinition" {
				spec, _ := o.Body["spec"].(map[string]any)
				names, _ := spec["names"].(map[string]any)
				kind, _ := names["kind"].(string)
				s, _ := spec["scope"].(string)
				scope[kind] = s
			}
		}
	}
	var out []StructureProblem
	type first struct{ release, body string }
	seen := map[string]first{}
	for _, m := range manifests {
		for _, o := range m.Objects {
			add := func(rule, format string, args ...any) {
				out = append(out, StructureProblem{Release: m.Release, Object: o, Rule: rule, Message: fmt.Sprintf(format, args...)})
			}
			var missing []string
			if o.APIVersion == "" {
				missing = append(missing, "apiVersion")
			}
			if o.Kind == "" {
				missing = append(missing, "kind")
			}
			if o.Name == "" {
				missing = append(missing, "metadata.name")
			}
			namespaced := !clusterScoped[o.Kind] && scope[o.Kind] != "Cluster"
			if namespaced && o.Namespace == "" {
				missing = append(missing, "metadata.namespace")
			}
			if !namespaced && o.Namespace != "" {
				add("scope", "%s is cluster-scoped but sets metadata.namespace %q", o.Ref(), o.Namespace)
			}
			if len(missing) > 0 {
				add("missing-field", "%s %q lacks %s", sourceOr(o.Kind, "object"), o.Name, strings.Join(missing, ", "))
				continue
			}
			key := o.APIVersion + " " + o.Ref()
			body := strings.TrimPrefix(o.YAML, "# Source: "+o.Source+"\n")
			if prev, dup := seen[key]; dup {
				if o.Kind == "CustomResourceDefinition" && prev.body == body {
					continue
				}
				add("duplicate", "%s is also rendered by release %s", o.Ref(), prev.release)
				continue
			}
			seen[key] = first{m.Release.Name, body}
		}
	}
	return out
}

// Images lists the container images the manifests use, sorted and
// de-duplicated: every containers, initContainers and ephemeralContainers
// entry anywhere in any object (pod templates of every workload kind, and
// custom resources that embed pod specs), and the steps and sidecars of
// Tekton tasks (inline in Pipelines too), which run as containers of the
// task pods. Images a workload starts itself (sidecars it injects, pods it
// creates, images named in flags, env or ConfigMaps) are listed by the chart
// in the annotation ImagesAnnotation of the object that names them.
func Images(manifests []*Manifest) []string {
	set := map[string]bool{}
	for _, m := range manifests {
		for _, o := range m.Objects {
			collectImages(o.Body, set)
			for _, img := range AnnotatedImages(o.Body) {
				set[img] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for img := range set {
		out = append(out, img)
	}
	sort.Strings(out)
	return out
}

// ImagesAnnotation lists, separated by commas or white space, the images an
// object's workload starts without naming them in a container list.
const ImagesAnnotation = "otomi.io/images"

// AnnotatedImages returns the images of an object's ImagesAnnotation.
func AnnotatedImages(body map[string]any) []string {
	meta, _ := body["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	list, _ := ann[ImagesAnnotation].(string)
	return strings.FieldsFunc(list, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// containerLists are the keys whose value is a list of containers.
var containerLists = map[string]bool{
	"containers": true, "initContainers": true, "ephemeralContainers": true,
	"steps": true, "sidecars": true, // Tekton Task, TaskRun, Pipeline taskSpec
}

func collectImages(v any, set map[string]bool) {
	switch t := v.(type) {
	case map[string]any:
		for k, c := range t {
			if containerLists[k] {
				if list, ok := c.([]any); ok {
					for _, item := range list {
						if ctr, ok := item.(map[string]any); ok {
							if img, ok := ctr["image"].(string); ok && img != "" {
								set[img] = true
							}
						}
					}
				}
			}
			collectImages(c, set)
		}
	case []any:
		for _, c := range t {
			collectImages(c, set)
		}
	}
}
