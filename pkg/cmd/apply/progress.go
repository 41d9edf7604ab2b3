package apply

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/kube"
)

// Progress shows a run's events: one line per step for people on stderr
// (icons and colours on a terminal, plain lines in CI or a pipe), or a
// JSON event stream on stdout (-o json).
type Progress struct {
	ios   *iostreams.IOStreams
	w     io.Writer
	fancy bool
	enc   *json.Encoder
}

// NewProgress picks the form: output "json" streams events as JSON lines
// on stdout; otherwise lines on stderr, fancy only on a terminal outside
// CI.
func NewProgress(ios *iostreams.IOStreams, output string) *Progress {
	p := &Progress{ios: ios, w: ios.ErrOut}
	if output == "json" {
		p.enc = json.NewEncoder(ios.Out)
		return p
	}
	p.fancy = ios.IsStderrTTY() && os.Getenv("CI") != "true"
	return p
}

type jsonEvent struct {
	Type     string     `json:"type"`
	Time     time.Time  `json:"time"`
	Release  string     `json:"release,omitempty"`
	Action   string     `json:"action"`
	Phase    kube.Phase `json:"phase"`
	Revision int        `json:"revision,omitempty"`
	Seconds  float64    `json:"seconds,omitempty"`
	Message  string     `json:"message,omitempty"`
}

// Event shows one event.
func (p *Progress) Event(e kube.Event) {
	if p.enc != nil {
		_ = p.enc.Encode(jsonEvent{Type: "event", Time: e.Time.UTC(), Release: e.Release, Action: e.Action, Phase: e.Phase,
			Revision: e.Revision, Seconds: seconds(e.Duration), Message: e.Message})
		return
	}
	fmt.Fprintln(p.w, p.line(e))
}

func (p *Progress) line(e kube.Event) string {
	subject := e.Release
	if subject == "" {
		subject = e.Action
	}
	if !p.fancy {
		head := e.Action + " " + e.Release
		if e.Release == "" {
			head = e.Action
		}
		switch e.Phase {
		case kube.PhaseStart:
			return head + ": started" + paren(e.Message)
		case kube.PhaseDone:
			return head + ": done in " + dur(e.Duration) + revision(e.Revision) + suffix(e.Message)
		case kube.PhaseSkipped:
			return head + ": " + e.Message
		default:
			return head + ": " + string(e.Phase) + ": " + e.Message
		}
	}
	ios := p.ios
	switch e.Phase {
	case kube.PhaseStart:
		return ios.Bold("►") + " " + ing(e.Action) + " " + subject + ios.Faint(paren(e.Message))
	case kube.PhaseDone:
		if e.Release == "" {
			return ios.SuccessIcon() + " " + e.Message + " in " + dur(e.Duration)
		}
		return ios.SuccessIcon() + " " + subject + " " + ed(e.Action) + " in " + dur(e.Duration) + ios.Faint(revision(e.Revision))
	case kube.PhaseFailed:
		return ios.FailureIcon() + " " + subject + " failed: " + e.Message
	case kube.PhaseRetry:
		return ios.Yellow("↻") + " " + subject + ": " + e.Message
	case kube.PhaseSkipped:
		return ios.Faint("- " + subject + ": " + e.Message)
	default:
		return ios.WarningIcon() + " " + subject + " " + e.Message
	}
}

// Summary prints, after a run, a table of what changed (or failed) and a
// headline; with -o json, one summary object.
func (p *Progress) Summary(rep *kube.Report, elapsed time.Duration) {
	counts := map[string]int{}
	var rows []*kube.Outcome
	for _, o := range rep.Outcomes {
		switch o.State {
		case kube.StateUnchanged:
			counts["unchanged"]++
			continue
		case "done":
			counts[ed(string(o.Action))]++
		default:
			counts[o.State]++
		}
		rows = append(rows, o)
	}
	if p.enc != nil {
		type row struct {
			*kube.Outcome
			Seconds float64 `json:"seconds,omitempty"`
			Error   string  `json:"error,omitempty"`
		}
		out := struct {
			Type     string   `json:"type"`
			Releases []row    `json:"releases"`
			Counts   any      `json:"counts"`
			Seconds  float64  `json:"seconds"`
			Warnings []string `json:"warnings,omitempty"`
			Error    string   `json:"error,omitempty"`
		}{Type: "summary", Releases: []row{}, Counts: counts, Seconds: seconds(elapsed), Warnings: rep.Warnings}
		for _, o := range rep.Outcomes {
			r := row{Outcome: o, Seconds: seconds(o.Duration)}
			if o.Err != nil {
				r.Error = o.Err.Error()
			}
			out.Releases = append(out.Releases, r)
		}
		if err := rep.Err(); err != nil {
			out.Error = err.Error()
		}
		_ = p.enc.Encode(out)
		return
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(p.w, "%s %s\n", p.ios.WarningIcon(), w)
	}
	if len(rows) > 0 {
		fmt.Fprintln(p.w)
		tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RELEASE\tACTION\tRESULT\tREVISION\tTIME\tDETAIL")
		for _, o := range rows {
			rev, t := "-", "-"
			if o.Revision > 0 {
				rev = fmt.Sprint(o.Revision)
			}
			if o.Duration > 0 {
				t = dur(o.Duration)
			}
			detail := o.Reason
			if o.Err != nil {
				detail = firstLine(o.Err.Error())
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", o.Release, o.Action, o.State, rev, t, detail)
		}
		tw.Flush()
	}
	var parts []string
	for _, k := range []string{"installed", "upgraded", "uninstalled", "unchanged", "failed", "skipped", "not-run"} {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
		}
	}
	if err := rep.Err(); err != nil {
		if !rep.Interrupted {
			fmt.Fprintf(p.w, "%s %s\n", p.ios.FailureIcon(), err)
		}
		return
	}
	if len(rows) == 0 {
		fmt.Fprintf(p.w, "%s nothing to do: %d releases unchanged (%s)\n", p.ios.SuccessIcon(), counts["unchanged"], dur(elapsed))
		return
	}
	fmt.Fprintf(p.w, "%s %s in %s\n", p.ios.SuccessIcon(), strings.Join(parts, ", "), dur(elapsed))
}

func ing(action string) string {
	switch action {
	case "install", "uninstall":
		return action + "ing"
	case "upgrade":
		return "upgrading"
	}
	return action
}

func ed(action string) string {
	switch action {
	case "install":
		return "installed"
	case "upgrade":
		return "upgraded"
	case "uninstall":
		return "uninstalled"
	}
	return action
}

func dur(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

func seconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}

func revision(r int) string {
	if r <= 0 {
		return ""
	}
	return fmt.Sprintf(" (revision %d)", r)
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
