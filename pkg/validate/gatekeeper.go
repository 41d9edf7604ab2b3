package validate

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/parser"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// The platform policies run twice: offline, in validate-templates, and in
// the cluster, as Gatekeeper ConstraintTemplates of its CEL engine
// (K8sNativeValidation). Gatekeeper's CEL environment is the Kubernetes
// one: it has no imageTag, imageName, imageDigest or allContainers, its
// quantity() is a Quantity compared with compareTo, and it evaluates the
// whole object once. The translation below rewrites each expression of a
// policy into that environment, from its syntax tree; one validation of a
// container policy becomes "every container passes", with the failing
// containers named in the message.

// GatekeeperKinds are the kinds whose pod template a pod or container
// policy checks (the kinds validate-templates looks into).
var GatekeeperKinds = []string{"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController", "CronJob"}

// GatekeeperKind is the constraint kind of a policy: banned-image-tags ->
// OtomiBannedImageTags.
func GatekeeperKind(policy string) string {
	var b strings.Builder
	b.WriteString("Otomi")
	for _, part := range strings.Split(policy, "-") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// GatekeeperTemplate is the ConstraintTemplate of a policy.
func GatekeeperTemplate(p *Policy) (map[string]any, error) {
	kind := GatekeeperKind(p.Name)
	vars := []any{
		map[string]any{"name": "podMeta", "expression": `object.kind == "Pod" ? object.metadata : ` +
			`object.kind == "CronJob" ? (has(object.spec.jobTemplate.spec.template.metadata) ? object.spec.jobTemplate.spec.template.metadata : {}) : ` +
			`(has(object.spec.template) && has(object.spec.template.metadata) ? object.spec.template.metadata : {})`},
		map[string]any{"name": "pod", "expression": `object.kind == "Pod" ? object.spec : ` +
			`object.kind == "CronJob" ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec`},
		map[string]any{"name": "ignored", "expression": fmt.Sprintf(`[object.metadata, variables.podMeta].exists(m, has(m.annotations) && %q in m.annotations && `+
			`m.annotations[%q].split(",").exists(n, n.trim() == %q))`, IgnoreAnnotation, IgnoreAnnotation, p.Name)},
	}
	if p.Scope == "container" {
		vars = append(vars,
			map[string]any{"name": "containers", "expression": `(has(variables.pod.containers) ? variables.pod.containers : []) + ` +
				`(has(variables.pod.ephemeralContainers) ? variables.pod.ephemeralContainers : [])`},
			map[string]any{"name": "initContainers", "expression": `has(variables.pod.initContainers) ? variables.pod.initContainers : []`})
	}
	var validations []any
	for i, v := range p.Validations {
		var expr, msg string
		switch p.Scope {
		case "container":
			main, err := gatekeeperExpr(v.Expression, map[string]string{"initContainer": "false"})
			if err != nil {
				return nil, fmt.Errorf("policy %s: validations[%d]: %w", p.Name, i, err)
			}
			init, err := gatekeeperExpr(v.Expression, map[string]string{"initContainer": "true"})
			if err != nil {
				return nil, fmt.Errorf("policy %s: validations[%d]: %w", p.Name, i, err)
			}
			expr = fmt.Sprintf("variables.ignored || (variables.containers.all(container, %s) && variables.initContainers.all(container, %s))", main, init)
			msg = fmt.Sprintf("%q + (variables.containers.filter(container, !(%s)) + variables.initContainers.filter(container, !(%s))).map(container, string(container.name)).join(\", \")",
				v.Message+" ("+p.Name+"): ", main, init)
		default:
			e, err := gatekeeperExpr(v.Expression, nil)
			if err != nil {
				return nil, fmt.Errorf("policy %s: validations[%d]: %w", p.Name, i, err)
			}
			expr = "variables.ignored || " + e
		}
		val := map[string]any{"expression": expr, "message": v.Message + " (" + p.Name + ")"}
		if msg != "" {
			val["messageExpression"] = msg
		}
		validations = append(validations, val)
	}
	return map[string]any{
		"apiVersion": "templates.gatekeeper.sh/v1",
		"kind":       "ConstraintTemplate",
		"metadata": map[string]any{
			"name": strings.ToLower(kind),
			"annotations": map[string]any{
				"description":            p.Description,
				"policy.otomi.io/source": "policies/" + p.Name + ".yaml",
			},
		},
		"spec": map[string]any{
			"crd": map[string]any{"spec": map[string]any{
				"names":      map[string]any{"kind": kind},
				"validation": map[string]any{"legacySchema": false, "openAPIV3Schema": paramsSchema(p)},
			}},
			"targets": []any{map[string]any{
				"target": "admission.k8s.gatekeeper.sh",
				"code": []any{map[string]any{
					"engine": "K8sNativeValidation",
					"source": map[string]any{"variables": vars, "validations": validations},
				}},
			}},
		},
	}, nil
}

// paramsSchema types a policy's parameters from their defaults: lists of
// strings, quantities (a string or a number), strings, booleans, numbers.
func paramsSchema(p *Policy) map[string]any {
	props := map[string]any{}
	for k, v := range p.Params {
		props[k] = valueSchema(v)
	}
	return map[string]any{"type": "object", "properties": props}
}

func valueSchema(v any) map[string]any {
	switch t := v.(type) {
	case []any:
		item := map[string]any{"type": "string"}
		if len(t) > 0 {
			item = valueSchema(t[0])
		}
		return map[string]any{"type": "array", "items": item}
	case string:
		if _, err := resource.ParseQuantity(t); err == nil {
			return map[string]any{"x-kubernetes-int-or-string": true}
		}
		return map[string]any{"type": "string"}
	case bool:
		return map[string]any{"type": "boolean"}
	case float64, int, int64:
		return map[string]any{"type": "number"}
	}
	return map[string]any{"x-kubernetes-preserve-unknown-fields": true}
}

// GatekeeperConstraintCRD is the CRD Gatekeeper makes of a policy's
// ConstraintTemplate: the platform ships it (crds/ of the chart) so that
// the Constraints apply before the controller has processed the template.
func GatekeeperConstraintCRD(p *Policy) map[string]any {
	kind := GatekeeperKind(p.Name)
	plural := strings.ToLower(kind)
	str := map[string]any{"type": "string"}
	strs := map[string]any{"type": "array", "items": str}
	selector := map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}
	spec := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"enforcementAction": str,
			"scopedEnforcementActions": map[string]any{"type": "array", "items": map[string]any{
				"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
			"match": map[string]any{"type": "object", "properties": map[string]any{
				"kinds": map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{
					"apiGroups": strs, "kinds": strs}}},
				"scope":              map[string]any{"type": "string", "enum": []any{"*", "Cluster", "Namespaced"}},
				"namespaces":         strs,
				"excludedNamespaces": strs,
				"labelSelector":      selector,
				"namespaceSelector":  selector,
				"name":               str,
				"source":             map[string]any{"type": "string", "enum": []any{"All", "Generated", "Original"}},
			}},
			"parameters": paramsSchema(p),
		},
	}
	schema := map[string]any{"type": "object", "properties": map[string]any{
		"apiVersion": str, "kind": str, "metadata": map[string]any{"type": "object"},
		"spec":   spec,
		"status": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true},
	}}
	version := func(name string, storage bool) map[string]any {
		return map[string]any{
			"name": name, "served": true, "storage": storage,
			"subresources": map[string]any{"status": map[string]any{}},
			"additionalPrinterColumns": []any{
				map[string]any{"name": "Enforcement-Action", "type": "string", "jsonPath": ".spec.enforcementAction"},
				map[string]any{"name": "Total-Violations", "type": "integer", "jsonPath": ".status.totalViolations"},
			},
			"schema": map[string]any{"openAPIV3Schema": schema},
		}
	}
	return map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata": map[string]any{
			"name":   plural + ".constraints.gatekeeper.sh",
			"labels": map[string]any{"gatekeeper.sh/constraint": "yes"},
		},
		"spec": map[string]any{
			"group": "constraints.gatekeeper.sh",
			"names": map[string]any{"kind": kind, "listKind": kind + "List", "plural": plural, "singular": plural,
				"categories": []any{"constraint", "constraints"}},
			"scope":    "Cluster",
			"versions": []any{version("v1beta1", true), version("v1alpha1", false)},
		},
	}
}

