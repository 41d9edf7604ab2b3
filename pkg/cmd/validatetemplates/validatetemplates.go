// Package validatetemplates implements `otomi validate-templates`.
package validatetemplates

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/otomi/otomi"
	"github.com/otomi/otomi/pkg/cmd/template"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/render"
	"github.com/otomi/otomi/pkg/validate"
	"github.com/otomi/otomi/pkg/values"
)

// Options of validate-templates.
type Options struct {
	IO          *iostreams.IOStreams
	Factory     *cmdutil.Factory
	Render      cmdutil.RenderFlags
	AllVersions bool
	Output      string
}

// NewCmdValidateTemplates builds the command; runF replaces the logic in tests.
func NewCmdValidateTemplates(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "validate-templates",
		Short: "Check every rendered manifest offline: Kubernetes and CRD schemas, removed APIs, policies",
		Long: fmt.Sprintf(`Render the platform (or -f HELMFILE) and check every object, with no network access,
against the Kubernetes API schemas of a supported minor (built in: %s), the schemas of
the CRDs the charts ship, removed and deprecated APIs, metadata syntax, and the
platform's policies (policies/*.yaml; actions and parameters from the values'
'policies', per team from 'teamConfig.<team>.policies'; an object or pod template
annotated %s: name,... is exempt from those policies).

The Kubernetes minor is --kube-version, else cluster.k8sVersion, else the newest;
--all-versions checks every built-in minor. Exits 3 when any object has an error.`,
			strings.Join(validate.KubeVersions(), ", "), validate.IgnoreAnnotation),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(validate.Formats, opts.Output) {
				return cmdutil.FlagErrorf("--output must be one of %s, got %q", strings.Join(validate.Formats, ", "), opts.Output)
			}
			if opts.AllVersions && opts.Render.KubeVersion != "" {
				return cmdutil.FlagErrorf("--kube-version and --all-versions exclude each other")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	template.AddRenderFlags(cmd, &opts.Render)
	cmd.Flags().BoolVar(&opts.AllVersions, "all-versions", false, "check against every built-in Kubernetes minor")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "text, json or junit")
	return cmd
}

// Run renders and validates.
func Run(ctx context.Context, opts *Options) error {
	supported := validate.KubeVersions()
	minors := []string{supported[len(supported)-1]}
	flags := opts.Render
	if flags.KubeVersion != "" {
		m, err := minorOf(flags.KubeVersion, supported)
		if err != nil {
			return cmdutil.FlagErrorf("%v", err)
		}
		minors = []string{m}
	}
	loaded, err := cmdutil.LoadReleases(ctx, opts.Factory, flags)
	if err != nil {
		return err
	}
	if flags.KubeVersion == "" && !opts.AllVersions && loaded.Values != nil {
		if kv, ok := values.Get(loaded.Values.Tree, "/cluster/k8sVersion"); ok {
			if s, _ := kv.(string); s != "" {
				m, err := minorOf(s, supported)
				if err != nil {
					return fmt.Errorf("cluster.k8sVersion: %w", err)
				}
				minors = []string{m}
			}
		}
	}
	if opts.AllVersions {
		minors = supported
	}
	manifests, err := render.Render(ctx, loaded.Releases, render.RenderOptions{IncludeCRDs: true})
	if err != nil {
		return cmdutil.RenderError(err)
	}
	policies, err := validate.LoadPolicies(otomi.Platform())
	if err != nil {
		return err
	}
	vopts := validate.Options{KubeVersions: minors, Policies: policies}
	if loaded.StateValues != nil {
		vopts.Settings = policySettings(loaded.StateValues)
	}
	if loaded.PlatformDir != "" {
		if vopts.CRDs, err = chartCRDs(loaded.PlatformDir); err != nil {
			return err
		}
	}
	report, err := validate.Check(manifests, vopts)
	if err != nil {
		return err
	}
	w := opts.IO.Out
	var st validate.Styler
	if opts.Output == "text" {
		w, st = opts.IO.ErrOut, opts.IO
	}
	if err := report.Write(w, opts.Output, st); err != nil {
		return err
	}
	if report.Errors > 0 {
		return cmdutil.ErrValidation
	}
	return nil
}

// minorOf turns "1.35", "v1.35" or "v1.35.2" into a supported minor.
func minorOf(v string, supported []string) (string, error) {
	parts := strings.Split(strings.TrimPrefix(v, "v"), ".")
	if len(parts) < 2 {
		return "", fmt.Errorf("kube version %q: expected X.Y", v)
	}
	m := parts[0] + "." + parts[1]
	if !slices.Contains(supported, m) {
		return "", fmt.Errorf("Kubernetes %s is not supported (built-in schemas: %s)", m, strings.Join(supported, ", "))
	}
	return m, nil
}

// policySettings reads `policies` and `teamConfig.<team>.policies`.
func policySettings(tree map[string]any) validate.PolicySettings {
	ps := validate.PolicySettings{Platform: map[string]map[string]any{}, Teams: map[string]map[string]map[string]any{}}
	if p, ok := tree["policies"].(map[string]any); ok {
		for name, v := range p {
			if m, ok := v.(map[string]any); ok {
				ps.Platform[name] = m
			}
		}
	}
	if teams, ok := tree["teamConfig"].(map[string]any); ok {
		for team, tv := range teams {
			tm, _ := tv.(map[string]any)
			p, _ := tm["policies"].(map[string]any)
			for name, v := range p {
				if m, ok := v.(map[string]any); ok {
					if ps.Teams[team] == nil {
						ps.Teams[team] = map[string]map[string]any{}
					}
					ps.Teams[team][name] = m
				}
			}
		}
	}
	return ps
}

// chartCRDs reads the CRDs of every chart of the platform (crds/ folders),
// so custom resources of a chart that was not rendered still validate.
func chartCRDs(platformDir string) ([]validate.CRDSource, error) {
	files, err := filepath.Glob(filepath.Join(platformDir, "charts", "*", "crds", "*.yaml"))
	if err != nil {
		return nil, err
	}
	var out []validate.CRDSource
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(platformDir, f)
		for _, doc := range strings.Split("\n"+string(data), "\n---") {
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				return nil, fmt.Errorf("%s: %w", rel, err)
			}
			if k, _ := obj["kind"].(string); k == "CustomResourceDefinition" {
				out = append(out, validate.CRDSource{Source: rel, Object: obj})
			}
		}
	}
	return out, nil
}
