// Package version implements `otomi version`.
package version

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/otomi/otomi/pkg/build"
	"github.com/otomi/otomi/pkg/cmdutil"
)

// Info is what the binary says about itself.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Date      string `json:"date,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// NewCmdVersion builds the command.
func NewCmdVersion(f *cmdutil.Factory) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of otomi",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := Info{Version: build.Version, Commit: build.Commit, Date: build.Date,
				GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
			switch output {
			case "json":
				enc := json.NewEncoder(f.IOStreams.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			case "short":
				_, err := fmt.Fprintln(f.IOStreams.Out, info.Version)
				return err
			case "text":
				_, err := fmt.Fprintf(f.IOStreams.Out, "otomi %s (commit %s, %s, %s)\n", info.Version, orNone(info.Commit), info.GoVersion, info.Platform)
				return err
			}
			return cmdutil.FlagErrorf("--output must be text, short or json, got %q", output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text, short or json")
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
