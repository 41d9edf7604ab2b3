package status

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	helmtime "helm.sh/helm/v3/pkg/time"

	"github.com/otomi/otomi/pkg/kube"
	"github.com/otomi/otomi/pkg/render"
)

func TestRowsAndWrite(t *testing.T) {
	deployed := helmtime.Time{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	cur := func(rev int, status release.Status) *release.Release {
		return &release.Release{Version: rev, Info: &release.Info{Status: status, LastDeployed: deployed},
			Chart: &chart.Chart{Metadata: &chart.Metadata{Name: "team-ns", Version: "0.1.0"}}}
	}
	plan := &kube.Plan{Items: []*kube.Item{
		{Release: &render.Release{Namespace: "otomi", Name: "team-ns-demo", Chart: "../charts/team-ns", Installed: true}, Action: kube.ActionNone, Current: cur(2, release.StatusDeployed)},
		{Release: &render.Release{Namespace: "otomi", Name: "team-ns-dev", Chart: "../charts/team-ns", Installed: true}, Action: kube.ActionUpgrade, Reason: "manifest changed", Current: cur(3, release.StatusDeployed)},
		{Release: &render.Release{Namespace: "x", Name: "off", Chart: "../charts/raw"}, Action: kube.ActionNone},
	}}
	ledger := map[string]kube.LedgerEntry{"otomi/team-ns-demo": {By: "ci@runner"}}
	var b bytes.Buffer
	require.NoError(t, Write(&b, Rows(plan, ledger)))
	assert.Equal(t, `RELEASE       NAMESPACE  CHART          VERSION  REVISION  STATE          LAST DEPLOYED         VALUES REPO                          APPLIED BY
team-ns-demo  otomi      team-ns        0.1.0    2         deployed       2026-01-02T03:04:05Z  in sync                              ci@runner
team-ns-dev   otomi      team-ns        0.1.0    3         deployed       2026-01-02T03:04:05Z  differs (upgrade: manifest changed)  -
off           x          ../charts/raw  -        -         not installed  -                     not installed                        -
`, b.String())
}
