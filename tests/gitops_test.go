package tests

// otomi push and pull against real git servers: git's own smart-HTTP server
// (git http-backend behind basic auth, served by net/http/cgi) and file://
// bare repositories, checked with the real git and sops CLIs.

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi/pkg/cmd/pull"
	"github.com/otomi/otomi/pkg/cmd/push"
	"github.com/otomi/otomi/pkg/cmd/root"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/gitops"
	"github.com/otomi/otomi/pkg/gitops/gitnet"
	"github.com/otomi/otomi/pkg/iostreams"
)

const (
	gitUser     = "otomi-admin" // otomi.git.username of the example
	gitPassword = "git-pw-5d1e-OTOMI-GIT"
	demoRepoURL = "https://gitea.demo.otomi.example/otomi/values.git"
)

// gitHTTPServer is git http-backend on 127.0.0.1 behind basic auth.
type gitHTTPServer struct {
	root string // GIT_PROJECT_ROOT
	url  string
	// requests counts every request; unauthorized those refused with 401.
	requests, unauthorized atomic.Int32
	// failNext answers the next N requests with 503.
	failNext atomic.Int32
}

func httpBackend(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	require.NoError(t, err, "the git CLI is needed for these tests")
	p := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	_, err = os.Stat(p)
	require.NoError(t, err, "git http-backend (Debian package git) is needed for these tests")
	return p
}

func startGitHTTPServer(t *testing.T) *gitHTTPServer {
	t.Helper()
	backend := httpBackend(t)
	s := &gitHTTPServer{root: t.TempDir()}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(gitUser+":"+gitPassword))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if s.failNext.Load() > 0 {
			s.failNext.Add(-1)
			http.Error(w, "try again later", http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get("Authorization") != want {
			s.unauthorized.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h := &cgi.Handler{Path: backend, Root: "/", Env: []string{
			"GIT_PROJECT_ROOT=" + s.root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=" + gitUser,
			"GIT_CONFIG_NOSYSTEM=1", "HOME=" + s.root,
		}}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// bare creates an empty bare repository served as <url>/<name>.git.
func (s *gitHTTPServer) bare(t *testing.T, name string) (dir, url string) {
	t.Helper()
	dir = filepath.Join(s.root, name+".git")
	runGit(t, ".", "init", "--quiet", "--bare", "--initial-branch=main", dir)
	return dir, s.url + "/" + name + ".git"
}

// withCreds is url with the server's credentials in it, for the git CLI.
func withCreds(url string) string {
	return strings.Replace(url, "://", "://"+gitUser+":"+gitPassword+"@", 1)
}

// runGit runs the real git CLI, isolated from the developer's config.
func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Other Dev", "GIT_AUTHOR_EMAIL=other@example.com", "GIT_COMMITTER_NAME=Other Dev", "GIT_COMMITTER_EMAIL=other@example.com")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %s: %s", strings.Join(args, " "), out)
	return strings.TrimSpace(string(out))
}

// gitEnvForOtomi isolates otomi (go-git reads ~/.gitconfig) and sops.
func gitEnvForOtomi(t *testing.T) (home string) {
	t.Helper()
	home = t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	require.NoError(t, os.WriteFile(filepath.Join(home, ".gitconfig"), []byte("[user]\n\tname = Global Dev\n\temail = global@example.com\n"), 0o644))
	t.Setenv("SOPS_AGE_KEY_FILE", filepath.Join(repoRoot(t), "testdata", "age", "test-only.agekey"))
	t.Setenv("SOPS_AGE_KEY", "")
	t.Setenv("CI", "false")
	for _, k := range []string{gitops.EnvAuthorName, gitops.EnvAuthorEmail, gitops.EnvUsername, gitops.EnvPassword, gitops.EnvSSHKey, "OTOMI_ENV_DIR"} {
		t.Setenv(k, "")
	}
	return home
}

// valuesRepo copies the example values repo (no git yet) with its remote
// set to url and the git password added to the secrets in plaintext, as a
// user edits them before otomi push encrypts them.
func valuesRepo(t *testing.T, url string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "values")
	require.NoError(t, copyTree(filepath.Join(repoRoot(t), "examples", "demo"), dir))
	settings := filepath.Join(dir, "env", "settings.yaml")
	data, err := os.ReadFile(settings)
	require.NoError(t, err)
	require.Contains(t, string(data), demoRepoURL)
	data = bytes.Replace(data, []byte(demoRepoURL), []byte(url), 1)
	require.NoError(t, os.WriteFile(settings, data, 0o644))

	cmd := exec.Command(sopsBinary(t), "-d", filepath.Join(dir, "env", "secrets.settings.yaml"))
	plain, err := cmd.Output()
	require.NoError(t, err)
	require.Contains(t, string(plain), Canary)
	plain = bytes.Replace(plain, []byte("otomi:\n"), []byte("otomi:\n    git:\n        password: "+gitPassword+"\n"), 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "env", "secrets.settings.yaml"), plain, 0o644))
	return dir
}

