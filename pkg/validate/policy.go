package validate

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// Policy is one platform policy: CEL expressions over every container, pod
// spec or object of the rendered platform. The files live in policies/ and
// are the one source for validate-templates and (later) Gatekeeper.
type Policy struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Scope       string         `json:"scope"` // container | pod | object
	Params      map[string]any `json:"params"`
	Validations []struct {
		Expression string `json:"expression"`
		Message    string `json:"message"`
	} `json:"validations"`

	programs []cel.Program
}

// Action says what a violation of a policy is.
type Action string

const (
	Enforce Action = "enforce" // an error
	Audit   Action = "audit"   // a warning
	Off     Action = "off"     // not checked
)

// IgnoreAnnotation lists, on an object or its pod template, the policies
// that do not apply to it (comma-separated names).
const IgnoreAnnotation = "policy.otomi.io/ignore"

// celEnv is built on first use: package initialisation stays free for
// commands that never evaluate a policy.
var celEnv = sync.OnceValue(func() *cel.Env {
	dyn := cel.MapType(cel.StringType, cel.DynType)
	env, err := cel.NewEnv(
		ext.Strings(),
		cel.Variable("object", dyn),
		cel.Variable("pod", dyn),
		cel.Variable("container", dyn),
		cel.Variable("initContainer", cel.BoolType),
		cel.Variable("params", dyn),
		cel.Function("imageTag", cel.Overload("imageTag_string", []*cel.Type{cel.StringType}, cel.StringType,
			cel.UnaryBinding(func(v ref.Val) ref.Val { _, tag, _ := splitImage(v.Value().(string)); return types.String(tag) }))),
		cel.Function("imageDigest", cel.Overload("imageDigest_string", []*cel.Type{cel.StringType}, cel.StringType,
			cel.UnaryBinding(func(v ref.Val) ref.Val { _, _, d := splitImage(v.Value().(string)); return types.String(d) }))),
		cel.Function("imageName", cel.Overload("imageName_string", []*cel.Type{cel.StringType}, cel.StringType,
			cel.UnaryBinding(func(v ref.Val) ref.Val { n, _, _ := splitImage(v.Value().(string)); return types.String(n) }))),
		cel.Function("quantity", cel.Overload("quantity_string", []*cel.Type{cel.StringType}, cel.DoubleType,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				q, err := resource.ParseQuantity(v.Value().(string))
				if err != nil {
					return types.NewErr("invalid quantity %q", v.Value())
				}
				return types.Double(q.AsApproximateFloat64())
			}))),
		cel.Function("allContainers", cel.Overload("allContainers_map", []*cel.Type{dyn}, cel.ListType(dyn),
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				pod, _ := v.Value().(map[string]any)
				var all []any
				for _, c := range podContainers(pod) {
					all = append(all, c.spec)
				}
				return types.DefaultTypeAdapter.NativeToValue(all)
			}))),
	)
	if err != nil {
		panic(err)
	}
	return env
})

// splitImage splits an image reference into name (registry/repository),
// tag and digest.
func splitImage(image string) (name, tag, digest string) {
	name = image
	if i := strings.Index(name, "@"); i >= 0 {
		name, digest = name[:i], name[i+1:]
	}
	slash := strings.LastIndex(name, "/")
	if i := strings.LastIndex(name, ":"); i > slash {
		name, tag = name[:i], name[i+1:]
	}
	return name, tag, digest
}

