package validate

import (
	"fmt"
	"sort"
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
// variables.pod, params variables.params, the names of subst literals;
// otomi's image functions and quantity comparisons are expanded. The tree
// is rewritten in place and printed back by cel-go's unparser.
func gatekeeperExpr(src string, subst map[string]string) (string, error) {
	e, err := parseCEL(src)
	if err != nil {
		return "", err
	}
	rw := &celRewriter{subst: subst, fac: ast.NewExprFactory()}
	rw.rewrite(e)
	if rw.err != nil {
		return "", rw.err
	}
	var next int64
	e.RenumberIDs(func(int64) int64 { next++; return next })
	return parser.Unparse(e, ast.NewSourceInfo(nil))
}

// parseCEL parses without macros: has, all, exists stay calls.
func parseCEL(src string) (ast.Expr, error) {
	p, err := parser.NewParser(parser.Macros())
	if err != nil {
		return nil, err
	}
	tree, errs := p.Parse(common.NewTextSource(src))
	if errs != nil && len(errs.GetErrors()) > 0 {
		return nil, fmt.Errorf("%s", errs.ToDisplayString())
	}
	return tree.Expr(), nil
}

// celExpansions are otomi's image functions in plain CEL, over the
// argument x (an image reference); n is x without its digest.
var celExpansions = map[string]string{
	"imageDigest": `x.contains("@") ? x.substring(x.indexOf("@") + 1) : ""`,
	"imageTag":    `n.lastIndexOf(":") > n.lastIndexOf("/") ? n.substring(n.lastIndexOf(":") + 1) : ""`,
	"imageName":   `n.lastIndexOf(":") > n.lastIndexOf("/") ? n.substring(0, n.lastIndexOf(":")) : n`,
	"allContainers": `(has(x.initContainers) ? x.initContainers : []) + (has(x.containers) ? x.containers : []) + ` +
		`(has(x.ephemeralContainers) ? x.ephemeralContainers : [])`,
}

// withoutDigest is n of celExpansions.
const withoutDigest = `x.contains("@") ? x.substring(0, x.indexOf("@")) : x`

var celComparisons = map[string]bool{"_==_": true, "_!=_": true, "_<_": true, "_<=_": true, "_>_": true, "_>=_": true}

type celRewriter struct {
	subst map[string]string
	fac   ast.ExprFactory
	err   error
}

func (rw *celRewriter) fail(format string, args ...any) {
	if rw.err == nil {
		rw.err = fmt.Errorf(format, args...)
	}
}

// rewrite translates e in place, its operands first.
func (rw *celRewriter) rewrite(e ast.Expr) {
	switch e.Kind() {
	case ast.IdentKind:
		switch name := e.AsIdent(); {
		case rw.subst[name] != "":
			rw.replace(e, rw.subst[name], nil)
		case name == "pod" || name == "params":
			e.SetKindCase(rw.fac.NewSelect(0, rw.fac.NewIdent(0, "variables"), name))
		}
	case ast.SelectKind:
		rw.rewrite(e.AsSelect().Operand())
	case ast.LiteralKind:
	case ast.ListKind:
		for _, el := range e.AsList().Elements() {
			rw.rewrite(el)
		}
	case ast.MapKind:
		for _, en := range e.AsMap().Entries() {
			rw.rewrite(en.AsMapEntry().Key())
			rw.rewrite(en.AsMapEntry().Value())
		}
	case ast.CallKind:
		c := e.AsCall()
		if c.IsMemberFunction() {
			rw.rewrite(c.Target())
		}
		for _, a := range c.Args() {
			rw.rewrite(a)
		}
		rw.call(e)
	default:
		rw.fail("unsupported expression kind %v", e.Kind())
	}
}

// isCall tells whether e calls the global function fn.
func isCall(e ast.Expr, fn string) bool {
	return e.Kind() == ast.CallKind && !e.AsCall().IsMemberFunction() && e.AsCall().FunctionName() == fn
}

// call expands otomi's image functions and turns a comparison of two
// quantities into Gatekeeper's compareTo.
func (rw *celRewriter) call(e ast.Expr) {
	c := e.AsCall()
	fn, args := c.FunctionName(), c.Args()
	if c.IsMemberFunction() {
		return
	}
	if len(args) == 2 && (isCall(args[0], "quantity") || isCall(args[1], "quantity")) {
		if !celComparisons[fn] || !isCall(args[0], "quantity") || !isCall(args[1], "quantity") {
			rw.fail("quantity() is only translated in comparisons of two quantities")
			return
		}
		e.SetKindCase(rw.fac.NewCall(0, fn, rw.fac.NewMemberCall(0, "compareTo", args[0], args[1]), rw.fac.NewLiteral(0, types.Int(0))))
		return
	}
	if tmpl, ok := celExpansions[fn]; ok && len(args) == 1 {
		rw.replace(e, tmpl, map[string]ast.Expr{"x": args[0], "n": rw.expand(withoutDigest, map[string]ast.Expr{"x": args[0]})})
	}
}

// replace puts the expression src in place of e, its identifiers named in
// vars replaced by (copies of) their expressions.
func (rw *celRewriter) replace(e ast.Expr, src string, vars map[string]ast.Expr) {
	if r := rw.expand(src, vars); r != nil {
		e.SetKindCase(r)
	}
}

func (rw *celRewriter) expand(src string, vars map[string]ast.Expr) ast.Expr {
	r, err := parseCEL(src)
	if err != nil {
		rw.fail("%v", err)
		return nil
	}
	ast.PostOrderVisit(r, ast.NewExprVisitor(func(x ast.Expr) {
		if x.Kind() == ast.IdentKind && vars[x.AsIdent()] != nil {
			x.SetKindCase(rw.fac.CopyExpr(vars[x.AsIdent()]))
		}
	}))
	return r
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