// otomi runs the command line in process and returns its exit code and
// stderr (stdout must stay empty: push and pull print for people only).
func otomi(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	code := root.Run(context.Background(), cmdutil.New(ios), args)
	assert.Empty(t, out.String(), "stdout carries data only")
	return code, errOut.String()
}

// noSecrets asserts that text holds neither the canary nor the git password.
func noSecrets(t *testing.T, what, text string) {
	t.Helper()
	assert.NotContains(t, text, Canary, what)
	assert.NotContains(t, text, gitPassword, what)
}

// scanBlobs reads every object of every commit in a bare repository with
// the git CLI and fails on any plaintext secret.
func scanBlobs(t *testing.T, bare string) int {
	t.Helper()
	objects := runGit(t, bare, "rev-list", "--objects", "--all")
	n := 0
	for _, line := range strings.Split(objects, "\n") {
		hash, _, _ := strings.Cut(line, " ")
		if hash == "" {
			continue
		}
		typ := runGit(t, bare, "cat-file", "-t", hash)
		content := runGit(t, bare, "cat-file", "-p", hash)
		noSecrets(t, typ+" "+line, content)
		if typ == "blob" {
			n++
		}
	}
	return n
}

func TestPushHTTP(t *testing.T) {
	gitEnvForOtomi(t)
	srv := startGitHTTPServer(t)
	bare, url := srv.bare(t, "values")
	dir := valuesRepo(t, url)

	// 1. A folder that is not a git repository yet, and an empty remote.
	code, stderr := otomi(t, "push", "--env-dir", dir, "-m", "First values")
	require.Equal(t, 0, code, stderr)
	noSecrets(t, "stderr", stderr)
	assert.Contains(t, stderr, "✔ values valid")
	assert.Contains(t, stderr, "env/secrets.settings.yaml: encrypted")
	assert.Contains(t, stderr, "initialised a git repository")
	assert.Contains(t, stderr, `"First values" as Global Dev <global@example.com>`)
	assert.Contains(t, stderr, "to http://otomi-admin:***@127.0.0.1:")
	assert.Contains(t, stderr, "creating branch main")

	// The real git CLI clones it over HTTP and sees the commit.
	clone := filepath.Join(t.TempDir(), "clone")
	runGit(t, ".", "clone", "--quiet", withCreds(url), clone)
	assert.Equal(t, "First values|Global Dev <global@example.com>", runGit(t, clone, "log", "-1", "--format=%s|%an <%ae>"))
	assert.Contains(t, runGit(t, clone, "ls-files"), "env/secrets.settings.yaml")
	// sops decrypts what was pushed.
	dec := exec.Command(sopsBinary(t), "-d", filepath.Join(clone, "env", "secrets.settings.yaml"))
	plain, err := dec.Output()
	require.NoError(t, err)
	assert.Contains(t, string(plain), Canary)
	assert.Contains(t, string(plain), gitPassword)

	// 2. A change, in CI, author from the environment and a flag.
	teams := filepath.Join(dir, "env", "teams.yaml")
	data, err := os.ReadFile(teams)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(teams, append(data, []byte("# reviewed\n")...), 0o644))
	t.Setenv("CI", "true")
	t.Setenv(gitops.EnvAuthorName, "Env Name")
	t.Setenv(gitops.EnvAuthorEmail, "env@example.com")
	code, stderr = otomi(t, "commit", "--env-dir", dir, "--author-email", "flag@example.com")
	require.Equal(t, 0, code, stderr)
	noSecrets(t, "stderr", stderr)
	runGit(t, clone, "pull", "--quiet")
	assert.Equal(t, "Update values (otomi push) [ci skip]|Env Name <flag@example.com>", runGit(t, clone, "log", "-1", "--format=%s|%an <%ae>"))
	assert.Equal(t, "env/teams.yaml", runGit(t, clone, "show", "--format=", "--name-only", "HEAD"))

	// 3. Nothing to commit.
	code, stderr = otomi(t, "push", "--env-dir", dir)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "nothing to commit")
	assert.Equal(t, "2", runGit(t, bare, "rev-list", "--count", "main"))

	// Not one blob of the pushed history holds a secret in plaintext.
	assert.Greater(t, scanBlobs(t, bare), 10)
}

