package render

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"github.com/helmfile/helmfile/pkg/app"
	"github.com/helmfile/helmfile/pkg/filesystem"
	"github.com/helmfile/helmfile/pkg/helmexec"
	"github.com/helmfile/helmfile/pkg/state"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/strvals"
)

// LoadOptions say which helmfile to load and with which state values.
type LoadOptions struct {
	// File is a helmfile state file or a folder of them (helmfile.d).
	File string
	// StateValues are passed as a state values file would be (lists
	// replace); nil passes none. They stay in memory.
	StateValues map[string]any
	// Selectors are helmfile -l selectors (any may match).
	Selectors []string
	// Environment is the helmfile environment ("default" when empty).
	Environment string
	// KubeVersion overrides the Kubernetes version charts see (X.Y or vX.Y.Z).
	KubeVersion string
}

// helmfile's App keeps a package-level cancel func and, for a single state
// file, changes the process's working directory: one load at a time.
var loadMu sync.Mutex

// Load runs helmfile's loader over opts.File and returns the selected
// releases in order (state files by name, releases in file order), with
// their values rendered and merged. Every release's problem is reported,
// not only the first.
func Load(ctx context.Context, opts LoadOptions) ([]*Release, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	abs := opts.File
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(wd, abs)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("helmfile %s: %w", opts.File, errors.Unwrap(err))
	}
	var sels []Selector
	for _, s := range opts.Selectors {
		sel, err := ParseSelector(s)
		if err != nil {
			return nil, err
		}
		sels = append(sels, sel)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	conf := &config{file: abs, env: opts.Environment, selectors: opts.Selectors, helmBinary: self, logger: quietLogger()}
	fs := filesystem.DefaultFileSystem()
	cacheGlob(fs)
	if opts.StateValues != nil {
		data, err := yaml.Marshal(opts.StateValues)
		if err != nil {
			return nil, fmt.Errorf("encode state values: %w", err)
		}
		conf.valuesFile = virtualValues(fs, data)
	}

	loadMu.Lock()
	defer loadMu.Unlock()
	// Should seeding fail, helmfile runs this binary as helm: let it answer.
	os.Setenv(shimEnv, "1")
	a := app.New(conf).WithFileSystem(fs)
	if err := seedHelm(a, self); err != nil {
		return nil, err
	}

	var mu sync.Mutex
	var releases []*Release
	var errs []error
	labels := map[string]bool{}
	err = a.ForEachState(func(run *app.Run) (bool, []error) {
		st := run.State()
		stateFile, ferr := stateFilePath(st)
		if ferr != nil {
			return false, []error{ferr}
		}
		for _, r := range st.GetReleasesWithLabels() {
			mu.Lock()
			for k := range r.Labels {
				labels[k] = true
			}
			mu.Unlock()
		}
		planned, _, perr := a.GetPlannedAndSelectedReleasesWithNeeds(run, true, false, false)
		if perr != nil {
			return false, []error{fmt.Errorf("%s: %w", displayPath(wd, stateFile), perr)}
		}
		var got []*Release
		var rerrs []error
		for i := range planned {
			spec := planned[i]
			st.ApplyOverrides(&spec)
			r, err := buildRelease(st, &spec, stateFile, wd, opts.KubeVersion)
			if err != nil {
				rerrs = append(rerrs, fmt.Errorf("release %s (%s): %w", spec.Name, displayPath(wd, stateFile), err))
				continue
			}
			r.order = i
			got = append(got, r)
		}
		mu.Lock()
		releases = append(releases, got...)
		errs = append(errs, rerrs...)
		mu.Unlock()
		return len(planned) > 0, nil
	}, false)
	if err != nil {
		var nm *app.NoMatchingHelmfileError
		if errors.As(err, &nm) && len(sels) > 0 {
			if kerr := checkSelectorKeys(sels, labels); kerr != nil {
				return nil, kerr
			}
			return nil, fmt.Errorf("no release matches the selectors %s", strings.Join(opts.Selectors, " or "))
		}
		return nil, fmt.Errorf("load helmfile %s: %w", displayPath(wd, abs), cleanHelmfileError(err))
	}
	if err := checkSelectorKeys(sels, labels); err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.SliceStable(releases, func(i, j int) bool {
		if releases[i].StateFile != releases[j].StateFile {
			return releases[i].StateFile < releases[j].StateFile
		}
		return releases[i].order < releases[j].order
	})
	return releases, nil
}

