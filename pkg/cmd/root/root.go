// Package root builds the otomi command tree and runs it.
package root

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/otomi/otomi/pkg/build"
	"github.com/otomi/otomi/pkg/cmd/apply"
	"github.com/otomi/otomi/pkg/cmd/bootstrap"
	"github.com/otomi/otomi/pkg/cmd/bundle"
	"github.com/otomi/otomi/pkg/cmd/decrypt"
	"github.com/otomi/otomi/pkg/cmd/destroy"
	"github.com/otomi/otomi/pkg/cmd/diff"
	"github.com/otomi/otomi/pkg/cmd/encrypt"
	"github.com/otomi/otomi/pkg/cmd/images"
	"github.com/otomi/otomi/pkg/cmd/list"
	"github.com/otomi/otomi/pkg/cmd/migrate"
	"github.com/otomi/otomi/pkg/cmd/printvalues"
	"github.com/otomi/otomi/pkg/cmd/pull"
	"github.com/otomi/otomi/pkg/cmd/push"
	"github.com/otomi/otomi/pkg/cmd/status"
	"github.com/otomi/otomi/pkg/cmd/sync"
	"github.com/otomi/otomi/pkg/cmd/template"
	"github.com/otomi/otomi/pkg/cmd/validatetemplates"
	"github.com/otomi/otomi/pkg/cmd/validatevalues"
	"github.com/otomi/otomi/pkg/cmd/version"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
)

// Main runs otomi with the process's arguments and returns the exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ios := iostreams.System()
	f := cmdutil.New(ios)
	return Run(ctx, f, os.Args[1:])
}

// Run executes the command line args with the factory f and returns the
// exit code; every error is printed here, once.
func Run(ctx context.Context, f *cmdutil.Factory, args []string) int {
	cmd := NewCmdRoot(f)
	cmd.SetArgs(args)
	cmd.SetIn(f.IOStreams.In)
	cmd.SetOut(f.IOStreams.Out)
	cmd.SetErr(f.IOStreams.ErrOut)
	err := cmd.ExecuteContext(ctx)
	if err != nil {
		err = classify(err)
		printError(f, err)
	}
	return cmdutil.ExitCode(err)
}

// classify turns cobra's own usage errors into FlagErrors.
func classify(err error) error {
	var fe *cmdutil.FlagError
	if errors.As(err, &fe) {
		return err
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "requires at most", "invalid argument", "flag needs an argument", "required flag"} {
		if strings.HasPrefix(msg, p) {
			return &cmdutil.FlagError{Err: err}
		}
	}
	return err
}

func printError(f *cmdutil.Factory, err error) {
	var se *cmdutil.SilentError
	if errors.As(err, &se) || errors.Is(err, cmdutil.ErrValidation) {
		return
	}
	ios := f.IOStreams
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(ios.ErrOut, "%s interrupted\n", ios.FailureIcon())
		return
	}
	fmt.Fprintf(ios.ErrOut, "%s %s\n", ios.FailureIcon(), err)
	var fe *cmdutil.FlagError
	if errors.As(err, &fe) {
		fmt.Fprintln(ios.ErrOut, "Run 'otomi --help' for usage.")
	}
}

// NewCmdRoot builds the command tree. Settings come from flags, then
// OTOMI_* environment variables, then the optional config file.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	v := viper.New()
	cmd := &cobra.Command{
		Use:   "otomi",
		Short: "Drive a Kubernetes platform from a git repo of values",
		Long: `otomi validates, renders and deploys a whole Kubernetes platform from a values repo:
a git repository of YAML values files whose secrets are SOPS-encrypted.

Secrets are decrypted in memory only; nothing decrypted is written to disk.`,
		Version:       build.Version,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return resolveGlobals(cmd, v, f)
		},
	}
	cmd.SetVersionTemplate("otomi {{.Version}}\n")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })

	pf := cmd.PersistentFlags()
	pf.String("env-dir", "./env", "the values repo (the folder holding env/, or env/ itself) [$OTOMI_ENV_DIR]")
	pf.String("log-level", "warn", "diagnostics level on stderr: debug, info, warn or error [$OTOMI_LOG_LEVEL]")
	pf.Bool("debug", false, "log debug diagnostics (same as --log-level debug) [$OTOMI_DEBUG]")
	pf.Bool("no-color", false, "no colours in output [$OTOMI_NO_COLOR, $NO_COLOR]")
	pf.Bool("non-interactive", false, "never prompt [$OTOMI_NON_INTERACTIVE]")
	pf.String("platform-dir", "", "render this platform (a folder with helmfile.d/, charts/, templates/) instead of the one built in [$OTOMI_PLATFORM_DIR]")
	pf.String("config", "", "config file (YAML) with defaults for these flags [$OTOMI_CONFIG]")

	cmd.AddCommand(
		validatevalues.NewCmdValidateValues(f, nil),
		printvalues.NewCmdValues(f, nil),
		encrypt.NewCmdEncrypt(f, nil),
		decrypt.NewCmdDecrypt(f, nil),
		version.NewCmdVersion(f),
		template.NewCmdTemplate(f, nil),
		list.NewCmdList(f, nil),
		images.NewCmdImages(f, nil),
		bootstrap.NewCmdBootstrap(f, nil),
		migrate.NewCmdMigrate(f, nil),
		validatetemplates.NewCmdValidateTemplates(f, nil),
		apply.NewCmdApply(f, nil),
		sync.NewCmdSync(f, nil),
		diff.NewCmdDiff(f, nil),
		status.NewCmdStatus(f, nil),
		destroy.NewCmdDestroy(f, nil),
		push.NewCmdPush(f, nil),
		pull.NewCmdPull(f, nil),
		bundle.NewCmdBundle(f),
	)
	return cmd
}

func resolveGlobals(cmd *cobra.Command, v *viper.Viper, f *cmdutil.Factory) error {
	v.SetEnvPrefix("OTOMI")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	var bindErr error
	cmd.Root().PersistentFlags().VisitAll(func(fl *pflag.Flag) {
		if err := v.BindPFlag(fl.Name, fl); err != nil {
			bindErr = err
		}
	})
	if bindErr != nil {
		return bindErr
	}
	if cfg := v.GetString("config"); cfg != "" {
		v.SetConfigFile(cfg)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return fmt.Errorf("config file %s: %w", cfg, err)
		}
	}
	g := f.Globals
	g.EnvDir = v.GetString("env-dir")
	g.EnvDirSet = cmd.Flags().Changed("env-dir") || os.Getenv("OTOMI_ENV_DIR") != "" || v.InConfig("env-dir")
	g.PlatformDir = v.GetString("platform-dir")
	g.LogLevel = v.GetString("log-level")
	g.Debug = v.GetBool("debug")
	g.NoColor = v.GetBool("no-color")
	g.NonInteractive = v.GetBool("non-interactive")
	f.IOStreams.SetNoColor(g.NoColor)

	level := slog.LevelWarn
	if g.Debug {
		level = slog.LevelDebug
	} else if err := level.UnmarshalText([]byte(g.LogLevel)); err != nil {
		return cmdutil.FlagErrorf("--log-level must be debug, info, warn or error, got %q", g.LogLevel)
	}
	f.Logger = slog.New(slog.NewTextHandler(f.IOStreams.ErrOut, &slog.HandlerOptions{Level: level}))
	return nil
}