// gatekeeperExpr rewrites one policy expression for Gatekeeper: pod is
// variables.pod, params variables.params, the names of subst literals.
func gatekeeperExpr(src string, subst map[string]string) (string, error) {
	p, err := parser.NewParser(parser.Macros()) // no macros: has, all, exists stay calls
	if err != nil {
		return "", err
	}
	tree, errs := p.Parse(common.NewTextSource(src))
	if errs != nil && len(errs.GetErrors()) > 0 {
		return "", fmt.Errorf("%s", errs.ToDisplayString())
	}
	w := &celWriter{subst: subst}
	w.expr(tree.Expr())
	return w.b.String(), w.err
}

type celWriter struct {
	b     strings.Builder
	subst map[string]string
	err   error
}

var celBinary = map[string]string{
	"_&&_": "&&", "_||_": "||", "_==_": "==", "_!=_": "!=", "_<_": "<", "_<=_": "<=", "_>_": ">", "_>=_": ">=",
	"_+_": "+", "_-_": "-", "_*_": "*", "_/_": "/", "_%_": "%", "@in": "in",
}

func (w *celWriter) fail(format string, args ...any) {
	if w.err == nil {
		w.err = fmt.Errorf(format, args...)
	}
}

func (w *celWriter) str(e ast.Expr) string {
	sub := &celWriter{subst: w.subst}
	sub.expr(e)
	if sub.err != nil {
		w.fail("%v", sub.err)
	}
	return sub.b.String()
}

