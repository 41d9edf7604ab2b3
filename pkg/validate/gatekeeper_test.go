package validate

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/otomi/otomi/pkg/render"
)

// TestGatekeeperFilesCurrent: the constraints chart's generated files are
// those of the policies (run `make gatekeeper` after changing a policy).
func TestGatekeeperFilesCurrent(t *testing.T) {
	files, err := GatekeeperFiles(loadTestPolicies(t))
	require.NoError(t, err)
	for rel, want := range files {
		got, err := os.ReadFile(filepath.Join("../..", GatekeeperChart, rel))
		require.NoError(t, err, "run make gatekeeper")
		assert.Equal(t, string(want), string(got), "%s is stale: run make gatekeeper", rel)
	}
}

// gatekeeperEval runs a ConstraintTemplate's CEL as Gatekeeper does, in the
// Kubernetes CEL environment: the variables in order, then every
// validation; it returns the messages of the failed validations.
func gatekeeperEval(t *testing.T, env *cel.Env, tmpl map[string]any, obj map[string]any, params map[string]any) []string {
	t.Helper()
	target := tmpl["spec"].(map[string]any)["targets"].([]any)[0].(map[string]any)
	source := target["code"].([]any)[0].(map[string]any)["source"].(map[string]any)
	vars := map[string]any{"params": params}
	run := func(expr string) any {
		ast, iss := env.Compile(expr)
		require.NoError(t, iss.Err(), expr)
		prg, err := env.Program(ast)
		require.NoError(t, err)
		out, _, err := prg.Eval(map[string]any{"object": obj, "variables": vars})
		require.NoError(t, err, expr)
		return out.Value()
	}
	for _, v := range source["variables"].([]any) {
		m := v.(map[string]any)
		vars[m["name"].(string)] = run(m["expression"].(string))
	}
	var failed []string
	for _, v := range source["validations"].([]any) {
		m := v.(map[string]any)
		if ok, _ := run(m["expression"].(string)).(bool); !ok {
			msg := m["message"].(string)
			if me, ok := m["messageExpression"].(string); ok {
				msg = run(me).(string)
			}
			failed = append(failed, msg)
		}
	}
	return failed
}

// TestGatekeeperAgreesWithValidate: every ConstraintTemplate compiles in the
// Kubernetes CEL environment and, on every workload of the corpus, fails
// exactly where validate-templates finds a violation of its policy.
func TestGatekeeperAgreesWithValidate(t *testing.T) {
	policies := loadTestPolicies(t)
	// The options and cel-go libraries of the Kubernetes CEL base
	// environment (what Gatekeeper compiles with), its quantity library
	// (kubeQuantity: k8s.io/apiserver cannot be linked beside the pinned
	// k8s.io/api), and Gatekeeper's two variables.
	env, err := cel.NewEnv(
		cel.HomogeneousAggregateLiterals(), cel.EagerlyValidateDeclarations(true), cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true), cel.OptionalTypes(), ext.Strings(ext.StringsVersion(2)), ext.Sets(),
		kubeQuantity(),
		cel.Variable("object", cel.DynType),
		cel.Variable("variables", cel.MapType(cel.StringType, cel.DynType)),
	)
	require.NoError(t, err)

	files, err := filepath.Glob("testdata/corpus/*.yaml")
	require.NoError(t, err)
	var objs []map[string]any
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		m, err := render.NewManifest(&render.Release{Name: "corpus", Chart: "corpus"}, string(data))
		require.NoError(t, err)
		for _, o := range m.Objects {
			if len(podSpecs(o.Body)) > 0 {
				objs = append(objs, o.Body)
			}
		}
	}
	require.NotEmpty(t, objs)
	// Parameters that make each policy bite somewhere in the corpus.
	extra := map[string]map[string]any{
		"allowed-image-repositories": {"repositories": []any{"registry.k8s.io/", "docker.io/library/"}},
		"banned-image-tags":          {"tags": []any{"latest", "1.27"}},
		"container-limits":           {"cpu": "500m", "memory": "256Mi"},
		"psp-capabilities":           {"allowedCapabilities": []any{"NET_BIND_SERVICE"}},
	}
	checked, violations := 0, 0
	for _, p := range policies {
		tmpl, err := GatekeeperTemplate(p)
		require.NoError(t, err)
		for _, params := range []map[string]any{p.Params, merge(p.Params, extra[p.Name])} {
			if params == nil {
				params = map[string]any{}
			}
			for _, obj := range objs {
				vs, err := p.evaluate(obj, params)
				if err != nil {
					continue // an invalid value (the schema check reports it)
				}
				failed := gatekeeperEval(t, env, tmpl, obj, params)
				meta, _ := obj["metadata"].(map[string]any)
				assert.Equal(t, len(vs) > 0, len(failed) > 0, "%s on %s %v: validate %v, gatekeeper %v", p.Name, obj["kind"], meta["name"], vs, failed)
				for _, f := range failed {
					assert.True(t, strings.HasSuffix(f, ")") || strings.Contains(f, "("+p.Name+"): "), f)
				}
				checked++
				if len(vs) > 0 {
					violations++
				}
			}
		}
	}
	t.Logf("%d policy evaluations agree, %d of them violations", checked, violations)
	assert.Positive(t, violations)
}

