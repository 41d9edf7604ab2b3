package tests

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi/pkg/cmd/root"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/iostreams"
)

// bootstrapOtomi runs otomi in process and returns its exit code, stdout
// and stderr.
func bootstrapOtomi(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	code := root.Run(context.Background(), cmdutil.New(ios), args)
	return code, out.String(), errOut.String()
}

// bootstrapTree reads every file below dir (.git included).
func bootstrapTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(data)
		return err
	}))
	return out
}

// bootstrapNoCanary fails when a file below one of dirs holds the canary.
func bootstrapNoCanary(t *testing.T, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		for p, content := range bootstrapTree(t, dir) {
			assert.NotContains(t, content, Canary, "plaintext secret in %s", filepath.Join(dir, p))
		}
	}
}

// TestBootstrapEndToEnd bootstraps a repo from an input file with no key at
// hand (otomi generates one), then checks it with the real tools: sops
// decrypts every secrets file with the generated key, git sees a repo on
// main with nothing committed, validate-values and template succeed, and a
// second bootstrap changes no byte. No plaintext secret lands anywhere but
// in memory.
func TestBootstrapEndToEnd(t *testing.T) {
	sops := sopsBinary(t)
	work := t.TempDir()
	tmp := filepath.Join(work, "tmp")
	require.NoError(t, os.MkdirAll(tmp, 0o755))
	t.Setenv("TMPDIR", tmp)
	t.Setenv("HOME", filepath.Join(work, "home"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(work, "config"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(work, "cache"))
	t.Setenv("NO_COLOR", "1")
	for _, k := range []string{"SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "OTOMI_ENV_DIR"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	input := filepath.Join(work, "input.yaml")
	require.NoError(t, os.WriteFile(input, []byte(`cluster:
  name: e2e
  provider: custom
  domainSuffix: e2e.otomi.example
smtp:
  smarthost: smtp.e2e.otomi.example:587
  auth_password: `+Canary+`
teamConfig:
  alpha:
    password: alpha-`+Canary+`
`), 0o644))
	repo := filepath.Join(work, "values")

	code, out, errOut := bootstrapOtomi(t, "bootstrap", "--env-dir", repo, "--input", input)
	require.Equal(t, 0, code, errOut)
	key := filepath.Join(work, "config", "otomi", "keys", "e2e.txt")
	assert.Contains(t, errOut, "age key written to "+key)
	assert.Contains(t, errOut, "export SOPS_AGE_KEY_FILE="+key)
	assert.Empty(t, out)
	st, err := os.Stat(key)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), st.Mode().Perm())
	bootstrapNoCanary(t, repo, tmp, filepath.Join(work, "config"))
	assert.NotContains(t, out+errOut, Canary)

	// The real sops CLI decrypts every secrets file with the generated key.
	var secretsFiles []string
	for p := range bootstrapTree(t, filepath.Join(repo, "env")) {
		if strings.HasPrefix(filepath.Base(p), "secrets.") {
			secretsFiles = append(secretsFiles, filepath.Join(repo, "env", p))
		}
	}
	require.Len(t, secretsFiles, 10, "settings, teams and the 8 apps with generated secrets")
	var plain bytes.Buffer
	for _, f := range secretsFiles {
		cmd := exec.Command(sops, "-d", f)
		cmd.Env = append(os.Environ(), "SOPS_AGE_KEY_FILE="+key)
		got, err := cmd.CombinedOutput()
		require.NoError(t, err, "sops -d %s: %s", f, got)
		plain.Write(got)
	}
	assert.Contains(t, plain.String(), "auth_password: "+Canary)
	assert.Contains(t, plain.String(), "password: alpha-"+Canary)

	// The real git CLI sees a repository on main, nothing committed.
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
		got, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, got)
		return string(got)
	}
	assert.Equal(t, "refs/heads/main\n", git("symbolic-ref", "HEAD"))
	status := git("status", "--porcelain", "--untracked-files=all")
	assert.Contains(t, status, "?? env/secrets.settings.yaml\n")
	assert.Contains(t, status, "?? .sops.yaml\n")
	assert.Equal(t, "0\n", git("rev-list", "--all", "--count"))
	assert.Equal(t, "env/secrets.teams.yaml: diff: sopsdiffer\n", git("check-attr", "diff", "env/secrets.teams.yaml"))

	// The other commands work on it with the generated key.
	t.Setenv("SOPS_AGE_KEY_FILE", key)
	code, out, errOut = bootstrapOtomi(t, "validate-values", "--env-dir", repo)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "values valid")
	assert.NotContains(t, out+errOut, Canary)
	code, out, errOut = bootstrapOtomi(t, "template", "--env-dir", repo, "-l", "name=cert-manager-issuers")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "kind: ClusterIssuer")
	assert.Contains(t, out, "name: otomi-ca")
	assert.Contains(t, out, "tls.key:", "the generated CA is the platform's")

	// Again, with the same input: no byte changes, the key is found again.
	os.Unsetenv("SOPS_AGE_KEY_FILE")
	before := bootstrapTree(t, repo)
	code, out, errOut = bootstrapOtomi(t, "bootstrap", "--env-dir", repo, "--input", input)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "is up to date: nothing to write")
	assert.Equal(t, before, bootstrapTree(t, repo))
	code, _, errOut = bootstrapOtomi(t, "migrate", "--env-dir", repo, "--dry-run")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "nothing to migrate")
	bootstrapNoCanary(t, repo, tmp)
	assert.NotContains(t, out+errOut, Canary)
}
