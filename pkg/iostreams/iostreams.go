// Package iostreams holds the standard streams of a command, with terminal
// detection and the few colours and symbols otomi prints for people.
package iostreams

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are a command's input and outputs. Out carries data only;
// everything meant for people goes to ErrOut.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY  bool
	stderrTTY bool
	noColor   bool
}

// System returns the process's streams.
func System() *IOStreams {
	s := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	s.stdinTTY = term.IsTerminal(int(os.Stdin.Fd()))
	s.stderrTTY = term.IsTerminal(int(os.Stderr.Fd()))
	if _, ok := os.LookupEnv("NO_COLOR"); ok || os.Getenv("TERM") == "dumb" {
		s.noColor = true
	}
	return s
}

// Test returns streams backed by buffers, for tests.
func Test() (s *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut, noColor: true}, in, out, errOut
}

// SetNoColor turns colour off.
func (s *IOStreams) SetNoColor(v bool) {
	if v {
		s.noColor = true
	}
}

// IsStdinTTY reports whether standard input is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStderrTTY reports whether people read stderr on a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// ColorEnabled reports whether stderr may carry ANSI colours.
func (s *IOStreams) ColorEnabled() bool { return s.stderrTTY && !s.noColor }

func (s *IOStreams) paint(code, text string) string {
	if !s.ColorEnabled() {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// Red, Green, Yellow, Bold and Faint colour text for stderr.
func (s *IOStreams) Red(t string) string    { return s.paint("31", t) }
func (s *IOStreams) Green(t string) string  { return s.paint("32", t) }
func (s *IOStreams) Yellow(t string) string { return s.paint("33", t) }
func (s *IOStreams) Bold(t string) string   { return s.paint("1", t) }
func (s *IOStreams) Faint(t string) string  { return s.paint("2", t) }

// Symbols for progress lines.
func (s *IOStreams) SuccessIcon() string { return s.Green("✔") }
func (s *IOStreams) FailureIcon() string { return s.Red("✗") }
func (s *IOStreams) WarningIcon() string { return s.Yellow("!") }
