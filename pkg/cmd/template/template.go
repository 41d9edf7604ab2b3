// Package template implements `otomi template`.
package template

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/render"
)

// Options of template.
type Options struct {
	IO          *iostreams.IOStreams
	Factory     *cmdutil.Factory
	Render      cmdutil.RenderFlags
	OutputDir   string
	IncludeCRDs bool
}

// NewCmdTemplate builds the command; runF replaces the logic in tests.
func NewCmdTemplate(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "template",
		Short: "Render the platform's Kubernetes manifests",
		Long: `Render every release of the platform (helmfile.d with the values repo as state values)
into Kubernetes manifests, in process and in parallel, as 'helmfile template' would.

Without --output-dir the manifests go to stdout, each document under a '# Source:' header;
with it, one folder per release named <namespace>-<name>. With -f, render another
helmfile (file or folder) instead; the values repo's values are its state values when
--env-dir is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	AddRenderFlags(cmd, &opts.Render)
	cmd.Flags().StringVar(&opts.OutputDir, "output-dir", "", "write one folder per release here instead of stdout")
	cmd.Flags().BoolVar(&opts.IncludeCRDs, "include-crds", false, "include the charts' CRDs (crds/ folders)")
	return cmd
}

// AddRenderFlags adds the flags every rendering command shares.
func AddRenderFlags(cmd *cobra.Command, r *cmdutil.RenderFlags) {
	cmd.Flags().StringVarP(&r.File, "file", "f", "", "render this helmfile (file or helmfile.d folder) instead of the platform")
	cmd.Flags().StringArrayVarP(&r.Selectors, "selector", "l", nil, "only releases matching key=value or key!=value (comma-separated: all; repeated: any)")
	cmd.Flags().StringVar(&r.KubeVersion, "kube-version", "", "Kubernetes version the charts see (default: cluster.k8sVersion, else "+render.DefaultKubeVersion+")")
	cmd.Flags().StringVarP(&r.Environment, "environment", "e", "", "helmfile environment (default \"default\")")
	cmd.Flags().StringArrayVar(&r.StateValuesFiles, "state-values-file", nil, "YAML merged over the state values, as helmfile's --state-values-file (repeatable)")
}

// Run renders and writes the manifests.
func Run(ctx context.Context, opts *Options) error {
	loaded, err := cmdutil.LoadReleases(ctx, opts.Factory, opts.Render)
	if err != nil {
		return err
	}
	releases := loaded.Releases
	manifests, err := render.Render(ctx, releases, render.RenderOptions{IncludeCRDs: opts.IncludeCRDs})
	if err != nil {
		return cmdutil.RenderError(err)
	}
	if opts.OutputDir == "" {
		return Write(opts.IO.Out, manifests)
	}
	if err := WriteDir(opts.OutputDir, manifests); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "%s %d releases written to %s\n", opts.IO.SuccessIcon(), len(manifests), opts.OutputDir)
	return nil
}

// Write prints the manifests as one stream, release after release.
func Write(w io.Writer, manifests []*render.Manifest) error {
	for _, m := range manifests {
		if _, err := io.WriteString(w, m.Text); err != nil {
			return err
		}
	}
	return nil
}

// WriteDir writes one folder per release, <namespace>-<name>, holding one
// file per chart template (its documents joined), mode 0600: rendered
// Secrets are in there.
func WriteDir(dir string, manifests []*render.Manifest) error {
	for _, m := range manifests {
		rdir := filepath.Join(dir, m.Release.Namespace+"-"+m.Release.Name)
		if err := os.RemoveAll(rdir); err != nil {
			return err
		}
		files := map[string][]string{}
		for _, o := range m.Objects {
			src := o.Source
			if src == "" {
				src = "manifest.yaml"
			}
			files[src] = append(files[src], o.YAML)
		}
		names := make([]string, 0, len(files))
		for n := range files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			clean := filepath.Clean(filepath.FromSlash(n))
			if filepath.IsAbs(clean) || strings.HasPrefix(clean, "..") {
				return errors.New("release " + m.Release.Name + ": template path " + n + " leaves the output folder")
			}
			p := filepath.Join(rdir, clean)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(p, []byte("---\n"+strings.Join(files[n], "---\n")), 0o600); err != nil {
				return err
			}
		}
	}
	return nil
}
