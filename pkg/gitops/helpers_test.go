package gitops

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi/pkg/gitops/gitnet"
)

// gitEnv isolates the real git CLI from the developer's configuration.
func gitEnv(t *testing.T) []string {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	require.NoError(t, os.MkdirAll(home, 0o755))
	return append(os.Environ(),
		"HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Other Dev", "GIT_AUTHOR_EMAIL=other@example.com",
		"GIT_COMMITTER_NAME=Other Dev", "GIT_COMMITTER_EMAIL=other@example.com",
		"GIT_TERMINAL_PROMPT=0")
}

// git runs the real git CLI in dir and returns its trimmed stdout.
func gitc(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv(t)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %s: %s", strings.Join(args, " "), out)
	return strings.TrimSpace(string(out))
}

// isolateHome points HOME and XDG_CONFIG_HOME at an empty folder, so that
// go-git reads no global git config of the developer's.
func isolateHome(t *testing.T) string {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	require.NoError(t, os.MkdirAll(home, 0o755))
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	return home
}

// bareRemote creates a bare repository with the real git CLI; its first
// branch is main.
func bareRemote(t *testing.T) (dir, url string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "remote.git")
	gitc(t, ".", "init", "--quiet", "--bare", "--initial-branch=main", dir)
	return dir, "file://" + dir
}

// seeded returns a bare remote with one commit on main (files a.yaml,
// b.yaml) and a work tree cloned from it with the git CLI.
func seeded(t *testing.T) (bare, url, work string) {
	t.Helper()
	bare, url = bareRemote(t)
	seed := filepath.Join(t.TempDir(), "seed")
	gitc(t, ".", "clone", "--quiet", url, seed)
	write(t, seed, "a.yaml", "a: 1\n")
	write(t, seed, "b.yaml", "b: 1\n")
	gitc(t, seed, "add", "-A")
	gitc(t, seed, "commit", "--quiet", "-m", "seed")
	gitc(t, seed, "push", "--quiet", "origin", "main")
	work = filepath.Join(t.TempDir(), "work")
	gitc(t, ".", "clone", "--quiet", url, work)
	return bare, url, work
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

func read(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	require.NoError(t, err)
	return string(data)
}

// otherPush makes another clone of url commit content to name and push it
// with the real git CLI.
func otherPush(t *testing.T, url, name, content, msg string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "other")
	gitc(t, ".", "clone", "--quiet", url, dir)
	write(t, dir, name, content)
	gitc(t, dir, "add", "-A")
	gitc(t, dir, "commit", "--quiet", "-m", msg)
	gitc(t, dir, "push", "--quiet", "origin", "HEAD")
	return gitc(t, dir, "rev-parse", "HEAD")
}

var me = Identity{Name: "Otomi Tester", Email: "tester@example.com"}

// commitAll commits every change of the work tree with go-git.
func commitAll(t *testing.T, r *Repo, msg string) {
	t.Helper()
	changes, err := r.Changes()
	require.NoError(t, err)
	require.NotEmpty(t, changes)
	_, err = r.Commit(changes, msg, me)
	require.NoError(t, err)
}

var fastRetry = gitnet.Retry{Attempts: 3, Delay: time.Millisecond}

func gitCmd(t *testing.T, dir string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv(t)
	return cmd
}
