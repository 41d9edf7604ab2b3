// Package tests runs the otomi binary end to end, as a user would: scripts
// in testdata/script (testscript .txtar files) against a copy of the bundled
// example values repo, with the real sops CLI for interop.
package tests

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/otomi/otomi/pkg/cmd/root"
)

// Canary is the secret planted in the example values repo
// (otomi.adminPassword in env/secrets.settings.yaml).
const Canary = "canary-9f3b1c7e-OTOMI-SECRET"

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"otomi": func() { os.Exit(root.Main()) },
	})
}

func repoRoot(t testing.TB) string {
	t.Helper()
	abs, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// sopsBinary is the real sops CLI: $OTOMI_TEST_SOPS (make test builds it)
// or sops on PATH. The interop tests need it: without it they fail.
func sopsBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("OTOMI_TEST_SOPS"); p != "" {
		return p
	}
	p, err := exec.LookPath("sops")
	if err != nil {
		t.Fatal("the sops CLI is needed for the interop tests: run 'make test' (it builds sops) or set OTOMI_TEST_SOPS")
	}
	return p
}

func TestScripts(t *testing.T) {
	top := repoRoot(t)
	sops := sopsBinary(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			if err := copyTree(filepath.Join(top, "examples", "demo"), filepath.Join(env.WorkDir, "repo")); err != nil {
				return err
			}
			tmp := filepath.Join(env.WorkDir, "tmp")
			if err := os.MkdirAll(tmp, 0o755); err != nil {
				return err
			}
			env.Setenv("TMPDIR", tmp)
			env.Setenv("HOME", filepath.Join(env.WorkDir, "home"))
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(env.WorkDir, "home", ".config"))
			env.Setenv("KEY", filepath.Join(top, "testdata", "age", "test-only.agekey"))
			env.Setenv("OTHER_KEY", filepath.Join(top, "testdata", "age", "test-only-other.agekey"))
			env.Setenv("SOPS_AGE_KEY_FILE", filepath.Join(top, "testdata", "age", "test-only.agekey"))
			env.Setenv("OTOMI_ENV_DIR", filepath.Join(env.WorkDir, "repo"))
			env.Setenv("CANARY", Canary)
			env.Setenv("NO_COLOR", "1")
			env.Setenv("PATH", filepath.Dir(sops)+string(os.PathListSeparator)+env.Getenv("PATH"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitCode,
			"tamper":   cmdTamper,
			"nocanary": cmdNoCanary,
		},
	})
}

// exitcode N program [args...]: run program and expect exit code N.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("run %s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// tamper FILE: change one character of the first encrypted value of a SOPS
// file, as an edit by hand would.
func cmdTamper(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: tamper FILE")
	}
	p := ts.MkAbs(args[0])
	data, err := os.ReadFile(p)
	ts.Check(err)
	const marker = ": ENC[AES256_GCM,data:"
	i := bytes.Index(data, []byte(marker))
	if i < 0 {
		ts.Fatalf("%s holds no encrypted value", args[0])
	}
	j := i + len(marker)
	if data[j] == 'A' {
		data[j] = 'B'
	} else {
		data[j] = 'A'
	}
	ts.Check(os.WriteFile(p, data, 0o644))
}

// nocanary PATH...: no file under the paths (or the last command's stdout
// and stderr, named "stdout" and "stderr") contains the canary secret.
func cmdNoCanary(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: nocanary PATH...")
	}
	var hits []string
	for _, a := range args {
		if a == "stdout" || a == "stderr" {
			if strings.Contains(ts.ReadFile(a), Canary) {
				hits = append(hits, a)
			}
			continue
		}
		root := ts.MkAbs(a)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if bytes.Contains(data, []byte(Canary)) {
				hits = append(hits, p)
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			ts.Fatalf("scan %s: %v", a, err)
		}
	}
	if len(hits) > 0 {
		ts.Fatalf("the canary secret is in plaintext in: %s", strings.Join(hits, ", "))
	}
}

// copyTree copies src into dst, keeping files that already exist in dst
// (so a script's own files override the example's).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if _, err := os.Lstat(target); err == nil {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

var _ = fmt.Sprintf
