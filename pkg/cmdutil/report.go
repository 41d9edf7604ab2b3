package cmdutil

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/values"
)

// PrintProblems writes a report people can act on: a headline with the
// counts, then one line per problem with file:line:col, JSON pointer and
// message, errors first. It writes nothing for an empty list.
func PrintProblems(ios *iostreams.IOStreams, w io.Writer, subject string, ps values.Problems) {
	if len(ps) == 0 {
		return
	}
	errs, warns := 0, 0
	for _, p := range ps {
		if p.Warning {
			warns++
		} else {
			errs++
		}
	}
	counts := []string{}
	if errs > 0 {
		counts = append(counts, plural(errs, "error"))
	}
	if warns > 0 {
		counts = append(counts, plural(warns, "warning"))
	}
	icon, state := ios.WarningIcon(), "has warnings"
	if errs > 0 {
		icon, state = ios.FailureIcon(), "invalid"
	}
	fmt.Fprintf(w, "%s %s %s: %s\n", icon, subject, state, strings.Join(counts, ", "))
	sorted := append(values.Problems{}, ps...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.Warning != b.Warning {
			return !a.Warning
		}
		if a.Origin.File != b.Origin.File {
			return a.Origin.File < b.Origin.File
		}
		if a.Origin.Line != b.Origin.Line {
			return a.Origin.Line < b.Origin.Line
		}
		return a.Origin.Column < b.Origin.Column
	})
	locWidth, ptrWidth := 0, 0
	for _, p := range sorted {
		locWidth = max(locWidth, len(p.Origin.String()))
		ptrWidth = max(ptrWidth, len(p.Pointer))
	}
	for _, warning := range []bool{false, true} {
		for _, p := range sorted {
			if p.Warning != warning {
				continue
			}
			loc := p.Origin.String()
			line := "  " + loc + strings.Repeat(" ", locWidth-len(loc))
			if ptrWidth > 0 {
				line += "  " + p.Pointer + strings.Repeat(" ", ptrWidth-len(p.Pointer))
			}
			msg := p.Message
			if warning {
				msg = ios.Yellow("warning: ") + msg
			}
			fmt.Fprintf(w, "%s  %s\n", line, msg)
		}
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