func TestPushHTTPWrongPassword(t *testing.T) {
	gitEnvForOtomi(t)
	srv := startGitHTTPServer(t)
	bare, url := srv.bare(t, "values")
	dir := valuesRepo(t, url)
	runGit(t, dir, "init", "--quiet", "--initial-branch=main")
	const wrong = "wrong-pw-77aa"
	runGit(t, dir, "remote", "add", "origin", strings.Replace(url, "://", "://"+gitUser+":"+wrong+"@", 1))

	code, stderr := otomi(t, "push", "--env-dir", dir, "--debug")
	assert.Equal(t, 1, code, stderr)
	assert.Contains(t, stderr, "authentication failed")
	assert.Contains(t, stderr, "http://otomi-admin:***@127.0.0.1:")
	assert.Contains(t, stderr, "the commit is kept locally")
	assert.NotContains(t, stderr, wrong)
	noSecrets(t, "stderr", stderr)
	assert.Equal(t, int32(1), srv.unauthorized.Load(), "wrong credentials are not retried")
	assert.Equal(t, "1", runGit(t, dir, "rev-list", "--count", "main"), "the commit is kept")
	assert.Empty(t, runGit(t, bare, "for-each-ref"), "nothing reached the remote")
}

func TestPushHTTPRejected(t *testing.T) {
	gitEnvForOtomi(t)
	srv := startGitHTTPServer(t)
	bare, url := srv.bare(t, "values")
	hook := filepath.Join(bare, "hooks", "pre-receive")
	require.NoError(t, os.WriteFile(hook, []byte("#!/bin/sh\necho 'branch main is protected: open a pull request' >&2\nexit 1\n"), 0o755))
	dir := valuesRepo(t, url)

	code, stderr := otomi(t, "push", "--env-dir", dir)
	assert.Equal(t, 1, code, stderr)
	assert.Contains(t, stderr, "the remote rejected the push to main: pre-receive hook declined")
	assert.Contains(t, stderr, "branch main is protected: open a pull request")
	noSecrets(t, "stderr", stderr)
	assert.Empty(t, runGit(t, bare, "for-each-ref"), "the remote has no branch")
	assert.Equal(t, "1", runGit(t, dir, "rev-list", "--count", "main"), "the commit is kept")
}

func TestPushHTTPRetriesTransientErrors(t *testing.T) {
	gitEnvForOtomi(t)
	srv := startGitHTTPServer(t)
	bare, url := srv.bare(t, "values")
	dir := valuesRepo(t, url)
	opts := pushOptions(t, dir)
	srv.failNext.Store(2)
	require.NoError(t, push.Run(context.Background(), opts))
	stderr := opts.IO.ErrOut.(*bytes.Buffer).String()
	assert.Equal(t, 2, strings.Count(stderr, "retrying"), stderr)
	assert.Contains(t, stderr, "503")
	assert.Equal(t, int32(0), srv.failNext.Load())
	assert.Equal(t, "1", runGit(t, bare, "rev-list", "--count", "main"))
}

// pushOptions builds the options of `otomi push --env-dir dir` from argv,
// for tests that add a seam.
func pushOptions(t *testing.T, dir string, args ...string) *push.Options {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	f := cmdutil.New(ios)
	f.Globals.EnvDir = dir
	var got *push.Options
	cmd := push.NewCmdPush(f, func(_ context.Context, o *push.Options) error { got = o; return nil })
	cmd.SetArgs(args)
	require.NoError(t, cmd.Execute())
	got.Retry = gitnet.Retry{Attempts: 3, Delay: time.Millisecond}
	return got
}

