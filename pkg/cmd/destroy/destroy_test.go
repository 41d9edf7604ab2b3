package destroy

import (
	"context"
	"github.com/otomi/otomi/internal/cmdtest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi/pkg/cmd/apply"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
)

func TestNewCmdDestroy(t *testing.T) {
	defaults := Options{Concurrency: apply.DefaultConcurrency, Timeout: 5 * time.Minute, Output: "text"}
	cases := []struct {
		args    string
		want    Options
		wantErr string
	}{
		{args: "", want: defaults},
		{args: "--yes --full -l app=harbor --keep-going --timeout 1m --concurrency 2", want: Options{Yes: true, Full: true, KeepGoing: true,
			Timeout: time.Minute, Concurrency: 2, Output: "text", Target: apply.TargetOptions{Render: cmdutil.RenderFlags{Selectors: []string{"app=harbor"}}}}},
		{args: "-y", want: Options{Yes: true, Concurrency: apply.DefaultConcurrency, Timeout: 5 * time.Minute, Output: "text"}},
		{args: "--concurrency 0", wantErr: "--concurrency must be at least 1"},
	}
	for _, c := range cases {
		t.Run(c.args, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmdDestroy(cmdutil.New(ios), func(_ context.Context, o *Options) error { got = o; return nil })
			err := cmdtest.Execute(t, cmd, c.args)
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			c.want.IO, c.want.Factory = got.IO, got.Factory
			assert.Equal(t, c.want, *got)
		})
	}
}
