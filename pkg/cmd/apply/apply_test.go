package apply

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi/internal/cmdtest"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
	"github.com/otomi/otomi/pkg/kube"
	"github.com/otomi/otomi/pkg/render"
)

func TestNewCmdApply(t *testing.T) {
	defaults := Options{Concurrency: DefaultConcurrency, Timeout: 5 * time.Minute, Output: "text"}
	with := func(f func(o *Options)) Options { o := defaults; f(&o); return o }
	cases := []struct {
		args    string
		sync    bool
		want    Options
		wantErr string
	}{
		{args: "", want: defaults},
		{args: "", sync: true, want: with(func(o *Options) { o.Sync = true })},
		{args: "-l app=harbor -l group=core --include-needs --concurrency 2 --timeout 90s --rollback-on-failure --keep-going --wait -o json",
			want: with(func(o *Options) {
				o.Target.Render.Selectors = []string{"app=harbor", "group=core"}
				o.Target.IncludeNeeds = true
				o.Concurrency, o.Timeout = 2, 90*time.Second
				o.RollbackOnFailure, o.KeepGoing, o.Wait, o.Output = true, true, true, "json"
			})},
		{args: "--kubeconfig /k --kube-context prod -f hf.yaml --state-values-file v.yaml",
			want: with(func(o *Options) {
				o.Target.Cluster = ClusterFlags{Kubeconfig: "/k", KubeContext: "prod"}
				o.Target.Render.File = "hf.yaml"
				o.Target.Render.StateValuesFiles = []string{"v.yaml"}
			})},
		{args: "--bundle site.tar.zst --bundle-base old.tar.zst --bundle-key pub.pem",
			want: with(func(o *Options) {
				o.Bundle = BundleFlags{File: "site.tar.zst", Base: "old.tar.zst", Key: "pub.pem"}
			})},
		{args: "--concurrency 0", wantErr: "--concurrency must be at least 1, got 0"},
		{args: "--timeout 0s", wantErr: "--timeout must be positive, got 0s"},
		{args: "-o yaml", wantErr: `--output must be text or json, got "yaml"`},
		{args: "extra", wantErr: `unknown command "extra"`},
	}
	for _, c := range cases {
		t.Run(c.args, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := cmdutil.New(ios)
			var got *Options
			runF := func(_ context.Context, o *Options) error { got = o; return nil }
			cmd := NewCmdApply(f, runF)
			if c.sync {
				cmd = NewCmdSync(f, runF)
			}
			err := cmdtest.Execute(t, cmd, c.args)
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			c.want.IO, c.want.Factory = got.IO, got.Factory
			assert.Equal(t, c.want, *got)
		})
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

var events = []kube.Event{
	{Action: "crds", Phase: kube.PhaseDone, Duration: 300 * time.Millisecond, Message: "6 CRDs created or updated"},
	{Release: "default/base", Action: "install", Phase: kube.PhaseStart, Message: "not in the cluster"},
	{Release: "default/base", Action: "install", Phase: kube.PhaseDone, Duration: 1234 * time.Millisecond, Revision: 1},
	{Release: "otomi/team-ns-demo", Action: "recover", Phase: kube.PhaseInfo, Message: "was stuck pending-upgrade (revision 2): rolled back to revision 1"},
	{Release: "otomi/team-ns-demo", Action: "upgrade", Phase: kube.PhaseRetry, Message: "attempt 1 failed (connection reset by peer); retrying in 1s"},
	{Release: "otomi/team-ns-demo", Action: "upgrade", Phase: kube.PhaseFailed, Duration: 2 * time.Second, Message: "ResourceQuota is invalid"},
	{Release: "otomi/team-ns-dev", Action: "install", Phase: kube.PhaseSkipped, Message: "not started: otomi/team-ns-demo failed"},
}

func report() *kube.Report {
	return &kube.Report{Outcomes: []*kube.Outcome{
		{Release: "default/base", Action: kube.ActionInstall, State: "done", Revision: 1, Duration: 1234 * time.Millisecond, Reason: "not in the cluster"},
		{Release: "cert-manager/cert-manager", Action: kube.ActionNone, State: kube.StateUnchanged, Revision: 3},
		{Release: "otomi/team-ns-demo", Action: kube.ActionUpgrade, State: "failed", Revision: 3, Duration: 2 * time.Second, Err: errors.New("ResourceQuota is invalid\nmore")},
		{Release: "otomi/team-ns-dev", Action: kube.ActionInstall, State: "not-run", Reason: "not started: otomi/team-ns-demo failed"},
	}}
}

// TestProgressPlain: the lines people read in CI logs and pipes.
func TestProgressPlain(t *testing.T) {
	ios, _, out, errOut := iostreams.Test()
	p := NewProgress(ios, "text")
	for _, e := range events {
		p.Event(e)
	}
	p.Summary(report(), 4*time.Second)
	assert.Empty(t, out.String(), "stdout carries data only")
	assert.Equal(t, `crds: done in 0.3s: 6 CRDs created or updated
install default/base: started (not in the cluster)
install default/base: done in 1.2s (revision 1)
recover otomi/team-ns-demo: info: was stuck pending-upgrade (revision 2): rolled back to revision 1
upgrade otomi/team-ns-demo: retry: attempt 1 failed (connection reset by peer); retrying in 1s
upgrade otomi/team-ns-demo: failed: ResourceQuota is invalid
install otomi/team-ns-dev: not started: otomi/team-ns-demo failed

RELEASE             ACTION   RESULT   REVISION  TIME  DETAIL
default/base        install  done     1         1.2s  not in the cluster
otomi/team-ns-demo  upgrade  failed   3         2.0s  ResourceQuota is invalid
otomi/team-ns-dev   install  not-run  -         -     not started: otomi/team-ns-demo failed
✗ 1 of 4 releases failed (otomi/team-ns-demo), 1 not run
`, errOut.String())
}

// TestProgressTerminal: icons on a terminal.
func TestProgressTerminal(t *testing.T) {
	ios, _, _, errOut := iostreams.Test()
	p := NewProgress(ios, "text")
	p.fancy = true // what a terminal outside CI gets
	for _, e := range events[:3] {
		p.Event(e)
	}
	p.Event(events[5])
	assert.Equal(t, `✔ 6 CRDs created or updated in 0.3s
► installing default/base (not in the cluster)
✔ default/base installed in 1.2s (revision 1)
✗ otomi/team-ns-demo failed: ResourceQuota is invalid
`, errOut.String())
}

func TestProgressNothingToDo(t *testing.T) {
	ios, _, _, errOut := iostreams.Test()
	rep := &kube.Report{Outcomes: []*kube.Outcome{{Release: "a/b", Action: kube.ActionNone, State: kube.StateUnchanged}}}
	NewProgress(ios, "text").Summary(rep, 1500*time.Millisecond)
	assert.Equal(t, "✔ nothing to do: 1 releases unchanged (1.5s)\n", errOut.String())
}

// TestProgressJSON: -o json is an event stream on stdout, then a summary.
func TestProgressJSON(t *testing.T) {
	ios, _, out, errOut := iostreams.Test()
	p := NewProgress(ios, "json")
	e := events[2]
	e.Time = t0
	p.Event(e)
	p.Summary(report(), 4*time.Second)
	assert.Empty(t, errOut.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2)
	assert.JSONEq(t, `{"type":"event","time":"2026-01-02T03:04:05Z","release":"default/base","action":"install","phase":"done","revision":1,"seconds":1.234}`, lines[0])
	var sum struct {
		Type     string         `json:"type"`
		Counts   map[string]int `json:"counts"`
		Error    string         `json:"error"`
		Releases []struct {
			Release string `json:"release"`
			State   string `json:"state"`
			Error   string `json:"error"`
		} `json:"releases"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &sum))
	assert.Equal(t, "summary", sum.Type)
	assert.Equal(t, map[string]int{"installed": 1, "unchanged": 1, "failed": 1, "not-run": 1}, sum.Counts)
	assert.Equal(t, "1 of 4 releases failed (otomi/team-ns-demo), 1 not run", sum.Error)
	assert.Equal(t, "ResourceQuota is invalid\nmore", sum.Releases[2].Error)
}

func TestWithNeeds(t *testing.T) {
	rel := func(ns, name string, needs ...string) *render.Release {
		return &render.Release{Namespace: ns, Name: name, Needs: needs}
	}
	all := []*render.Release{rel("a", "base"), rel("b", "cm", "a/base"), rel("b", "issuers", "b/cm"), rel("c", "other")}
	got := WithNeeds([]*render.Release{rel("b", "issuers", "b/cm")}, all)
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID())
	}
	assert.Equal(t, []string{"a/base", "b/cm", "b/issuers"}, ids)
}

func TestOpenBundleRefuses(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name       string
		flags      BundleFlags
		platform   string
		wantErr    string
		wantExitUs bool
	}{
		{name: "key without bundle", flags: BundleFlags{Key: "pub.pem"}, wantErr: "--bundle-base and --bundle-key go with --bundle", wantExitUs: true},
		{name: "platform dir too", flags: BundleFlags{File: "b.tar.zst"}, platform: "/p", wantErr: "drop --platform-dir", wantExitUs: true},
		{name: "no such bundle", flags: BundleFlags{File: dir + "/missing.tar.zst"}, wantErr: "--bundle " + dir + "/missing.tar.zst: "},
		{name: "no such key", flags: BundleFlags{File: dir + "/missing.tar.zst", Key: dir + "/pub.pem"}, wantErr: "pub.pem"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := cmdutil.New(ios)
			f.Globals.PlatformDir = c.platform
			b, err := openBundle(context.Background(), f, c.flags)
			require.ErrorContains(t, err, c.wantErr)
			assert.Nil(t, b)
			var fe *cmdutil.FlagError
			assert.Equal(t, c.wantExitUs, errors.As(err, &fe), "usage error: %v", err)
			assert.Equal(t, c.platform, f.Globals.PlatformDir, "the platform is left alone")
		})
	}
	_, none := openBundle(context.Background(), cmdutil.New(nil), BundleFlags{})
	assert.NoError(t, none)
}

func TestPreferredContext(t *testing.T) {
	repo := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(repo, "env"), 0o755))
	assert.Equal(t, "", preferredContext(repo), "no cluster.yaml")
	require.NoError(t, os.WriteFile(filepath.Join(repo, "env", "cluster.yaml"), []byte("cluster:\n  name: prod\n  k8sContext: prod-admin\n"), 0o644))
	assert.Equal(t, "prod-admin", preferredContext(repo))
	assert.Equal(t, "prod-admin", preferredContext(filepath.Join(repo, "env")), "the env folder itself")
	require.NoError(t, os.WriteFile(filepath.Join(repo, "env", "cluster.yaml"), []byte("cluster: [broken\n"), 0o644))
	assert.Equal(t, "", preferredContext(repo), "loading the repo reports a broken file")
}
