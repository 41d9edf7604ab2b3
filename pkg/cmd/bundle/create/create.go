// Package create implements `otomi bundle create`.
package create

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"github.com/otomi/otomi"
	"github.com/otomi/otomi/pkg/build"
	"github.com/otomi/otomi/pkg/bundle"
	"github.com/otomi/otomi/pkg/cmd/bundle/shared"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/platform"
	"github.com/otomi/otomi/pkg/values"
)

// Options of bundle create.
type Options struct {
	IO             *iostreams.IOStreams
	Factory        *cmdutil.Factory
	Output         string
	Apps           string
	Platforms      []string
	SignKey        string
	RequireDigests bool
	Base           string
	Binary         string
	Registry       shared.Registry
}

// NewCmdCreate builds the command; runF replaces the logic in tests.
func NewCmdCreate(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Factory: f}
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Build an air-gap bundle: otomi, the platform and every image",
		Long: `Render the platform with the values repo (every app enabled with --apps all, the
default), pull every image it uses and write one archive (tar, zstd) holding the otomi
binary, the platform (charts/, helmfile.d/, templates/, policies/, values-schema.yaml),
the values it was rendered with (secrets redacted) and the images as an OCI image layout,
described by bundle.json (every file with its sha256, images with digests, charts with
versions). Identical layers are stored once.

Fails before writing anything when an image cannot be pulled, listing every one, and with
--require-digests when a reference is not pinned by digest. --base OLD_BUNDLE leaves out
the files and layers OLD_BUNDLE carries (an incremental bundle: extract needs both).`,
		Example: `  otomi bundle create --env-dir values -o platform.tar.zst --platform linux/amd64 --sign-key bundle.key`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Apps != "all" && opts.Apps != "enabled" {
				return cmdutil.FlagErrorf("--apps must be all or enabled, got %q", opts.Apps)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Output, "output", "o", "otomi-bundle.tar.zst", "the bundle file to write")
	fl.StringVar(&opts.Apps, "apps", "all", "images of all apps, or of the apps enabled in the values")
	fl.StringSliceVar(&opts.Platforms, "platform", nil, "platforms of multi-arch images to keep, e.g. linux/amd64,linux/arm64 (default: all)")
	fl.StringVar(&opts.SignKey, "sign-key", "", "sign bundle.json with this ed25519 private key (PEM PKCS#8: 'otomi bundle keygen' or 'openssl genpkey -algorithm ed25519')")
	fl.BoolVar(&opts.RequireDigests, "require-digests", false, "fail when an image reference is not pinned by digest")
	fl.StringVar(&opts.Base, "base", "", "make an incremental bundle holding only what this older bundle lacks")
	fl.StringVar(&opts.Binary, "binary", "", "the otomi binary to carry (default: this one; give another for another OS/arch)")
	fl.BoolVar(&opts.Registry.Insecure, "insecure", false, "pull over plain HTTP or unverified TLS")
	return cmd
}

// Run builds the bundle.
func Run(ctx context.Context, opts *Options) error {
	f, ios := opts.Factory, opts.IO
	lv, err := cmdutil.LoadValues(ctx, f, false)
	if err != nil {
		return err
	}
	if len(lv.Problems.Errors()) > 0 {
		cmdutil.PrintProblems(ios, ios.ErrOut, "values", lv.Problems)
		return cmdutil.ErrValidation
	}
	dir, err := platform.Dir(f.Globals.PlatformDir, otomi.Platform(), platform.CacheDir())
	if err != nil {
		return err
	}
	images, err := bundle.RenderImages(ctx, dir, lv.Values.Tree, opts.Apps == "all")
	if err != nil {
		return cmdutil.RenderError(err)
	}
	vals, err := values.Encode(lv.Schema.Redact(lv.Values))
	if err != nil {
		return err
	}
	key, err := shared.PrivateKey(opts.SignKey)
	if err != nil {
		return err
	}
	var base *bundle.Head
	if opts.Base != "" {
		if base, err = bundle.ReadHead(opts.Base); err != nil {
			return fmt.Errorf("base bundle: %w", err)
		}
	}
	bin := opts.Binary
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return err
		}
	}
	registry, _ := values.Get(lv.Values.Tree, "/otomi/imageRegistry")
	registryStr, _ := registry.(string)
	ropts, nopts, tr := opts.Registry.Options()
	progress := shared.NewProgress(ios)
	fmt.Fprintf(ios.ErrOut, "► pulling %d images (%s apps)\n", len(images), opts.Apps)
	created := time.Now()
	m, err := bundle.CreateFile(ctx, opts.Output, bundle.CreateOptions{
		Binary: bin, Platform: os.DirFS(dir), Values: vals, Images: images, Apps: opts.Apps, Registry: registryStr,
		Platforms: opts.Platforms, RequireDigests: opts.RequireDigests, SignKey: key, Base: base,
		Remote: append(ropts, remote.WithTransport(tr)), Name: nopts,
		Version: build.Version, Commit: build.Commit, Created: created, Progress: progress.Func(),
	})
	progress.Done()
	if err != nil {
		return err
	}
	st, err := os.Stat(opts.Output)
	if err != nil {
		return err
	}
	blobs, carried := 0, 0
	for _, fl := range m.Files {
		if strings.HasPrefix(fl.Path, bundle.ImagesDir+"/blobs/") {
			blobs++
		}
		if !fl.InBase {
			carried++
		}
	}
	note := ""
	if m.Base != nil {
		note = fmt.Sprintf("; incremental: carries %d of %d files, the rest are in %s", carried, len(m.Files), opts.Base)
	}
	signed := "unsigned"
	if key != nil {
		signed = "signed"
	}
	fmt.Fprintf(ios.ErrOut, "%s %s: %d images, %d blobs, %d charts, %s, %s%s\n", ios.SuccessIcon(), opts.Output, len(m.Images), blobs, len(m.Charts), shared.MB(st.Size()), signed, note)
	return nil
}
