// Package status implements `otomi status`.
package status

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/otomi/otomi/pkg/cmd/apply"
	"github.com/otomi/otomi/pkg/cmd/template"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/kube"
)

// Options of status.
type Options struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	Target  apply.TargetOptions
	Output  string
}

// NewCmdStatus builds the command; runF replaces the logic in tests.
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each release in the cluster and whether the values repo differs",
		Long: `For each release of the platform: the chart and version deployed, helm's revision and
state, when it was last deployed, whether the values repo now differs (what apply would do)
and who applied it last (from the ledger ConfigMap otomi/otomi-status).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Output != "table" && opts.Output != "json" {
				return cmdutil.FlagErrorf("--output must be table or json, got %q", opts.Output)
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
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "table", "table or json")
	return cmd
}

// Row is the status of one release.
type Row struct {
	Release      string     `json:"release"`
	Namespace    string     `json:"namespace"`
	Chart        string     `json:"chart"`
	ChartVersion string     `json:"chartVersion,omitempty"`
	Revision     int        `json:"revision,omitempty"`
	State        string     `json:"state"`
	LastDeployed *time.Time `json:"lastDeployed,omitempty"`
	// ValuesRepo is "in sync", "differs" (Change says how) or "not
	// installed".
	ValuesRepo string            `json:"valuesRepo"`
	Change     string            `json:"change,omitempty"`
	Ledger     *kube.LedgerEntry `json:"ledger,omitempty"`
}

// Run prints the status.
func Run(ctx context.Context, opts *Options) error {
	t, err := apply.LoadTarget(ctx, opts.Factory, opts.Target)
	if err != nil {
		return err
	}
	plan, err := t.Cluster.Plan(ctx, t.Releases, t.Manifests, kube.PlanOptions{})
	if err != nil {
		return &apply.ClusterError{Err: err}
	}
	ledger, err := t.Cluster.ReadLedger(ctx)
	if err != nil {
		return &apply.ClusterError{Err: err}
	}
	rows := Rows(plan, ledger)
	if opts.Output == "json" {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	return Write(opts.IO.Out, rows)
}

// Rows builds the status rows of a plan.
func Rows(plan *kube.Plan, ledger map[string]kube.LedgerEntry) []Row {
	rows := []Row{}
	for _, it := range plan.Items {
		r := it.Release
		row := Row{Release: r.Name, Namespace: r.Namespace, Chart: r.Chart, State: "not installed"}
		if e, ok := ledger[it.ID()]; ok {
			row.Ledger = &e
		}
		if cur := it.Current; cur != nil {
			row.Revision = cur.Version
			row.State = string(cur.Info.Status)
			if cur.Chart != nil && cur.Chart.Metadata != nil {
				row.Chart, row.ChartVersion = cur.Chart.Metadata.Name, cur.Chart.Metadata.Version
			}
			if !cur.Info.LastDeployed.IsZero() {
				t := cur.Info.LastDeployed.Time.UTC().Truncate(time.Second)
				row.LastDeployed = &t
			}
		}
		switch it.Action {
		case kube.ActionNone:
			row.ValuesRepo = "in sync"
			if !r.Installed {
				row.ValuesRepo = "not installed"
			}
		default:
			row.ValuesRepo, row.Change = "differs", string(it.Action)+": "+it.Reason
		}
		rows = append(rows, row)
	}
	return rows
}

// Write prints the rows as a table.
func Write(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RELEASE\tNAMESPACE\tCHART\tVERSION\tREVISION\tSTATE\tLAST DEPLOYED\tVALUES REPO\tAPPLIED BY")
	for _, r := range rows {
		rev, when, by := "-", "-", "-"
		if r.Revision > 0 {
			rev = fmt.Sprint(r.Revision)
		}
		if r.LastDeployed != nil {
			when = r.LastDeployed.Format(time.RFC3339)
		}
		if r.Ledger != nil && r.Ledger.By != "" {
			by = r.Ledger.By
		}
		repo := r.ValuesRepo
		if r.Change != "" {
			repo += " (" + r.Change + ")"
		}
		version := r.ChartVersion
		if version == "" {
			version = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Release, r.Namespace, r.Chart, version, rev, r.State, when, repo, by)
	}
	return tw.Flush()
}