// Another client pushes between our fetch and our push.
func TestPushHTTPRace(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		conflict   bool
	}{
		{"different file", "env/teams.yaml", false},
		{"same file", "env/cluster.yaml", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gitEnvForOtomi(t)
			srv := startGitHTTPServer(t)
			bare, url := srv.bare(t, "values")
			dir := valuesRepo(t, url)
			code, stderr := otomi(t, "push", "--env-dir", dir, "-m", "base")
			require.Equal(t, 0, code, stderr)

			other := filepath.Join(t.TempDir(), "other")
			runGit(t, ".", "clone", "--quiet", withCreds(url), other)
			appendTo(t, other, tc.file, "# theirs\n")
			runGit(t, other, "commit", "--quiet", "-am", "theirs")

			appendTo(t, dir, "env/cluster.yaml", "# mine\n")
			opts := pushOptions(t, dir, "-m", "mine")
			fetches := 0
			opts.AfterFetch = func(context.Context) error {
				fetches++
				if fetches == 1 {
					runGit(t, other, "push", "--quiet", "origin", "main")
				}
				return nil
			}
			err := push.Run(context.Background(), opts)
			stderr = opts.IO.ErrOut.(*bytes.Buffer).String()
			assert.Equal(t, 2, fetches)
			if tc.conflict {
				var ce *gitops.ConflictError
				require.ErrorAs(t, err, &ce, stderr)
				assert.Equal(t, []string{"env/cluster.yaml"}, ce.Files)
				assert.Contains(t, err.Error(), "your commit is kept locally and nothing was pushed")
				assert.Equal(t, "theirs\nbase", runGit(t, bare, "log", "--format=%s", "main"), "the remote has theirs")
				assert.Equal(t, "mine\nbase", runGit(t, dir, "log", "--format=%s", "main"), "we keep ours")
				return
			}
			require.NoError(t, err, stderr)
			assert.Contains(t, stderr, "replayed 1 local commit(s)")
			assert.Equal(t, "mine\ntheirs\nbase", runGit(t, bare, "log", "--format=%s", "main"))
			runGit(t, bare, "fsck", "--strict")
			clone := filepath.Join(t.TempDir(), "clone")
			runGit(t, ".", "clone", "--quiet", withCreds(url), clone)
			assert.Contains(t, readFile(t, clone, "env/teams.yaml"), "# theirs")
			assert.Contains(t, readFile(t, clone, "env/cluster.yaml"), "# mine")
			assert.Empty(t, runGit(t, dir, "status", "--porcelain"))
			scanBlobs(t, bare)
		})
	}
}

func TestPushExitCodes(t *testing.T) {
	gitEnvForOtomi(t)
	srv := startGitHTTPServer(t)
	_, url := srv.bare(t, "values")

	t.Run("invalid values: 3, nothing committed", func(t *testing.T) {
		dir := valuesRepo(t, url)
		replaceIn(t, dir, "env/cluster.yaml", "provider: custom", "provider: moon")
		code, stderr := otomi(t, "push", "--env-dir", dir)
		assert.Equal(t, 3, code, stderr)
		assert.Contains(t, stderr, "/cluster/provider")
		assert.Contains(t, stderr, "nothing committed")
		_, err := os.Stat(filepath.Join(dir, ".git"))
		assert.ErrorIs(t, err, os.ErrNotExist)
		noSecrets(t, "stderr", stderr)
	})
	t.Run("usage: 2", func(t *testing.T) {
		code, stderr := otomi(t, "push", "extra")
		assert.Equal(t, 2, code, stderr)
		code, stderr = otomi(t, "push", "-m", "")
		assert.Equal(t, 2, code, stderr)
		assert.Contains(t, stderr, "--message must not be empty")
	})
	t.Run("detached HEAD: 1", func(t *testing.T) {
		dir := valuesRepo(t, url)
		code, stderr := otomi(t, "push", "--env-dir", dir)
		require.Equal(t, 0, code, stderr)
		runGit(t, dir, "checkout", "--quiet", "--detach")
		appendTo(t, dir, "env/teams.yaml", "# x\n")
		code, stderr = otomi(t, "push", "--env-dir", dir)
		assert.Equal(t, 1, code, stderr)
		assert.Contains(t, stderr, "HEAD is detached")
	})
	t.Run("plaintext secrets file outside the sops rules: 1", func(t *testing.T) {
		dir := valuesRepo(t, url)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets.notes.yaml"), []byte("note: "+Canary+"\n"), 0o644))
		code, stderr := otomi(t, "push", "--env-dir", dir)
		assert.Equal(t, 1, code, stderr)
		assert.Contains(t, stderr, "refusing to commit secrets files in plaintext while .sops.yaml exists: secrets.notes.yaml")
		noSecrets(t, "stderr", stderr)
		assert.Empty(t, runGit(t, dir, "log", "--all", "--oneline"), "no commit")
	})
	t.Run("remote that does not exist: 1", func(t *testing.T) {
		dir := valuesRepo(t, url)
		code, stderr := otomi(t, "push", "--env-dir", dir, "--remote", srv.url+"/nope.git")
		assert.Equal(t, 1, code, stderr)
		assert.Contains(t, stderr, "remote repository not found")
		noSecrets(t, "stderr", stderr)
	})
	t.Run("unreachable remote: retried, then 1", func(t *testing.T) {
		dir := valuesRepo(t, url)
		closed := httptest.NewServer(http.NotFoundHandler())
		closed.Close()
		opts := pushOptions(t, dir, "--remote", closed.URL+"/values.git")
		err := push.Run(context.Background(), opts)
		require.Error(t, err)
		stderr := opts.IO.ErrOut.(*bytes.Buffer).String()
		assert.Contains(t, err.Error(), "connection refused")
		assert.Contains(t, err.Error(), "the commit is kept locally")
		assert.Equal(t, 2, strings.Count(stderr, "retrying"), stderr)
		noSecrets(t, "stderr", stderr+err.Error())
	})
	t.Run("no remote: 1, commit kept", func(t *testing.T) {
		dir := valuesRepo(t, url)
		settings := filepath.Join(dir, "env", "settings.yaml")
		data, err := os.ReadFile(settings)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(settings, bytes.Replace(data, []byte("    repoUrl: "+url+"\n"), nil, 1), 0o644))
		code, stderr := otomi(t, "push", "--env-dir", dir)
		assert.Equal(t, 1, code, stderr)
		assert.Contains(t, stderr, "no git remote")
		assert.Contains(t, stderr, "the commit is kept locally")
	})
}

