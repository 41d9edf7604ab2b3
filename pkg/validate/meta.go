package validate

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	labelName    = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
)

// labelKinds have names that are DNS labels rather than subdomains.
var labelKinds = map[string]bool{"Namespace": true, "Service": true}

// pathSegmentKinds accept any name that is a valid URL path segment (RBAC
// names such as "system:controller:x"), as custom resources do.
var pathSegmentKinds = map[string]bool{"Role": true, "ClusterRole": true, "RoleBinding": true, "ClusterRoleBinding": true}

// metaProblems checks what the API server checks of every object's
// metadata: the name's syntax and the labels' keys and values. builtin
// says whether the kind is a Kubernetes kind (custom kinds only need a
// path segment as name).
func metaProblems(kind string, builtin bool, obj map[string]any) []violation {
	var out []violation
	meta, _ := obj["metadata"].(map[string]any)
	if name, ok := meta["name"].(string); ok && name != "" {
		switch {
		case !builtin || pathSegmentKinds[kind]:
			if name == "." || name == ".." || strings.ContainsAny(name, "/%") {
				out = append(out, violation{"/metadata/name", fmt.Sprintf("expected a name that is a URL path segment (no '/', '%%', not '.' or '..'), got %q", name)})
			}
		case labelKinds[kind] && (len(name) > 63 || !dnsLabel.MatchString(name)):
			out = append(out, violation{"/metadata/name", fmt.Sprintf("expected a DNS label (lowercase letters, digits, '-', at most 63), got %q", name)})
		case len(name) > 253 || !dnsSubdomain.MatchString(name):
			out = append(out, violation{"/metadata/name", fmt.Sprintf("expected a DNS subdomain (lowercase letters, digits, '-', '.', at most 253), got %q", name)})
		}
	}
	check := func(base string, labels map[string]any) {
		for k, v := range labels {
			ptr := base + "/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
			if msg := labelKeyProblem(k); msg != "" {
				out = append(out, violation{ptr, msg})
			}
			s, ok := v.(string)
			if !ok {
				out = append(out, violation{ptr, fmt.Sprintf("expected a string label value, got %v", v)})
				continue
			}
			if len(s) > 63 || (s != "" && !labelName.MatchString(s)) {
				out = append(out, violation{ptr, fmt.Sprintf("expected a label value (letters, digits, '-', '_', '.', starting and ending alphanumeric, at most 63), got %q", s)})
			}
		}
	}
	labels, _ := meta["labels"].(map[string]any)
	check("/metadata/labels", labels)
	for _, ps := range podSpecs(obj) {
		tmplPtr := strings.TrimSuffix(ps.ptr, "/spec") + "/metadata/labels"
		if tm := templateLabels(obj, tmplPtr); tm != nil {
			check(tmplPtr, tm)
		}
	}
	return out
}

func templateLabels(obj map[string]any, ptr string) map[string]any {
	cur := any(obj)
	for _, seg := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		m, _ := cur.(map[string]any)
		if m == nil {
			return nil
		}
		cur = m[seg]
	}
	m, _ := cur.(map[string]any)
	return m
}

func labelKeyProblem(k string) string {
	prefix, name, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		name, prefix = prefix, ""
	}
	if hasPrefix && (prefix == "" || len(prefix) > 253 || !dnsSubdomain.MatchString(prefix)) {
		return fmt.Sprintf("label key %q: the prefix must be a DNS subdomain", k)
	}
	if name == "" || len(name) > 63 || !labelName.MatchString(name) {
		return fmt.Sprintf("label key %q: the name must be letters, digits, '-', '_', '.', starting and ending alphanumeric, at most 63", k)
	}
	return ""
}

// semanticProblems checks rules of the API server's validation that no
// schema expresses and that charts commonly break.
func semanticProblems(apiVersion, kind string, obj map[string]any) []violation {
	var out []violation
	if apiVersion == "v1" && kind == "Service" {
		spec, _ := obj["spec"].(map[string]any)
		ports, _ := spec["ports"].([]any)
		if len(ports) > 1 {
			seen := map[string]bool{}
			for i, p := range ports {
				pm, _ := p.(map[string]any)
				name, _ := pm["name"].(string)
				ptr := fmt.Sprintf("/spec/ports/%d/name", i)
				switch {
				case name == "":
					out = append(out, violation{ptr, "a Service with several ports needs a name on each"})
				case seen[name]:
					out = append(out, violation{ptr, fmt.Sprintf("port name %q is used twice", name)})
				}
				seen[name] = true
			}
		}
	}
	return out
}