// buildRelease turns a planned helmfile release into a Release with its
// values rendered (values templates in memory) and merged.
func buildRelease(st *state.HelmState, spec *state.ReleaseSpec, stateFile, wd, kubeVersion string) (*Release, error) {
	if err := unsupported(spec); err != nil {
		return nil, err
	}
	base := filepath.Dir(stateFile)
	r := &Release{
		Name:      spec.Name,
		Namespace: spec.Namespace,
		Chart:     spec.Chart,
		Version:   spec.Version,
		Labels:    map[string]string{},
		Needs:     append([]string(nil), spec.Needs...),
		Installed: spec.Desired(),
		StateFile: stateFile,
	}
	for k, v := range spec.Labels {
		r.Labels[k] = v
	}
	r.Labels["name"], r.Labels["namespace"], r.Labels["chart"] = spec.Name, spec.Namespace, spec.Chart
	chartRef := spec.ChartPathOrName()
	if !isLocalChart(chartRef) {
		return nil, fmt.Errorf("chart %q is not a local chart: otomi renders local charts only (no chart repositories)", chartRef)
	}
	if filepath.IsAbs(chartRef) {
		r.ChartPath = chartRef
	} else {
		r.ChartPath = filepath.Join(base, chartRef)
	}
	if r.Namespace == "" {
		r.Namespace = "default"
	}
	r.kubeVersion = firstNonEmpty(kubeVersion, spec.KubeVersion, st.KubeVersion)
	r.apiVersions = spec.ApiVersions
	if len(r.apiVersions) == 0 {
		r.apiVersions = st.ApiVersions
	}

	merged := map[string]any{}
	for i, entry := range spec.Values {
		var layer map[string]any
		switch v := entry.(type) {
		case string:
			p := spec.ValuesPathPrefix + v
			if !filepath.IsAbs(p) {
				p = filepath.Join(base, p)
			}
			if _, err := os.Stat(p); err != nil {
				return nil, fmt.Errorf("values[%d] %s: %w", i, v, errors.Unwrap(err))
			}
			data, err := st.RenderReleaseValuesFileToBytes(spec, p)
			if err != nil {
				return nil, fmt.Errorf("values[%d]: %s", i, templateError(displayPath(wd, p), err))
			}
			// helm reads values files itself (YAML 1.1): read the rendered
			// bytes exactly as `helm template -f` would.
			layer, err = chartutil.ReadValues(data)
			if err != nil {
				return nil, fmt.Errorf("values[%d] %s rendered to invalid YAML: %w", i, v, err)
			}
		case map[string]any:
			layer = v
		case map[any]any:
			m, err := stringKeys(v)
			if err != nil {
				return nil, fmt.Errorf("values[%d]: %w", i, err)
			}
			layer = m.(map[string]any)
		default:
			return nil, fmt.Errorf("values[%d]: unexpected %T", i, entry)
		}
		merged = MergeValues(merged, layer)
	}
	for _, s := range spec.SetValues {
		if err := applySet(merged, s, false); err != nil {
			return nil, err
		}
	}
	for _, s := range spec.SetStringValues {
		if err := applySet(merged, s, true); err != nil {
			return nil, err
		}
	}
	r.Values = merged
	return r, nil
}

// unsupported refuses release features that would make our render differ
// from helmfile's, rather than ignoring them.
func unsupported(spec *state.ReleaseSpec) error {
	var feats []string
	if len(spec.Secrets) > 0 {
		feats = append(feats, "secrets (use state values from the values repo)")
	}
	if len(spec.JSONPatches) > 0 || len(spec.StrategicMergePatches) > 0 || len(spec.Transformers) > 0 {
		feats = append(feats, "jsonPatches/strategicMergePatches/transformers")
	}
	if len(spec.Dependencies) > 0 {
		feats = append(feats, "dependencies")
	}
	if spec.PostRenderer != nil && *spec.PostRenderer != "" {
		feats = append(feats, "postRenderer")
	}
	if spec.ForceNamespace != "" {
		feats = append(feats, "forceNamespace")
	}
	if len(feats) > 0 {
		return fmt.Errorf("uses %s, which the in-process renderer does not support", strings.Join(feats, ", "))
	}
	return nil
}

func applySet(vals map[string]any, s state.SetValue, asString bool) error {
	if s.File != "" {
		return fmt.Errorf("set %s: file values are not supported", s.Name)
	}
	value := s.Value
	if len(s.Values) > 0 {
		items := make([]string, len(s.Values))
		for i, v := range s.Values {
			items[i] = fmt.Sprint(v)
		}
		value = "{" + strings.Join(items, ",") + "}"
	}
	expr := s.Name + "=" + value
	var err error
	if asString {
		err = strvals.ParseIntoString(expr, vals)
	} else {
		err = strvals.ParseInto(expr, vals)
	}
	if err != nil {
		return fmt.Errorf("set %s: %w", s.Name, err)
	}
	return nil
}

