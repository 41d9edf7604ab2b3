// Package sync implements `otomi sync`: apply without change detection.
package sync

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/otomi/otomi/pkg/cmd/apply"
	"github.com/otomi/otomi/pkg/cmdutil"
)

// NewCmdSync builds the command; runF replaces the logic in tests.
func NewCmdSync(f *cmdutil.Factory, runF func(context.Context, *apply.Options) error) *cobra.Command {
	return apply.NewCmdSync(f, runF)
}
