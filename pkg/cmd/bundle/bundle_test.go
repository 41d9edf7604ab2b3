package bundle

import (
	"context"
	"strings"
	"testing"

	"github.com/google/shlex"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi/pkg/cmd/bundle/create"
	"github.com/otomi/otomi/pkg/cmd/bundle/extract"
	"github.com/otomi/otomi/pkg/cmd/bundle/pushimages"
	"github.com/otomi/otomi/pkg/cmd/bundle/shared"
	"github.com/otomi/otomi/pkg/cmd/bundle/verify"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
)

func run(t *testing.T, cmd *cobra.Command, args string) error {
	t.Helper()
	argv, err := shlex.Split(args)
	require.NoError(t, err)
	cmd.SetArgs(argv)
	cmd.SetOut(&strings.Builder{})
	cmd.SetErr(&strings.Builder{})
	return cmd.ExecuteContext(context.Background())
}

func TestCreateOptions(t *testing.T) {
	cases := []struct {
		args    string
		want    create.Options
		wantErr string
	}{
		{args: "", want: create.Options{Output: "otomi-bundle.tar.zst", Apps: "all"}},
		{args: "-o b.tar.zst --apps enabled --platform linux/amd64,linux/arm64 --sign-key k --require-digests --base old --binary bin --insecure",
			want: create.Options{Output: "b.tar.zst", Apps: "enabled", Platforms: []string{"linux/amd64", "linux/arm64"}, SignKey: "k", RequireDigests: true, Base: "old", Binary: "bin", Registry: shared.Registry{Insecure: true}}},
		{args: "--apps some", wantErr: `--apps must be all or enabled, got "some"`},
		{args: "extra", wantErr: "unknown command"},
	}
	for _, c := range cases {
		t.Run(c.args, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *create.Options
			err := run(t, create.NewCmdCreate(cmdutil.New(ios), func(_ context.Context, o *create.Options) error { got = o; return nil }), c.args)
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			got.IO, got.Factory = nil, nil
			assert.Equal(t, c.want, *got)
		})
	}
}

func TestVerifyExtractOptions(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := cmdutil.New(ios)
	var v *verify.Options
	require.NoError(t, run(t, verify.NewCmdVerify(f, func(_ context.Context, o *verify.Options) error { v = o; return nil }), "b.tar.zst --base a.tar.zst --key k.pub"))
	assert.Equal(t, verify.Options{Bundle: "b.tar.zst", Base: "a.tar.zst", Key: "k.pub"}, verify.Options{Bundle: v.Bundle, Base: v.Base, Key: v.Key})
	var e *extract.Options
	require.NoError(t, run(t, extract.NewCmdExtract(f, func(_ context.Context, o *extract.Options) error { e = o; return nil }), "b.tar.zst out --base a.tar.zst"))
	assert.Equal(t, "b.tar.zst out a.tar.zst", e.Bundle+" "+e.Dir+" "+e.Base)
	assert.Error(t, run(t, extract.NewCmdExtract(f, nil), "b.tar.zst"))
}

func TestPushImagesOptions(t *testing.T) {
	cases := []struct {
		args, stdin string
		envDir      string
		want        pushimages.Options
		wantErr     string
	}{
		{args: "b.tar.zst --registry harbor.example/mirror/", want: pushimages.Options{Bundle: "b.tar.zst", Registry: "harbor.example/mirror"}},
		{args: "b.tar.zst --registry 10.0.0.5:5000 --insecure --username robot --password-stdin", stdin: "s3cret\n",
			want: pushimages.Options{Bundle: "b.tar.zst", Registry: "10.0.0.5:5000", Auth: shared.Registry{Insecure: true, Username: "robot", Password: "s3cret"}, PasswordStdin: true}},
		{args: "b.tar.zst --registry h.example", envDir: "values", want: pushimages.Options{Bundle: "b.tar.zst", Registry: "h.example", EnvDir: "values"}},
		{args: "b.tar.zst", wantErr: "--registry must be HOST[/PREFIX]"},
		{args: "b.tar.zst --registry https://h.example", wantErr: "no scheme"},
		{args: "b.tar.zst --registry h.example --password-stdin", wantErr: "--password-stdin needs --username"},
	}
	for _, c := range cases {
		t.Run(c.args, func(t *testing.T) {
			ios, in, _, _ := iostreams.Test()
			in.WriteString(c.stdin)
			f := cmdutil.New(ios)
			if c.envDir != "" {
				f.Globals.EnvDir, f.Globals.EnvDirSet = c.envDir, true
			}
			var got *pushimages.Options
			err := run(t, pushimages.NewCmdPushImages(f, func(_ context.Context, o *pushimages.Options) error { got = o; return nil }), c.args)
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			got.IO, got.Factory = nil, nil
			assert.Equal(t, c.want, *got)
		})
	}
}

func TestSubcommands(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	var names []string
	for _, c := range NewCmdBundle(cmdutil.New(ios)).Commands() {
		names = append(names, c.Name())
	}
	assert.ElementsMatch(t, []string{"create", "verify", "extract", "push-images", "keygen"}, names)
}