func (w *celWriter) expr(e ast.Expr) {
	switch e.Kind() {
	case ast.IdentKind:
		name := e.AsIdent()
		switch {
		case w.subst[name] != "":
			w.b.WriteString(w.subst[name])
		case name == "pod" || name == "params":
			w.b.WriteString("variables." + name)
		default:
			w.b.WriteString(name)
		}
	case ast.SelectKind:
		s := e.AsSelect()
		w.expr(s.Operand())
		w.b.WriteString("." + s.FieldName())
	case ast.LiteralKind:
		w.literal(e.AsLiteral())
	case ast.ListKind:
		w.b.WriteString("[")
		for i, el := range e.AsList().Elements() {
			if i > 0 {
				w.b.WriteString(", ")
			}
			w.expr(el)
		}
		w.b.WriteString("]")
	case ast.MapKind:
		w.b.WriteString("{")
		for i, en := range e.AsMap().Entries() {
			if i > 0 {
				w.b.WriteString(", ")
			}
			me := en.AsMapEntry()
			w.expr(me.Key())
			w.b.WriteString(": ")
			w.expr(me.Value())
		}
		w.b.WriteString("}")
	case ast.CallKind:
		w.call(e.AsCall())
	default:
		w.fail("unsupported expression kind %v", e.Kind())
	}
}

func (w *celWriter) literal(v any) {
	switch t := v.(type) {
	case types.String:
		w.b.WriteString(strconv.Quote(string(t)))
	case types.Int:
		w.b.WriteString(strconv.FormatInt(int64(t), 10))
	case types.Uint:
		w.b.WriteString(strconv.FormatUint(uint64(t), 10) + "u")
	case types.Double:
		s := strconv.FormatFloat(float64(t), 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		w.b.WriteString(s)
	case types.Bool:
		w.b.WriteString(strconv.FormatBool(bool(t)))
	case types.Null:
		w.b.WriteString("null")
	default:
		w.fail("unsupported literal %v", v)
	}
}

// isCall tells whether e calls the global function fn.
func isCall(e ast.Expr, fn string) bool {
	return e.Kind() == ast.CallKind && !e.AsCall().IsMemberFunction() && e.AsCall().FunctionName() == fn
}

func (w *celWriter) call(c ast.CallExpr) {
	fn, args := c.FunctionName(), c.Args()
	if op, ok := celBinary[fn]; ok && len(args) == 2 {
		if isCall(args[0], "quantity") || isCall(args[1], "quantity") {
			// Gatekeeper's quantity() is a Quantity: compare with compareTo.
			if !isCall(args[0], "quantity") || !isCall(args[1], "quantity") || fn == "_&&_" || fn == "_||_" || fn == "@in" {
				w.fail("quantity() is only translated in comparisons of two quantities")
				return
			}
			fmt.Fprintf(&w.b, "(%s.compareTo(%s) %s 0)", w.str(args[0]), w.str(args[1]), op)
			return
		}
		fmt.Fprintf(&w.b, "(%s %s %s)", w.str(args[0]), op, w.str(args[1]))
		return
	}
	switch {
	case fn == "!_" && len(args) == 1:
		fmt.Fprintf(&w.b, "!%s", w.paren(args[0]))
		return
	case fn == "-_" && len(args) == 1:
		fmt.Fprintf(&w.b, "-%s", w.paren(args[0]))
		return
	case fn == "_?_:_" && len(args) == 3:
		fmt.Fprintf(&w.b, "(%s ? %s : %s)", w.str(args[0]), w.str(args[1]), w.str(args[2]))
		return
	case fn == "_[_]" && len(args) == 2:
		fmt.Fprintf(&w.b, "%s[%s]", w.str(args[0]), w.str(args[1]))
		return
	}
	if !c.IsMemberFunction() && len(args) == 1 {
		x := w.str(args[0])
		// The image reference without its digest.
		n := fmt.Sprintf(`(%[1]s.contains("@") ? %[1]s.substring(0, %[1]s.indexOf("@")) : %[1]s)`, x)
		tagged := fmt.Sprintf(`%[1]s.lastIndexOf(":") > %[1]s.lastIndexOf("/")`, n)
		switch fn {
		case "imageDigest":
			fmt.Fprintf(&w.b, `(%[1]s.contains("@") ? %[1]s.substring(%[1]s.indexOf("@") + 1) : "")`, x)
			return
		case "imageTag":
			fmt.Fprintf(&w.b, `(%s ? %s.substring(%s.lastIndexOf(":") + 1) : "")`, tagged, n, n)
			return
		case "imageName":
			fmt.Fprintf(&w.b, `(%s ? %s.substring(0, %s.lastIndexOf(":")) : %s)`, tagged, n, n, n)
			return
		case "allContainers":
			fmt.Fprintf(&w.b, `((has(%[1]s.initContainers) ? %[1]s.initContainers : []) + (has(%[1]s.containers) ? %[1]s.containers : []) + `+
				`(has(%[1]s.ephemeralContainers) ? %[1]s.ephemeralContainers : []))`, x)
			return
		}
	}
	if c.IsMemberFunction() {
		w.b.WriteString(w.paren(c.Target()) + ".")
	}
	w.b.WriteString(fn + "(")
	for i, a := range args {
		if i > 0 {
			w.b.WriteString(", ")
		}
		w.expr(a)
	}
	w.b.WriteString(")")
}

// paren writes an operand that needs no parentheses as is.
func (w *celWriter) paren(e ast.Expr) string {
	s := w.str(e)
	switch e.Kind() {
	case ast.IdentKind, ast.SelectKind, ast.LiteralKind, ast.ListKind, ast.MapKind:
		return s
	}
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") && balanced(s[1:len(s)-1]) {
		return s
	}
	if e.Kind() == ast.CallKind {
		if _, op := celBinary[e.AsCall().FunctionName()]; !op && e.AsCall().FunctionName() != "_?_:_" && e.AsCall().FunctionName() != "!_" {
			return s
		}
	}
	return "(" + s + ")"
}

