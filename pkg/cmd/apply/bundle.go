package apply

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/otomi/otomi/pkg/build"
	"github.com/otomi/otomi/pkg/bundle"
	"github.com/otomi/otomi/pkg/cmd/bundle/shared"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/render"
	"github.com/otomi/otomi/pkg/values"
)

// BundleFlags name an air-gap bundle whose platform a cluster command
// deploys instead of the built-in one.
type BundleFlags struct {
	File string
	Base string
	Key  string
}

// AddBundleFlags adds --bundle, --bundle-base and --bundle-key.
func AddBundleFlags(cmd *cobra.Command, b *BundleFlags) {
	fl := cmd.Flags()
	fl.StringVar(&b.File, "bundle", "", "deploy the platform of this bundle (otomi bundle create): it is checked and extracted first")
	fl.StringVar(&b.Base, "bundle-base", "", "the base bundle of an incremental --bundle")
	fl.StringVar(&b.Key, "bundle-key", "", "require a signature of --bundle by this ed25519 public key (PEM)")
}

// openedBundle is a bundle's platform extracted for one run.
type openedBundle struct {
	file     string
	dir      string
	manifest *bundle.Manifest
}

func (b *openedBundle) Close() { _ = os.RemoveAll(b.dir) }

// openBundle checks the bundle (checksums of every file, the signature
// with --bundle-key, the base of an incremental bundle) and extracts its
// platform into a temporary folder that the Factory then renders. The
// images stay in the bundle: push-images put them into the site registry.
func openBundle(ctx context.Context, f *cmdutil.Factory, b BundleFlags) (*openedBundle, error) {
	if b.File == "" {
		if b.Base != "" || b.Key != "" {
			return nil, cmdutil.FlagErrorf("--bundle-base and --bundle-key go with --bundle")
		}
		return nil, nil
	}
	if f.Globals.PlatformDir != "" {
		return nil, cmdutil.FlagErrorf("--bundle deploys the bundle's platform: drop --platform-dir (or $OTOMI_PLATFORM_DIR %s)", f.Globals.PlatformDir)
	}
	key, err := shared.PublicKey(b.Key)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "otomi-bundle-")
	if err != nil {
		return nil, err
	}
	h, err := bundle.Extract(ctx, bundle.ExtractOptions{
		ReadOptions: bundle.ReadOptions{Bundle: b.File, Base: b.Base, PublicKey: key},
		Dir:         dir,
		Files:       func(file bundle.File) bool { return file.Kind == bundle.KindPlatform },
	})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("--bundle %s: %w", b.File, err)
	}
	f.Globals.PlatformDir = dir
	ios := f.IOStreams
	signed := "unsigned"
	if key != nil {
		signed = "signature valid"
	}
	fmt.Fprintf(ios.ErrOut, "%s bundle %s: otomi %s platform, %d charts, %d images, checksums match, %s\n",
		ios.SuccessIcon(), b.File, h.Manifest.OtomiVersion, len(h.Manifest.Charts), len(h.Manifest.Images), signed)
	if v := h.Manifest.OtomiVersion; v != "" && v != build.Version {
		fmt.Fprintf(ios.ErrOut, "%s the bundle was made by otomi %s, this is otomi %s: the bundle's own binary deploys its platform as it was tested\n",
			ios.WarningIcon(), v, build.Version)
	}
	return &openedBundle{file: b.File, dir: dir, manifest: h.Manifest}, nil
}

// checkImages warns about images the rendered releases use that the site
// cannot have from the bundle: all of them when otomi.imageRegistry does
// not point at the site registry, else those the bundle lacks (a team's
// own images are fine when the site registry has them).
func (b *openedBundle) checkImages(f *cmdutil.Factory, t *Target) {
	ios := f.IOStreams
	// The values the platform was rendered with: the values repo's, with
	// the --state-values-file layers.
	var tree any
	if t.Loaded != nil {
		tree = t.Loaded.StateValues
	}
	registry := ""
	if r, ok := values.Get(tree, "/otomi/imageRegistry"); ok {
		registry, _ = r.(string)
	}
	if registry == "" {
		fmt.Fprintf(ios.ErrOut, "%s otomi.imageRegistry is not set: the cluster pulls every image from its public registry; run otomi bundle push-images %s --registry HOST/PREFIX --env-dir REPO first\n",
			ios.WarningIcon(), b.file)
		return
	}
	have := map[string]bool{}
	for _, img := range b.manifest.Images {
		have[img.Key()] = true
		have[bundle.ImageRef{Path: img.Path, Tag: img.Tag}.Key()] = true
	}
	var missing []string
	for _, ref := range render.Images(t.Manifests) {
		if !have[bundle.SplitRef(ref, registry).Key()] {
			missing = append(missing, ref)
		}
	}
	if len(missing) == 0 {
		return
	}
	sort.Strings(missing)
	fmt.Fprintf(ios.ErrOut, "%s %d images are not in the bundle; %s must serve them:\n  %s\n",
		ios.WarningIcon(), len(missing), registry, strings.Join(missing, "\n  "))
}
