// Package diff implements `otomi diff`.
package diff

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/otomi/otomi/pkg/cmd/apply"
	"github.com/otomi/otomi/pkg/cmd/template"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/kube"
	"github.com/otomi/otomi/pkg/kube/objdiff"
)

// ExitChanges is the exit code of --detailed-exitcode when apply would
// change something (helmfile's).
const ExitChanges = 2

// Options of diff.
type Options struct {
	IO               *iostreams.IOStreams
	Factory          *cmdutil.Factory
	Target           apply.TargetOptions
	DetailedExitCode bool
	Output           string
}

// NewCmdDiff builds the command; runF replaces the logic in tests.
func NewCmdDiff(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "Show what apply would change, release by release and object by object",
		Long: `Compare each release's manifest in the cluster (helm's stored last revision) with the
platform rendered from the values repo: releases to install, upgrade or uninstall, and per
object added (+), removed (-) or changed (~, with a unified diff of its YAML). Secret values
are never shown: only which keys were added, removed or changed.
With --detailed-exitcode the exit code is 2 when there are changes, 0 when there are none.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Output != "text" && opts.Output != "json" {
				return cmdutil.FlagErrorf("--output must be text or json, got %q", opts.Output)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return apply.ExitError(opts.IO, Run(cmd.Context(), opts))
		},
	}
	template.AddRenderFlags(cmd, &opts.Target.Render)
	_ = cmd.Flags().MarkHidden("kube-version")
	apply.AddClusterFlags(cmd, &opts.Target.Cluster)
	cmd.Flags().BoolVar(&opts.Target.IncludeNeeds, "include-needs", false, "with -l, also diff what the selected releases need (transitively)")
	cmd.Flags().BoolVar(&opts.DetailedExitCode, "detailed-exitcode", false, "exit 2 when there are changes, 0 when none")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "text or json")
	return cmd
}

// ReleaseDiff is what apply would do to one release.
type ReleaseDiff struct {
	Release string           `json:"release"`
	Action  kube.Action      `json:"action"`
	Reason  string           `json:"reason"`
	Objects []objdiff.Change `json:"objects"`
}

// Run computes and prints the diff.
func Run(ctx context.Context, opts *Options) error {
	t, err := apply.LoadTarget(ctx, opts.Factory, opts.Target)
	if err != nil {
		return err
	}
	plan, err := t.Cluster.Plan(ctx, t.Releases, t.Manifests, kube.PlanOptions{Prune: opts.Target.WholePlatform()})
	if err != nil {
		return &apply.ClusterError{Err: err}
	}
	diffs, err := Compute(plan)
	if err != nil {
		return err
	}
	if opts.Output == "json" {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(diffs); err != nil {
			return err
		}
	} else if err := Write(opts.IO.Out, diffs); err != nil {
		return err
	}
	unchanged := len(plan.Items) - len(diffs)
	if len(diffs) == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "%s no changes: %d releases as in the values repo\n", opts.IO.SuccessIcon(), unchanged)
		return nil
	}
	counts := map[kube.Action]int{}
	for _, d := range diffs {
		counts[d.Action]++
	}
	var parts []string
	for _, a := range []kube.Action{kube.ActionInstall, kube.ActionUpgrade, kube.ActionUninstall} {
		if counts[a] > 0 {
			parts = append(parts, fmt.Sprintf("%d to %s", counts[a], a))
		}
	}
	fmt.Fprintf(opts.IO.ErrOut, "%d releases differ: %s; %d unchanged\n", len(diffs), strings.Join(parts, ", "), unchanged)
	if opts.DetailedExitCode {
		return &cmdutil.SilentError{Code: ExitChanges}
	}
	return nil
}

// Compute diffs each changed release of the plan against its last stored
// revision.
func Compute(plan *kube.Plan) ([]ReleaseDiff, error) {
	out := []ReleaseDiff{}
	for _, it := range plan.Changed() {
		live := ""
		if it.Current != nil && it.Action != kube.ActionInstall {
			live = kube.StoredManifest(it.Current)
		}
		changes, err := objdiff.Compare(live, it.Desired)
		if err != nil {
			return nil, fmt.Errorf("release %s: %w", it.ID(), err)
		}
		if changes == nil {
			changes = []objdiff.Change{}
		}
		out = append(out, ReleaseDiff{Release: it.ID(), Action: it.Action, Reason: it.Reason, Objects: changes})
	}
	return out, nil
}

var marks = map[kube.Action]string{kube.ActionInstall: "+", kube.ActionUpgrade: "~", kube.ActionUninstall: "-"}
var objMarks = map[objdiff.Op]string{objdiff.Added: "+", objdiff.Changed: "~", objdiff.Removed: "-"}

// Write prints the diffs for people (and for review in CI logs).
func Write(w io.Writer, diffs []ReleaseDiff) error {
	var b strings.Builder
	for _, d := range diffs {
		fmt.Fprintf(&b, "%s %s: %s (%s)\n", marks[d.Action], d.Release, d.Action, d.Reason)
		if len(d.Objects) == 0 {
			b.WriteString("    (no object changes)\n")
		}
		for _, c := range d.Objects {
			fmt.Fprintf(&b, "    %s %s", objMarks[c.Op], c.Object)
			if len(c.SecretKeys) > 0 {
				keys := make([]string, len(c.SecretKeys))
				for i, k := range c.SecretKeys {
					keys[i] = k.Key + " (" + string(k.Op) + ")"
				}
				fmt.Fprintf(&b, ": secret keys %s", strings.Join(keys, ", "))
			}
			b.WriteString("\n")
			for _, line := range strings.SplitAfter(c.Diff, "\n") {
				if line != "" {
					b.WriteString("        " + line)
				}
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