// MergeValues merges b over a the way helm merges -f files (and helmfile
// state values files): maps merge
// recursively, anything else in b replaces what a has.
func MergeValues(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = MergeValues(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func stringKeys(v any) (any, error) {
	switch t := v.(type) {
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, c := range t {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("non-string key %v", k)
			}
			cv, err := stringKeys(c)
			if err != nil {
				return nil, err
			}
			out[ks] = cv
		}
		return out, nil
	case map[string]any:
		for k, c := range t {
			cv, err := stringKeys(c)
			if err != nil {
				return nil, err
			}
			t[k] = cv
		}
		return t, nil
	case []any:
		for i, c := range t {
			cv, err := stringKeys(c)
			if err != nil {
				return nil, err
			}
			t[i] = cv
		}
		return t, nil
	}
	return v, nil
}

func isLocalChart(c string) bool {
	return strings.HasPrefix(c, "./") || strings.HasPrefix(c, "../") || filepath.IsAbs(c) || c == "." || c == ".."
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// displayPath shortens an absolute path to one relative to wd (the working
// directory when loading started: helmfile may change it) when below it.
func displayPath(wd, p string) string {
	if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}

// stateFilePath is the absolute path of a loaded state file. helmfile's
// FullFilePath joins the working directory to paths that are already
// absolute (as they are for the files of a folder), so those are kept.
func stateFilePath(st *state.HelmState) (string, error) {
	if filepath.IsAbs(st.FilePath) {
		return st.FilePath, nil
	}
	return st.FullFilePath()
}

func cleanHelmfileError(err error) error {
	return err
}

var (
	stringTemplateRe = regexp.MustCompile(`template: stringTemplate:(\d+):(\d+): executing "stringTemplate" at `)
	renderWrapRe     = regexp.MustCompile(`failed to render \[[^\]]*\], because of `)
)

// templateError rewrites helmfile's values template errors to name the
// file and line: "values/x.gotmpl:2:20: <.Values.a>: map has no entry...".
func templateError(file string, err error) string {
	msg := renderWrapRe.ReplaceAllString(err.Error(), "")
	msg = stringTemplateRe.ReplaceAllString(msg, file+":$1:$2: ")
	if !strings.Contains(msg, file) {
		msg = file + ": " + msg
	}
	return msg
}

// virtualValues makes the state values readable by helmfile at a path that
// exists only in fs, so they never touch the disk.
// cacheGlob makes fs remember glob results: helmfile looks for helper
// templates (_*.tpl) before every template it renders, some 1,500 times
// for the platform, and a load does not change the files it reads.
func cacheGlob(fs *filesystem.FileSystem) {
	glob := fs.Glob
	var mu sync.Mutex
	seen := map[string][]string{}
	fs.Glob = func(pattern string) ([]string, error) {
		mu.Lock()
		matches, ok := seen[pattern]
		mu.Unlock()
		if !ok {
			var err error
			if matches, err = glob(pattern); err != nil {
				return nil, err
			}
			mu.Lock()
			seen[pattern] = matches
			mu.Unlock()
		}
		return append([]string(nil), matches...), nil
	}
}

func virtualValues(fs *filesystem.FileSystem, data []byte) string {
	path := filepath.Join(string(filepath.Separator)+"otomi-in-memory", fmt.Sprintf("state-values-%p.yaml", fs))
	readFile, glob, exists, existsAt, stat := fs.ReadFile, fs.Glob, fs.FileExists, fs.FileExistsAt, fs.Stat
	fs.ReadFile = func(p string) ([]byte, error) {
		if p == path {
			return data, nil
		}
		return readFile(p)
	}
	fs.Glob = func(p string) ([]string, error) {
		if p == path {
			return []string{path}, nil
		}
		return glob(p)
	}
	fs.FileExists = func(p string) (bool, error) {
		if p == path {
			return true, nil
		}
		return exists(p)
	}
	fs.FileExistsAt = func(p string) bool {
		return p == path || existsAt(p)
	}
	fs.Stat = func(p string) (os.FileInfo, error) {
		if p == path {
			return virtualInfo{name: filepath.Base(path), size: int64(len(data))}, nil
		}
		return stat(p)
	}
	return path
}

// seedHelm gives helmfile's App an in-process helm for the binary and kube
// context it will ask for, so that loading state runs no `helm version`
// process. The App keeps them in a private map: this is tied to helmfile
// v1.8.0's layout, which TestSeedHelmLayout pins. Should the layout change,
// helmfile falls back to running this binary as helm (see HelmVersionShim).
func seedHelm(a *app.App, bin string) error {
	v := reflect.ValueOf(a).Elem().FieldByName("helms")
	if !v.IsValid() || v.Kind() != reflect.Map {
		return nil
	}
	m := reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
	if m.IsNil() {
		m.Set(reflect.MakeMap(m.Type()))
	}
	key := reflect.New(m.Type().Key()).Elem()
	b, c := key.FieldByName("Binary"), key.FieldByName("Context")
	if !b.IsValid() || !c.IsValid() || !b.CanSet() || !c.CanSet() {
		return nil
	}
	b.SetString(bin)
	c.SetString("")
	var h helmexec.Interface = inProcessHelm{}
	m.SetMapIndex(key, reflect.ValueOf(&h).Elem())
	return nil
}

func quietLogger() *zap.SugaredLogger {
	// Warnings and above only: at debug level helmfile logs merged values.
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(zapcore.EncoderConfig{MessageKey: "message"}), zapcore.AddSync(os.Stderr), zapcore.ErrorLevel)
	return zap.New(core).Sugar()
}