// balanced tells whether the parentheses of s pair up, outside strings.
func balanced(s string) bool {
	depth := 0
	inStr := byte(0)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case inStr != 0:
			if ch == '\\' {
				i++
			} else if ch == inStr {
				inStr = 0
			}
		case ch == '"' || ch == '\'':
			inStr = ch
		case ch == '(':
			depth++
		case ch == ')':
			depth--
			if depth < 0 {
				return false
			}
		}
	}
	return depth == 0
}

// GatekeeperPolicy is what the constraints chart knows of a policy.
type GatekeeperPolicy struct {
	Name   string         `json:"name"`
	Kind   string         `json:"kind"`
	Scope  string         `json:"scope"`
	Params map[string]any `json:"params"`
}

// GatekeeperPolicies lists the policies for the constraints chart, by name.
func GatekeeperPolicies(policies []*Policy) []GatekeeperPolicy {
	out := make([]GatekeeperPolicy, 0, len(policies))
	for _, p := range policies {
		params := p.Params
		if params == nil {
			params = map[string]any{}
		}
		out = append(out, GatekeeperPolicy{Name: p.Name, Kind: GatekeeperKind(p.Name), Scope: p.Scope, Params: params})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// GatekeeperChart is where the generated files of the constraints chart live.
const GatekeeperChart = "charts/gatekeeper-constraints"

// GatekeeperFiles generates the files of the constraints chart from the
// policies, by path under GatekeeperChart: the constraint CRDs (crds/),
// the ConstraintTemplates and the policies' kinds and default parameters
// (files/). `make gatekeeper` writes them; a test checks they are current.
func GatekeeperFiles(policies []*Policy) (map[string][]byte, error) {
	const header = "# Generated from policies/*.yaml by `make gatekeeper` (pkg/validate/gatekeeper.go): do not edit.\n"
	var crds, templates []string
	for _, p := range policies {
		crd, err := yaml.Marshal(GatekeeperConstraintCRD(p))
		if err != nil {
			return nil, err
		}
		crds = append(crds, string(crd))
		t, err := GatekeeperTemplate(p)
		if err != nil {
			return nil, err
		}
		data, err := yaml.Marshal(t)
		if err != nil {
			return nil, err
		}
		templates = append(templates, string(data))
	}
	list, err := yaml.Marshal(map[string]any{"policies": GatekeeperPolicies(policies)})
	if err != nil {
		return nil, err
	}
	crdHeader := header + "# The CRDs Gatekeeper makes of the ConstraintTemplates, written for otomi: helm creates them on install, so\n" +
		"# the Constraints apply at once; Gatekeeper's controller owns them from then on.\n"
	return map[string][]byte{
		"crds/constraints.gatekeeper.sh.yaml": []byte(crdHeader + "---\n" + strings.Join(crds, "---\n")),
		"files/constrainttemplates.yaml":      []byte(header + "---\n" + strings.Join(templates, "---\n")),
		"files/policies.yaml":                 []byte(header + string(list)),
	}, nil
}