// LoadPolicies reads and compiles every policies/*.yaml of fsys.
func LoadPolicies(fsys fs.FS) ([]*Policy, error) {
	files, err := fs.Glob(fsys, "policies/*.yaml")
	if err != nil {
		return nil, err
	}
	var out []*Policy
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		var p Policy
		if err := yaml.UnmarshalStrict(data, &p); err != nil {
			return nil, fmt.Errorf("policy %s: %w", f, err)
		}
		if p.Name != strings.TrimSuffix(path.Base(f), ".yaml") {
			return nil, fmt.Errorf("policy %s: name %q does not match the file name", f, p.Name)
		}
		if p.Scope != "container" && p.Scope != "pod" && p.Scope != "object" {
			return nil, fmt.Errorf("policy %s: scope must be container, pod or object, got %q", f, p.Scope)
		}
		for i, v := range p.Validations {
			ast, iss := celEnv().Compile(v.Expression)
			if iss.Err() != nil {
				return nil, fmt.Errorf("policy %s: validations[%d]: %w", f, i, iss.Err())
			}
			if ast.OutputType() != cel.BoolType {
				return nil, fmt.Errorf("policy %s: validations[%d] is not a boolean expression", f, i)
			}
			prg, err := celEnv().Program(ast)
			if err != nil {
				return nil, fmt.Errorf("policy %s: validations[%d]: %w", f, i, err)
			}
			p.programs = append(p.programs, prg)
		}
		out = append(out, &p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// PolicySettings are the action and parameters of each policy, from the
// values (`policies`, with team overrides in `teamConfig.<team>.policies`).
type PolicySettings struct {
	Platform map[string]map[string]any
	Teams    map[string]map[string]map[string]any
}

// settingsFor returns the action and params of a policy for a namespace.
func (ps PolicySettings) settingsFor(p *Policy, namespace string) (Action, map[string]any) {
	params := map[string]any{}
	for k, v := range p.Params {
		params[k] = v
	}
	action := Audit
	apply := func(m map[string]any) {
		for k, v := range m {
			if k == "action" {
				if s, ok := v.(string); ok {
					action = Action(s)
				}
				continue
			}
			params[k] = v
		}
	}
	apply(ps.Platform[p.Name])
	if team, ok := strings.CutPrefix(namespace, "team-"); ok {
		apply(ps.Teams[team][p.Name])
	}
	return action, params
}

// podSpec is a pod spec found in an object, with its JSON pointer.
type podSpec struct {
	ptr         string
	spec        map[string]any
	annotations map[string]any
}

type containerRef struct {
	ptr  string
	spec map[string]any
	init bool
}

// podSpecs finds the pod specs of the workload kinds.
func podSpecs(obj map[string]any) []podSpec {
	kind, _ := obj["kind"].(string)
	get := func(m map[string]any, keys ...string) map[string]any {
		for _, k := range keys {
			next, _ := m[k].(map[string]any)
			if next == nil {
				return nil
			}
			m = next
		}
		return m
	}
	switch kind {
	case "Pod":
		return []podSpec{{ptr: "/spec", spec: get(obj, "spec"), annotations: get(obj, "metadata", "annotations")}}
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController":
		if s := get(obj, "spec", "template", "spec"); s != nil {
			return []podSpec{{ptr: "/spec/template/spec", spec: s, annotations: get(obj, "spec", "template", "metadata", "annotations")}}
		}
	case "CronJob":
		if s := get(obj, "spec", "jobTemplate", "spec", "template", "spec"); s != nil {
			return []podSpec{{ptr: "/spec/jobTemplate/spec/template/spec", spec: s, annotations: get(obj, "spec", "jobTemplate", "spec", "template", "metadata", "annotations")}}
		}
	}
	return nil
}

func podContainers(pod map[string]any) []containerRef {
	var out []containerRef
	for _, key := range []string{"initContainers", "containers", "ephemeralContainers"} {
		list, _ := pod[key].([]any)
		for i, c := range list {
			if m, ok := c.(map[string]any); ok {
				out = append(out, containerRef{ptr: fmt.Sprintf("/%s/%d", key, i), spec: m, init: key != "containers"})
			}
		}
	}
	return out
}

// ignored lists the policies an object's annotations exempt it from.
func ignored(annotations ...map[string]any) map[string]bool {
	out := map[string]bool{}
	for _, a := range annotations {
		if s, ok := a[IgnoreAnnotation].(string); ok {
			for _, n := range strings.Split(s, ",") {
				out[strings.TrimSpace(n)] = true
			}
		}
	}
	return out
}

// violation is a failed validation of a policy.
type violation struct {
	ptr, message string
}

// evaluate runs a policy on an object and returns its violations.
func (p *Policy) evaluate(obj map[string]any, params map[string]any) ([]violation, error) {
	var out []violation
	run := func(ptr string, vars map[string]any) error {
		for i, prg := range p.programs {
			res, _, err := prg.Eval(vars)
			if err != nil {
				return fmt.Errorf("policy %s: validations[%d]: %w", p.Name, i, err)
			}
			if ok, _ := res.Value().(bool); !ok {
				out = append(out, violation{ptr: ptr, message: p.Validations[i].Message})
			}
		}
		return nil
	}
	base := map[string]any{"object": obj, "params": params, "pod": map[string]any{}, "container": map[string]any{}, "initContainer": false}
	if p.Scope == "object" {
		return out, run("", base)
	}
	meta, _ := obj["metadata"].(map[string]any)
	objAnn, _ := meta["annotations"].(map[string]any)
	for _, ps := range podSpecs(obj) {
		if ignored(objAnn, ps.annotations)[p.Name] {
			continue
		}
		vars := clone(base)
		vars["pod"] = ps.spec
		if p.Scope == "pod" {
			if err := run(ps.ptr, vars); err != nil {
				return nil, err
			}
			continue
		}
		for _, c := range podContainers(ps.spec) {
			cv := clone(vars)
			cv["container"], cv["initContainer"] = c.spec, c.init
			if err := run(ps.ptr+c.ptr, cv); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
