package cmdutil

import (
	"context"
	"errors"
	"fmt"
)

// Exit codes, the one table of them.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitValidation  = 3
	ExitCluster     = 4
	ExitInterrupted = 130
)

// FlagError is a usage error: bad flags or arguments.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// FlagErrorf returns a usage error.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// ErrValidation is returned by a command that has already printed its
// validation report; it exits with ExitValidation.
var ErrValidation = errors.New("validation failed")

// SilentError exits with Code and prints nothing more: the command has
// already said what went wrong.
type SilentError struct{ Code int }

func (e *SilentError) Error() string { return fmt.Sprintf("exit %d", e.Code) }

// ExitCode maps an error to the process exit code.
func ExitCode(err error) int {
	var fe *FlagError
	var se *SilentError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &se):
		return se.Code
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.Is(err, ErrValidation):
		return ExitValidation
	case errors.As(err, &fe):
		return ExitUsage
	default:
		return ExitError
	}
}
