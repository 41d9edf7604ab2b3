package validate

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Formats of a report.
var Formats = []string{"text", "json", "junit"}

// Styler colours text output; nil writes plain text.
type Styler interface {
	Red(string) string
	Yellow(string) string
	Green(string) string
	Bold(string) string
}

type plain struct{}

func (plain) Red(s string) string    { return s }
func (plain) Yellow(s string) string { return s }
func (plain) Green(s string) string  { return s }
func (plain) Bold(s string) string   { return s }

// Write writes the report in a format.
func (r *Report) Write(w io.Writer, format string, st Styler) error {
	if st == nil {
		st = plain{}
	}
	switch format {
	case "json":
		out := *r
		if out.Findings == nil {
			out.Findings = []Finding{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(out)
	case "junit":
		return r.writeJUnit(w)
	default:
		return r.writeText(w, st)
	}
}

func (r *Report) writeText(w io.Writer, st Styler) error {
	byRelease := map[string][]Finding{}
	for _, f := range r.Findings {
		byRelease[f.Release] = append(byRelease[f.Release], f)
	}
	for _, rs := range r.Releases {
		fs := byRelease[rs.Release]
		if len(fs) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s\n", st.Bold("release "+rs.Release))
		for _, f := range fs {
			icon := st.Red("✗")
			if f.Severity == Warning {
				icon = st.Yellow("!")
			}
			where := f.Source
			if f.KubeVersion != "" && len(r.KubeVersions) > 1 {
				where += " [" + f.KubeVersion + "]"
			}
			fmt.Fprintf(w, "  %s %s  %s  %s  %s: %s\n", icon, f.Object(), where, orRoot(f.Pointer), f.Rule, f.Message)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RELEASE\tOBJECTS\tPASSED\tWARNINGS\tERRORS")
	for _, rs := range r.Releases {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", rs.Release, rs.Objects, rs.Passed, rs.Warnings, rs.Errors)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := st.Green("✔ templates valid")
	if r.Errors > 0 {
		verdict = st.Red("✗ templates invalid")
	}
	_, err := fmt.Fprintf(w, "%s on Kubernetes %s: %d objects checked, %d passed, %d with warnings, %d with errors\n",
		verdict, strings.Join(r.KubeVersions, ", "), r.Objects, r.Passed, r.Warnings, r.Errors)
	return err
}

func orRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Failures  []junitFailed `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailed struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// writeJUnit writes one suite per release, one case per object; errors
// are failures, warnings go to system-out.
func (r *Report) writeJUnit(w io.Writer) error {
	type key struct{ release, object, source string }
	findings := map[key][]Finding{}
	for _, f := range r.Findings {
		k := key{f.Release, f.Object(), f.Source}
		findings[k] = append(findings[k], f)
	}
	out := junitSuites{Name: "otomi validate-templates", Tests: r.Objects, Failures: r.Errors}
	// Objects without findings are not in the report: cases come from
	// the findings, plus one passing case per release for the rest.
	for _, rs := range r.Releases {
		s := junitSuite{Name: rs.Release, Tests: rs.Objects, Failures: rs.Errors}
		seen := map[key]bool{}
		for _, f := range r.Findings {
			k := key{f.Release, f.Object(), f.Source}
			if f.Release != rs.Release || seen[k] {
				continue
			}
			seen[k] = true
			c := junitCase{Name: f.Object(), ClassName: f.Source}
			for _, g := range findings[k] {
				line := fmt.Sprintf("%s %s: %s", orRoot(g.Pointer), g.Rule, g.Message)
				if g.Severity == Error {
					c.Failures = append(c.Failures, junitFailed{Message: g.Message, Type: g.Rule, Text: line})
				} else {
					c.SystemOut += "warning: " + line + "\n"
				}
			}
			s.Cases = append(s.Cases, c)
		}
		if passed := rs.Objects - len(seen); passed > 0 {
			s.Cases = append(s.Cases, junitCase{Name: fmt.Sprintf("%d objects without findings", passed), ClassName: rs.Release})
		}
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
