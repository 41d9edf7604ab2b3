// Package cmdutil holds what every command shares: the Factory of lazily
// built dependencies, global settings, exit codes and the problem report.
package cmdutil

import (
	"log/slog"
	"sync"

	"github.com/otomi/otomi"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/schema"
	"github.com/otomi/otomi/pkg/secrets"
)

// Globals are the settings of the root command (flags, OTOMI_* env vars,
// config file), resolved before a command runs.
type Globals struct {
	EnvDir string
	// EnvDirSet is true when the user named the env dir (flag, variable
	// or config file) rather than relying on the default.
	EnvDirSet      bool
	PlatformDir    string
	LogLevel       string
	Debug          bool
	NoColor        bool
	NonInteractive bool
}

// Factory builds a command's dependencies on first use, so that a command
// pays only for what it needs.
type Factory struct {
	IOStreams *iostreams.IOStreams
	Globals   *Globals
	Logger    *slog.Logger

	// Schema returns the compiled values schema.
	Schema func() (*schema.Schema, error)
	// Crypto decrypts and encrypts secrets files.
	Crypto func() secrets.Codec
}

// New returns the Factory of the real program.
func New(ios *iostreams.IOStreams) *Factory {
	f := &Factory{IOStreams: ios, Globals: &Globals{}, Logger: slog.New(slog.DiscardHandler)}
	f.Schema = sync.OnceValues(func() (*schema.Schema, error) {
		return schema.Load(schema.FileName, otomi.ValuesSchema)
	})
	f.Crypto = func() secrets.Codec { return secrets.Sops{} }
	return f
}
