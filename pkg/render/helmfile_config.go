package render

import (
	"errors"
	"io/fs"
	"os"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/helmfile/helmfile/pkg/helmexec"
	"go.uber.org/zap"
	helmchart "helm.sh/helm/v4/pkg/chart/v2"
)

// config is what helmfile's App asks of its command line.
type config struct {
	file       string
	env        string
	selectors  []string
	valuesFile string
	helmBinary string
	logger     *zap.SugaredLogger
}

func (c *config) Args() string                     { return "" }
func (c *config) HelmBinary() string               { return c.helmBinary }
func (c *config) KustomizeBinary() string          { return "kustomize" }
func (c *config) EnableLiveOutput() bool           { return false }
func (c *config) StripArgsValuesOnExitError() bool { return true }
func (c *config) DisableForceUpdate() bool         { return false }
func (c *config) EnforcePluginVerification() bool  { return false }
func (c *config) HelmOCIPlainHTTP() bool           { return false }
func (c *config) RepoRetry() int                   { return 0 }
func (c *config) SkipDeps() bool                   { return true }
func (c *config) SkipRefresh() bool                { return true }
func (c *config) AllowFailedReleases() bool        { return false }
func (c *config) SequentialHelmfiles() bool        { return false }
func (c *config) FileOrDir() string                { return c.file }
func (c *config) KubeContext() string              { return "" }
func (c *config) Namespace() string                { return "" }
func (c *config) Chart() string                    { return "" }
func (c *config) Selectors() []string              { return c.selectors }
func (c *config) StateValuesSet() map[string]any   { return nil }
func (c *config) Kubeconfig() string               { return "" }
func (c *config) Logger() *zap.SugaredLogger       { return c.logger }
func (c *config) Env() string {
	if c.env == "" {
		return "default"
	}
	return c.env
}
func (c *config) StateValuesFiles() []string {
	if c.valuesFile == "" {
		return nil
	}
	return []string{c.valuesFile}
}

// HelmVersion is what the in-process helm reports to helmfile.
const HelmVersion = "v3.22.0"

var errNotInProcess = errors.New("otomi renders charts in process: helmfile may not run helm here")

// inProcessHelm answers helmfile's questions about helm without a process.
// Loading state only asks for the version; anything else is refused.
type inProcessHelm struct{}

func (inProcessHelm) SetExtraArgs(...string)     {}
func (inProcessHelm) SetHelmBinary(string)       {}
func (inProcessHelm) SetEnableLiveOutput(bool)   {}
func (inProcessHelm) SetDisableForceUpdate(bool) {}
func (inProcessHelm) IsHelm3() bool              { return true }
func (inProcessHelm) IsHelm4() bool              { return false }
func (inProcessHelm) GetVersion() helmexec.Version {
	return helmexec.Version{Major: 3, Minor: 22, Patch: 0}
}
func (inProcessHelm) IsVersionAtLeast(v string) bool {
	want, err := semver.NewVersion(v)
	return err == nil && !semver.MustParse(HelmVersion).LessThan(want)
}
func (inProcessHelm) AddRepo(string, string, string, string, string, string, string, string, bool, bool) error {
	return errNotInProcess
}
func (inProcessHelm) UpdateRepo() error { return errNotInProcess }
func (inProcessHelm) RegistryLogin(string, string, string, string, string, string, bool) error {
	return errNotInProcess
}
func (inProcessHelm) BuildDeps(string, string, ...string) error { return errNotInProcess }
func (inProcessHelm) UpdateDeps(string) error                   { return errNotInProcess }
func (inProcessHelm) SyncRelease(helmexec.HelmContext, string, string, string, ...string) error {
	return errNotInProcess
}
func (inProcessHelm) DiffRelease(helmexec.HelmContext, string, string, string, bool, ...string) error {
	return errNotInProcess
}
func (inProcessHelm) TemplateRelease(string, string, ...string) error { return errNotInProcess }
func (inProcessHelm) Fetch(string, ...string) error                   { return errNotInProcess }
func (inProcessHelm) ChartPull(string, string, ...string) error       { return errNotInProcess }
func (inProcessHelm) ChartExport(string, string) error                { return errNotInProcess }
func (inProcessHelm) Lint(string, string, ...string) error            { return errNotInProcess }
func (inProcessHelm) Unittest(string, string, ...string) error        { return errNotInProcess }
func (inProcessHelm) ReleaseStatus(helmexec.HelmContext, string, ...string) error {
	return errNotInProcess
}
func (inProcessHelm) DeleteRelease(helmexec.HelmContext, string, ...string) error {
	return errNotInProcess
}
func (inProcessHelm) TestRelease(helmexec.HelmContext, string, ...string) error {
	return errNotInProcess
}
func (inProcessHelm) List(helmexec.HelmContext, string, ...string) (string, error) {
	return "", errNotInProcess
}
func (inProcessHelm) DecryptSecret(helmexec.HelmContext, string, ...string) (string, error) {
	return "", errNotInProcess
}
func (inProcessHelm) ShowChart(string) (helmchart.Metadata, error) {
	return helmchart.Metadata{}, errNotInProcess
}

// HelmVersionShim reports whether args are helmfile's `helm version
// --short` probe of this binary (the fallback when the in-process helm
// cannot be seeded), and answers it.
func HelmVersionShim(args []string, out *os.File) bool {
	if len(args) == 2 && args[0] == "version" && args[1] == "--short" && os.Getenv(shimEnv) == "1" {
		out.WriteString(HelmVersion + "\n")
		return true
	}
	return false
}

const shimEnv = "OTOMI_HELMFILE_HELM_PROBE"

type virtualInfo struct {
	name string
	size int64
}

func (v virtualInfo) Name() string       { return v.name }
func (v virtualInfo) Size() int64        { return v.size }
func (v virtualInfo) Mode() fs.FileMode  { return 0o400 }
func (v virtualInfo) ModTime() time.Time { return time.Time{} }
func (v virtualInfo) IsDir() bool        { return false }
func (v virtualInfo) Sys() any           { return nil }