func merge(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// quantityVal is a Kubernetes Quantity in CEL, as k8s.io/apiserver's
// quantity library has it: quantity(string), compared with compareTo.
type quantityVal struct{ q resource.Quantity }

var quantityType = cel.OpaqueType("kubernetes.Quantity")

func (v quantityVal) ConvertToNative(reflect.Type) (any, error) {
	return nil, errors.New("no conversion")
}
func (v quantityVal) ConvertToType(ref.Type) ref.Val { return types.NewErr("no conversion") }
func (v quantityVal) Equal(o ref.Val) ref.Val {
	other, ok := o.(quantityVal)
	return types.Bool(ok && v.q.Cmp(other.q) == 0)
}
func (v quantityVal) Type() ref.Type { return quantityType }
func (v quantityVal) Value() any     { return v.q }

func kubeQuantity() cel.EnvOption {
	return cel.Lib(quantityLib{})
}

type quantityLib struct{}

func (quantityLib) ProgramOptions() []cel.ProgramOption { return nil }
func (quantityLib) CompileOptions() []cel.EnvOption {
	return []cel.EnvOption{
		cel.Function("quantity", cel.Overload("string_to_quantity", []*cel.Type{cel.StringType}, quantityType,
			cel.UnaryBinding(func(s ref.Val) ref.Val {
				q, err := resource.ParseQuantity(s.Value().(string))
				if err != nil {
					return types.NewErr("invalid quantity %q", s.Value())
				}
				return quantityVal{q}
			}))),
		cel.Function("compareTo", cel.MemberOverload("quantity_compareTo_quantity", []*cel.Type{quantityType, quantityType}, cel.IntType,
			cel.BinaryBinding(func(a, b ref.Val) ref.Val {
				qa, qb := a.(quantityVal).q, b.(quantityVal).q
				return types.Int(qa.Cmp(qb))
			}))),
	}
}

// TestGatekeeperExpr: names, literals and quantity comparisons are
// rewritten for Gatekeeper; quantity() elsewhere is refused.
func TestGatekeeperExpr(t *testing.T) {
	got, err := gatekeeperExpr(`pod.spec.hostNetwork != true && initContainer`, map[string]string{"initContainer": "false"})
	require.NoError(t, err)
	assert.Equal(t, `variables.pod.spec.hostNetwork != true && false`, got)

	got, err = gatekeeperExpr(`quantity(container.resources.limits.cpu) <= quantity(params.cpu)`, nil)
	require.NoError(t, err)
	assert.Equal(t, `quantity(container.resources.limits.cpu).compareTo(quantity(variables.params.cpu)) <= 0`, got)

	_, err = gatekeeperExpr(`quantity(a) && true`, nil)
	assert.ErrorContains(t, err, "quantity() is only translated in comparisons of two quantities")

	got, err = gatekeeperExpr(`imageDigest(container.image) != ""`, nil)
	require.NoError(t, err)
	assert.NotContains(t, got, "imageDigest")
	assert.Contains(t, got, `container.image.substring(container.image.indexOf("@") + 1)`)
}