func TestPull(t *testing.T) {
	gitEnvForOtomi(t)
	srv := startGitHTTPServer(t)
	_, url := srv.bare(t, "values")
	dir := valuesRepo(t, url)
	code, stderr := otomi(t, "push", "--env-dir", dir, "-m", "base")
	require.Equal(t, 0, code, stderr)

	other := filepath.Join(t.TempDir(), "other")
	runGit(t, ".", "clone", "--quiet", withCreds(url), other)
	appendTo(t, other, "env/teams.yaml", "# theirs\n")
	runGit(t, other, "commit", "--quiet", "-am", "theirs")
	runGit(t, other, "push", "--quiet", "origin", "main")

	code, stderr = otomi(t, "pull", "--env-dir", dir)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "fast-forwarded")
	assert.Contains(t, stderr, "values valid")
	assert.Contains(t, readFile(t, dir, "env/teams.yaml"), "# theirs")

	code, stderr = otomi(t, "pull", "--env-dir", dir)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "already up to date")

	// Invalid values come in: the pull happens, then exit 3.
	replaceIn(t, other, "env/cluster.yaml", "provider: custom", "provider: moon")
	runGit(t, other, "commit", "--quiet", "-am", "break it")
	runGit(t, other, "push", "--quiet", "origin", "main")
	code, stderr = otomi(t, "pull", "--env-dir", dir)
	assert.Equal(t, 3, code, stderr)
	assert.Contains(t, stderr, "/cluster/provider")
	assert.Equal(t, "break it", runGit(t, dir, "log", "-1", "--format=%s"))
	noSecrets(t, "stderr", stderr)

	// A race seam exists for pull too: the options come from argv.
	ios, _, _, _ := iostreams.Test()
	f := cmdutil.New(ios)
	var got *pull.Options
	cmd := pull.NewCmdPull(f, func(_ context.Context, o *pull.Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--remote", "file:///x.git", "--branch", "dev", "--ssh-key", "k"})
	require.NoError(t, cmd.Execute())
	assert.Equal(t, "file:///x.git", got.Remote)
	assert.Equal(t, "dev", got.Branch)
	assert.Equal(t, "k", got.SSHKey)
}

func appendTo(t *testing.T, dir, name, text string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fmt.Fprint(f, text)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func replaceIn(t *testing.T, dir, name, old, new string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Contains(t, string(data), old)
	require.NoError(t, os.WriteFile(p, bytes.Replace(data, []byte(old), []byte(new), 1), 0o644))
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	require.NoError(t, err)
	return string(data)
}
