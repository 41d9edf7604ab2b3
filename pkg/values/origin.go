package values

import (
	"fmt"
	"strings"
)

// Origin says where a value of the tree came from.
type Origin struct {
	// File is the slash-separated path relative to the values repo root
	// (for example "env/apps/harbor.yaml"), or "values-schema.yaml" for defaults.
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	// Encrypted is true when the value was read from a SOPS-encrypted file.
	Encrypted bool `json:"encrypted,omitempty"`
	// Default is true when the value is the schema's default.
	Default bool `json:"default,omitempty"`
	// KeyLine and KeyColumn locate the mapping key of the value, when it
	// has one (Line and Column locate a scalar's value itself).
	KeyLine   int `json:"-"`
	KeyColumn int `json:"-"`
}

// AtKey returns the origin moved to the value's mapping key, where a
// problem with the key itself (unknown, badly named) is best shown.
func (o Origin) AtKey() Origin {
	if o.KeyLine > 0 {
		o.Line, o.Column = o.KeyLine, o.KeyColumn
	}
	return o
}

// String renders the origin as file:line:col, omitting what is unknown.
func (o Origin) String() string {
	switch {
	case o.File == "":
		return "-"
	case o.Line == 0:
		return o.File
	case o.Column == 0:
		return fmt.Sprintf("%s:%d", o.File, o.Line)
	default:
		return fmt.Sprintf("%s:%d:%d", o.File, o.Line, o.Column)
	}
}

// Problem is one thing wrong with the values repo: where it is, which rule it
// breaks and what was expected. Loading and validation both report Problems.
type Problem struct {
	Origin  Origin `json:"origin"`
	Pointer string `json:"pointer"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
	// Warning problems are reported but do not fail validation.
	Warning bool `json:"warning,omitempty"`
}

func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.Origin.String())
	if p.Pointer != "" {
		b.WriteString(" ")
		b.WriteString(p.Pointer)
	}
	b.WriteString(": ")
	b.WriteString(p.Message)
	return b.String()
}

// Problems is a list of problems that is also an error.
type Problems []Problem

func (ps Problems) Error() string {
	if len(ps) == 1 {
		return ps[0].Error()
	}
	lines := make([]string, 0, len(ps)+1)
	lines = append(lines, fmt.Sprintf("%d problems:", len(ps)))
	for _, p := range ps {
		lines = append(lines, "  "+p.Error())
	}
	return strings.Join(lines, "\n")
}

// Errors returns the problems that are not warnings.
func (ps Problems) Errors() Problems {
	var out Problems
	for _, p := range ps {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}
