package bootstrap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/otomi/otomi"
	"github.com/otomi/otomi/internal/golden"
	"github.com/otomi/otomi/pkg/migrate"
	"github.com/otomi/otomi/pkg/schema"
	"github.com/otomi/otomi/pkg/secrets"
	"github.com/otomi/otomi/pkg/values"
)

const (
	canary        = "canary-9f3b1c7e-OTOMI-SECRET"
	testRecipient = "age19jy8y7rxf0rw8xd2u8wp7gadyrlxcwmk58c8cxw3sv5gllh7x33s7a09dl"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) {
	for _, k := range []string{"SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD", "SOPS_AGE_SSH_PRIVATE_KEY_FILE"} {
		os.Unsetenv(k)
	}
	os.Exit(m.Run())
}

var realSchema = sync.OnceValues(func() (*schema.Schema, error) {
	return schema.Load(schema.FileName, otomi.ValuesSchema)
})

func testKey(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../testdata/age/test-only.agekey")
	require.NoError(t, err)
	return p
}

// withTestKey makes the test-only key the one sops and bootstrap use.
func withTestKey(t *testing.T) string {
	t.Helper()
	k := testKey(t)
	t.Setenv("SOPS_AGE_KEY_FILE", k)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("GNUPGHOME", t.TempDir())
	return k
}

func options(t *testing.T, envDir string) Options {
	t.Helper()
	sch, err := realSchema()
	require.NoError(t, err)
	changes, err := migrate.LoadBuiltin(otomi.Platform())
	require.NoError(t, err)
	return Options{
		EnvDir:     envDir,
		Schema:     sch,
		SchemaYAML: otomi.ValuesSchema,
		Platform:   otomi.Platform(),
		Codec:      secrets.Sops{},
		Changes:    changes,
		Keys:       AgeKeys{EnvKeyFile: os.Getenv("SOPS_AGE_KEY_FILE"), Dir: filepath.Join(t.TempDir(), "keys")},
		Now:        func() time.Time { return now },
	}
}

const minimalInput = `cluster:
  name: demo
  provider: custom
  domainSuffix: demo.example.com
smtp:
  auth_password: ` + canary + `
`

func withInput(o Options, input string) Options {
	o.Input, o.InputName = []byte(input), "values.yaml"
	return o
}

// snapshot reads every file below root, .git included.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			out[filepath.ToSlash(rel)+"/"] = ""
			return nil
		}
		data, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		return out
	}
	require.NoError(t, err)
	return out
}

var pemBody = regexp.MustCompile(`(?s)(-----BEGIN [A-Z ]+-----\n).*?(\n\s*-----END [A-Z ]+-----)`)

// describe renders the files of a bootstrapped repo for the golden file:
// plain files as they are (the random CA certificate masked), secrets files
// decrypted with every value replaced by its length.
func describe(t *testing.T, root string) string {
	t.Helper()
	var paths []string
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return fs.SkipDir
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			paths = append(paths, filepath.ToSlash(rel))
		}
		return nil
	}))
	sort.Strings(paths)
	var b strings.Builder
	for _, p := range paths {
		data, err := os.ReadFile(filepath.Join(root, p))
		require.NoError(t, err)
		switch {
		case p == SchemaCopy:
			want, err := editorSchema(otomi.ValuesSchema)
			require.NoError(t, err)
			require.Equal(t, string(want), string(data))
			fmt.Fprintf(&b, "== %s\n<values-schema.yaml as JSON, without the root's required>\n", p)
		case strings.HasPrefix(filepath.Base(p), "secrets."):
			require.True(t, values.IsEncrypted(data), "%s is encrypted", p)
			recips, err := secrets.FileRecipients(data)
			require.NoError(t, err)
			plain, err := secrets.Sops{}.Decrypt(context.Background(), p, data)
			require.NoError(t, err)
			tree, _, problems := values.ParseYAML(p, plain)
			require.Empty(t, problems)
			fmt.Fprintf(&b, "== %s (encrypted for %s)\n", p, strings.Join(recips, ", "))
			values.Leaves(tree, "", func(ptr string, v any) {
				s := fmt.Sprint(v)
				switch {
				case s == canary:
					s = "<the input's value>"
				case strings.Contains(s, "PRIVATE KEY-----"):
					s = "<PEM private key>"
				default:
					s = fmt.Sprintf("<%d characters>", len(s))
				}
				fmt.Fprintf(&b, "%s: %s\n", ptr, s)
			})
		default:
			fmt.Fprintf(&b, "== %s\n%s", p, pemBody.ReplaceAllString(string(data), "$1<generated>$2"))
		}
	}
	return b.String()
}

func TestBootstrapMinimalInputGolden(t *testing.T) {
	withTestKey(t)
	root := filepath.Join(t.TempDir(), "values")
	res, err := Run(context.Background(), withInput(options(t, root), minimalInput))
	require.NoError(t, err)
	assert.True(t, res.New)
	assert.True(t, res.CA)
	assert.True(t, res.GitInit)
	assert.False(t, res.KeyGenerated, "SOPS_AGE_KEY_FILE provides the key")
	assert.Contains(t, res.Generated, "/otomi/adminPassword")
	assert.Contains(t, res.Generated, "/apps/harbor/secretKey")
	assert.NotContains(t, res.Generated, "/apps/drone/rpcSecret", "drone is off: no secrets for it")
	golden.Assert(t, "minimal.txt", []byte(describe(t, root)))

	// The values read back: the input's secret kept, generated ones valid.
	v, err := values.Load(context.Background(), root, secrets.Sops{})
	require.NoError(t, err)
	require.Empty(t, v.Problems)
	got, _ := values.Get(v.Tree, "/smtp/auth_password")
	assert.Equal(t, canary, got)
	key, _ := values.Get(v.Tree, "/apps/harbor/secretKey")
	assert.Regexp(t, `^[A-Za-z0-9]{16}$`, key)
	crt, _ := values.Get(v.Tree, CACertPointer)
	caKey, _ := values.Get(v.Tree, CAKeyPointer)
	require.NoError(t, CheckCA(crt.(string), caKey.(string)))
	sch, _ := realSchema()
	sch.ApplyDefaults(v)
	assert.Empty(t, sch.Validate(v))

	// git: a repository on main with nothing committed.
	repo, err := git.PlainOpen(root)
	require.NoError(t, err)
	head, err := repo.Storer.Reference("HEAD")
	require.NoError(t, err)
	assert.Equal(t, "refs/heads/main", head.Target().String())
	_, err = repo.Head()
	require.Error(t, err, "nothing is committed")

	for p, content := range snapshot(t, root) {
		if !strings.HasPrefix(filepath.Base(p), "secrets.") {
			assert.NotContains(t, content, canary, "plaintext secret in %s", p)
		}
	}
}

func TestBootstrapTwiceChangesNoByte(t *testing.T) {
	withTestKey(t)
	root := filepath.Join(t.TempDir(), "values")
	opts := withInput(options(t, root), minimalInput)
	_, err := Run(context.Background(), opts)
	require.NoError(t, err)
	first := snapshot(t, root)
	res, err := Run(context.Background(), opts)
	require.NoError(t, err)
	assert.Zero(t, res.Written())
	assert.Empty(t, res.Generated)
	assert.False(t, res.CA)
	assert.False(t, res.GitInit)
	assert.Equal(t, first, snapshot(t, root), "the second run changes no byte, .git included")
}

func TestBootstrapPrecedenceUserOverStoredOverGenerated(t *testing.T) {
	withTestKey(t)
	root := filepath.Join(t.TempDir(), "values")
	opts := withInput(options(t, root), minimalInput)
	_, err := Run(context.Background(), opts)
	require.NoError(t, err)
	first := snapshot(t, root)
	load := func() map[string]any {
		v, err := values.Load(context.Background(), root, secrets.Sops{})
		require.NoError(t, err)
		return v.Tree
	}
	harbor, _ := values.Get(load(), "/apps/harbor/adminPassword")

	// The user gives the admin password: it replaces the generated one, and
	// only secrets.settings.yaml changes.
	_, err = Run(context.Background(), withInput(options(t, root), minimalInput+"otomi:\n  adminPassword: given-by-user\n"))
	require.NoError(t, err)
	second := snapshot(t, root)
	got, _ := values.Get(load(), "/otomi/adminPassword")
	assert.Equal(t, "given-by-user", got)
	for p := range first {
		if p != "env/secrets.settings.yaml" {
			assert.Equal(t, first[p], second[p], "%s changed", p)
		}
	}
	assert.NotEqual(t, first["env/secrets.settings.yaml"], second["env/secrets.settings.yaml"])

	// Without it, the stored value stays: a secret is never rotated.
	_, err = Run(context.Background(), options(t, root))
	require.NoError(t, err)
	assert.Equal(t, second, snapshot(t, root))
	tree := load()
	got, _ = values.Get(tree, "/otomi/adminPassword")
	assert.Equal(t, "given-by-user", got)
	again, _ := values.Get(tree, "/apps/harbor/adminPassword")
	assert.Equal(t, harbor, again)

	// Enabling an app generates its secrets, and touches nothing else's.
	res, err := Run(context.Background(), withInput(options(t, root), "apps:\n  drone:\n    enabled: true\n"))
	require.NoError(t, err)
	assert.Equal(t, []string{"/apps/drone/rpcSecret"}, res.Generated)
	third := snapshot(t, root)
	for p := range second {
		if !strings.Contains(p, "drone") {
			assert.Equal(t, second[p], third[p], "%s changed", p)
		}
	}
	assert.Contains(t, third, "env/apps/secrets.drone.yaml")
	assert.Equal(t, "apps:\n  drone:\n    enabled: true\n", third["env/apps/drone.yaml"])
}

func TestBootstrapGeneratesAnAgeKeyOutsideTheRepo(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	root := filepath.Join(t.TempDir(), "values")
	opts := withInput(options(t, root), minimalInput)
	opts.Keys = AgeKeys{Dir: filepath.Join(t.TempDir(), "otomi", "keys")}
	var used []string
	opts.UseKeyFile = func(p string) func() {
		used = append(used, p)
		return secrets.UseAgeKeyFile(p)
	}
	res, err := Run(context.Background(), opts)
	require.NoError(t, err)
	require.True(t, res.KeyGenerated)
	assert.Equal(t, filepath.Join(opts.Keys.Dir, "demo.txt"), res.KeyFile)
	assert.Empty(t, used, "no key to use yet")
	st, err := os.Stat(res.KeyFile)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), st.Mode().Perm())
	st, err = os.Stat(opts.Keys.Dir)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o700), st.Mode().Perm())
	keyData, err := os.ReadFile(res.KeyFile)
	require.NoError(t, err)
	recips, err := secrets.AgeRecipients(keyData)
	require.NoError(t, err)
	conf, err := os.ReadFile(filepath.Join(root, ".sops.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(conf), "age: "+recips[0]+"\n")
	settings, err := os.ReadFile(filepath.Join(root, "env", "settings.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(settings), "publicKeys:\n        - "+recips[0]+"\n")
	for p, content := range snapshot(t, root) {
		assert.NotContains(t, content, "AGE-SECRET-KEY", "private key in %s", p)
	}

	// The second run finds the cluster's key by itself and changes nothing.
	first := snapshot(t, root)
	res, err = Run(context.Background(), opts)
	require.NoError(t, err)
	assert.False(t, res.KeyGenerated)
	assert.Equal(t, []string{filepath.Join(opts.Keys.Dir, "demo.txt")}, used)
	assert.Zero(t, res.Written())
	assert.Equal(t, first, snapshot(t, root))
	_, set := os.LookupEnv("SOPS_AGE_KEY_FILE")
	assert.False(t, set, "the variable is restored")
}

// fakeCodec stands in for a cloud KMS the test cannot reach.
type fakeCodec struct{ secrets.Sops }

func (fakeCodec) Encrypt(_ context.Context, rule *secrets.Rule, _ string, plain []byte) ([]byte, error) {
	return fmt.Appendf(nil, "data: ENC[fake,%d bytes]\nsops:\n  fake: %s\n", len(plain), strings.Join(rule.Recipients(), ",")), nil
}

func TestBootstrapWritesTheCreationRuleOfOtherProviders(t *testing.T) {
	withTestKey(t)
	cases := []struct{ kms, key, field string }{
		{"aws", "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "kms"},
		{"gcp", "projects/p/locations/global/keyRings/r/cryptoKeys/otomi", "gcp_kms"},
		{"azure", "https://otomi.vault.azure.net/keys/sops/0123abcd", "azure_keyvault"},
		{"vault", "https://vault.example.com:8200/v1/sops/keys/otomi", "hc_vault_transit_uri"},
	}
	for _, c := range cases {
		t.Run(c.kms, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "values")
			opts := withInput(options(t, root), minimalInput)
			opts.KMS, opts.KMSKeys, opts.Codec = c.kms, []string{c.key}, fakeCodec{}
			res, err := Run(context.Background(), opts)
			require.NoError(t, err)
			assert.False(t, res.KeyGenerated)
			conf, err := os.ReadFile(filepath.Join(root, ".sops.yaml"))
			require.NoError(t, err)
			assert.Contains(t, string(conf), "    "+c.field+": "+c.key+"\n")
			settings, err := os.ReadFile(filepath.Join(root, "env", "settings.yaml"))
			require.NoError(t, err)
			assert.Contains(t, string(settings), "provider: "+c.kms)
			assert.Contains(t, string(settings), c.key)
			assert.NotContains(t, string(settings), "age")
		})
	}
}

func TestBootstrapDerivesHashesAndKeepsThemWhileTheyMatch(t *testing.T) {
	withTestKey(t)
	data, err := os.ReadFile("testdata/derived-schema.yaml")
	require.NoError(t, err)
	sch, err := schema.Load("values-schema.yaml", data)
	require.NoError(t, err)
	root := filepath.Join(t.TempDir(), "values")
	opts := withInput(options(t, root), "cluster: {name: demo, provider: custom}\nteamConfig:\n  alpha: {}\n")
	opts.Schema = sch
	res, err := Run(context.Background(), opts)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"/apps/loki/adminPassword", "/teamConfig/alpha/password",
		"/apps/loki/checksum", "/apps/loki/htpasswd", "/teamConfig/alpha/passwordHash"}, res.Generated)
	load := func() map[string]any {
		v, err := values.Load(context.Background(), root, secrets.Sops{})
		require.NoError(t, err)
		require.Empty(t, v.Problems)
		return v.Tree
	}
	str := func(tree map[string]any, ptr string) string {
		v, _ := values.Get(tree, ptr)
		s, _ := v.(string)
		return s
	}
	tree := load()
	pw, hash := str(tree, "/teamConfig/alpha/password"), str(tree, "/teamConfig/alpha/passwordHash")
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)))
	user, h, _ := strings.Cut(str(tree, "/apps/loki/htpasswd"), ":")
	assert.Equal(t, "otomi-admin", user)
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(h), []byte(str(tree, "/apps/loki/adminPassword"))))
	assert.Len(t, str(tree, "/apps/loki/checksum"), 12)

	first := snapshot(t, root)
	opts.Input = nil
	res, err = Run(context.Background(), opts)
	require.NoError(t, err)
	assert.Empty(t, res.Generated, "a hash that matches its password is kept (bcrypt salts differ on each run)")
	assert.Equal(t, first, snapshot(t, root))

	// A new password gets a new hash.
	opts = withInput(opts, "teamConfig:\n  alpha: {password: rotated-by-hand}\n")
	res, err = Run(context.Background(), opts)
	require.NoError(t, err)
	assert.Equal(t, []string{"/teamConfig/alpha/passwordHash"}, res.Generated)
	tree = load()
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(str(tree, "/teamConfig/alpha/passwordHash")), []byte("rotated-by-hand")))
}

func TestBootstrapRefusesBadInput(t *testing.T) {
	withTestKey(t)
	cases := []struct {
		name    string
		input   string
		mutate  func(o *Options)
		invalid []string // located problems (exit 3)
		wantErr string   // other errors
	}{
		{name: "schema violations, located in the input",
			input:   "cluster:\n  name: Demo!\n  provider: custom\n  domainSuffix: demo.example.com\napps:\n  harbor:\n    enabeld: true\nsmtp:\n  auth_password: 12\n",
			invalid: []string{`values.yaml:2:9 /cluster/name: expected a string matching`, `values.yaml:7:5 /apps/harbor/enabeld: unknown property "enabeld" (did you mean "enabled"?)`, `values.yaml:9:18 /smtp/auth_password: expected string, got a number <redacted>`}},
		{name: "nothing to name the cluster", input: "",
			invalid: []string{`/cluster: missing required property "cluster"`}},
		{name: "unknown KMS provider", input: minimalInput + "kms:\n  sops:\n    provider: rot13\n",
			invalid: []string{`values.yaml:9:15 /kms/sops/provider: expected one of age, aws, azure, gcp, vault, pgp, got "rot13"`}},
		{name: "unknown cloud provider", input: minimalInput, mutate: func(o *Options) { o.Provider = "moon" },
			invalid: []string{`--provider /cluster/provider: expected one of`}},
		{name: "malformed age key", input: minimalInput, mutate: func(o *Options) { o.KMSKeys = []string{"age1nope"} },
			invalid: []string{`--kms-key /kms/sops/age/publicKeys/0: expected a string matching`}},
		{name: "malformed YAML", input: "cluster: [\n", invalid: []string{`values.yaml:1  malformed YAML`}},
		{name: "a CA key that is not the certificate's", input: minimalInput + "otomi:\n  ca:\n    crt: |\n" + indent(otherCA(t)) + "    key: |\n" + indent(otherKey(t)),
			invalid: []string{`/otomi/ca/key: otomi.ca.key does not belong to the certificate in otomi.ca.crt`}},
		{name: "unusable KMS key", input: minimalInput,
			mutate:  func(o *Options) { o.KMS, o.KMSKeys = "pgp", []string{"0123456789ABCDEF0123456789ABCDEF01234567"} },
			wantErr: "the pgp key cannot be used"},
		{name: "no key for a cloud KMS", input: minimalInput, mutate: func(o *Options) { o.KMS = "aws" },
			invalid: []string{`/kms/sops/aws: missing required property "aws"`}},
		{name: "unreadable SOPS_AGE_KEY_FILE", input: minimalInput,
			mutate:  func(o *Options) { o.Keys.EnvKeyFile = "/nonexistent/key.txt" },
			wantErr: "age key file: open /nonexistent/key.txt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			root := filepath.Join(parent, "values")
			opts := withInput(options(t, root), c.input)
			if c.mutate != nil {
				c.mutate(&opts)
			}
			_, err := Run(context.Background(), opts)
			require.Error(t, err)
			assert.NotContains(t, err.Error(), canary)
			if c.wantErr != "" {
				assert.ErrorContains(t, err, c.wantErr)
			} else {
				var inv *migrate.Invalid
				require.True(t, errors.As(err, &inv), "got %v", err)
				var lines []string
				for _, p := range inv.Problems {
					lines = append(lines, p.Origin.String()+" "+p.Error()[len(p.Origin.String())+1:])
				}
				all := strings.Join(lines, "\n")
				for _, w := range c.invalid {
					assert.Contains(t, all, w)
				}
			}
			assert.Equal(t, map[string]string{"./": ""}, snapshot(t, parent), "nothing is written")
			_, err = os.Stat(opts.Keys.Dir)
			assert.True(t, errors.Is(err, fs.ErrNotExist), "no key is written")
		})
	}
}

func indent(s string) string {
	return "      " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n      ") + "\n"
}

var otherCAOnce = sync.OnceValues(func() ([2]string, error) {
	c, _, err := NewCA("one", now)
	if err != nil {
		return [2]string{}, err
	}
	_, k, err := NewCA("two", now)
	return [2]string{c, k}, err
})

func otherCA(t *testing.T) string {
	p, err := otherCAOnce()
	require.NoError(t, err)
	return p[0]
}

func otherKey(t *testing.T) string {
	p, err := otherCAOnce()
	require.NoError(t, err)
	return p[1]
}

func TestBootstrapEnvDirThatIsAFile(t *testing.T) {
	withTestKey(t)
	file := filepath.Join(t.TempDir(), "values")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	_, err := Run(context.Background(), withInput(options(t, file), minimalInput))
	require.ErrorContains(t, err, "is not a directory")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "env"), []byte("x"), 0o644))
	_, err = Run(context.Background(), withInput(options(t, dir), minimalInput))
	require.ErrorContains(t, err, "env is not a directory")
}

// bootstrapped returns a repo bootstrapped with the test key.
func bootstrapped(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "values")
	_, err := Run(context.Background(), withInput(options(t, root), minimalInput))
	require.NoError(t, err)
	return root
}

func TestBootstrapStopsAtATamperedSecretsFile(t *testing.T) {
	withTestKey(t)
	root := bootstrapped(t)
	p := filepath.Join(root, "env", "apps", "secrets.harbor.yaml")
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	i := bytes.Index(data, []byte("ENC[AES256_GCM,data:")) + len("ENC[AES256_GCM,data:")
	data[i] ^= 1
	require.NoError(t, os.WriteFile(p, data, 0o644))
	before := snapshot(t, root)
	_, err = Run(context.Background(), withInput(options(t, root), minimalInput+"apps:\n  drone: {enabled: true}\n"))
	var inv *migrate.Invalid
	require.True(t, errors.As(err, &inv), "got %v", err)
	assert.Equal(t, "env/apps/secrets.harbor.yaml", inv.Problems[0].Origin.File)
	assert.Contains(t, inv.Problems[0].Message, "integrity check failed")
	assert.Equal(t, before, snapshot(t, root), "nothing is touched")
}

func TestBootstrapRunsPendingMigrationsAllOrNothing(t *testing.T) {
	withTestKey(t)
	root := bootstrapped(t)
	parse := func(doc string) *migrate.Changes {
		c, err := migrate.Parse(otomi.Platform(), "changes.yaml", []byte(doc))
		require.NoError(t, err)
		return c
	}

	failing := parse("changes:\n  - version: 2\n    additions: [{path: /otomi/isMultitenant, value: false}]\n" +
		"  - version: 3\n    relocations: [{from: /cluster/provider, to: /cluster/name}]\n")
	before := snapshot(t, root)
	opts := options(t, root)
	opts.Changes = failing
	_, err := Run(context.Background(), opts)
	require.ErrorContains(t, err, "values change version 3: relocation /cluster/provider -> /cluster/name: /cluster/name is set already")
	assert.Equal(t, before, snapshot(t, root), "a failing change leaves the repo untouched")

	ok := parse("changes:\n  - version: 2\n    relocations: [{from: /cluster/owner, to: /cluster/region}]\n    mutations: [{path: /cluster/domainSuffix, template: 'new.{{ .prev }}'}]\n")
	opts.Changes = ok
	res, err := Run(context.Background(), opts)
	require.NoError(t, err)
	assert.Equal(t, 1, res.From)
	assert.Equal(t, 2, res.To)
	after := snapshot(t, root)
	assert.Equal(t, "cluster:\n  domainSuffix: new.demo.example.com\n  name: demo\n  provider: custom\n", after["env/cluster.yaml"])
	assert.Contains(t, after["env/settings.yaml"], "version: 2\n")
	res, err = Run(context.Background(), opts)
	require.NoError(t, err)
	assert.Empty(t, res.Migrated)
	assert.Equal(t, after, snapshot(t, root))
}

// failingDisk refuses writes below dir, as a read-only folder does.
type failingDisk struct {
	secrets.OSDisk
	dir string
}

func (d failingDisk) refuse(p string) error {
	if p == d.dir || strings.HasPrefix(p, d.dir+string(filepath.Separator)) {
		return &fs.PathError{Op: "open", Path: p, Err: errReadOnly}
	}
	return nil
}

var errReadOnly = errors.New("read-only file system")

func (d failingDisk) WriteFile(p string, data []byte, perm fs.FileMode) error {
	if err := d.refuse(p); err != nil {
		return err
	}
	return d.OSDisk.WriteFile(p, data, perm)
}

func (d failingDisk) Mkdir(p string, perm fs.FileMode) error {
	if err := d.refuse(p); err != nil {
		return err
	}
	return d.OSDisk.Mkdir(p, perm)
}

func TestBootstrapReadOnlyFolderWritesNothing(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Run("new repo: the generated key is undone too", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "values")
		require.NoError(t, os.MkdirAll(filepath.Join(root, "env"), 0o755))
		opts := withInput(options(t, root), minimalInput)
		opts.Keys = AgeKeys{Dir: filepath.Join(t.TempDir(), "keys")}
		opts.Disk = failingDisk{dir: filepath.Join(root, "env", "apps")}
		before := snapshot(t, root)
		_, err := Run(context.Background(), opts)
		require.ErrorIs(t, err, errReadOnly)
		assert.ErrorContains(t, err, "(nothing was changed)")
		assert.Equal(t, before, snapshot(t, root))
		_, err = os.Stat(opts.Keys.Dir)
		assert.True(t, errors.Is(err, fs.ErrNotExist), "the new key is removed with the rest")
	})
	t.Run("existing repo", func(t *testing.T) {
		withTestKey(t)
		root := bootstrapped(t)
		before := snapshot(t, root)
		opts := withInput(options(t, root), minimalInput+"apps:\n  drone: {enabled: true}\notomi:\n  adminPassword: new\n")
		opts.Disk = failingDisk{dir: filepath.Join(root, "env", "apps")}
		_, err := Run(context.Background(), opts)
		require.ErrorIs(t, err, errReadOnly)
		assert.Equal(t, before, snapshot(t, root), "secrets.settings.yaml, written before the failure, is restored")
	})
}

func TestBootstrapRepairsAHandWrittenRepo(t *testing.T) {
	withTestKey(t)
	root := t.TempDir()
	require.NoError(t, os.CopyFS(root, os.DirFS("../../examples/demo")))
	before := snapshot(t, root)
	res, err := Run(context.Background(), options(t, root))
	require.NoError(t, err)
	assert.False(t, res.New)
	assert.True(t, res.CA, "the demo names no CA")
	after := snapshot(t, root)
	assert.Equal(t, before[".sops.yaml"], after[".sops.yaml"], "a .sops.yaml naming the same keys is kept, comments and all")
	for p := range before {
		if p != "env/settings.yaml" && p != "env/secrets.settings.yaml" {
			assert.Equal(t, before[p], after[p], "%s changed", p)
		}
	}
	// Only the CA is added to settings.yaml, in place.
	assert.True(t, strings.HasPrefix(after["env/settings.yaml"], "version: 1\notomi:\n  imageRegistry: ''\n"), after["env/settings.yaml"][:80])
	res, err = Run(context.Background(), options(t, root))
	require.NoError(t, err)
	assert.Zero(t, res.Written())
	assert.Equal(t, after, snapshot(t, root))
}

func TestBootstrapMovesSecretsOutOfPlainFiles(t *testing.T) {
	withTestKey(t)
	root := bootstrapped(t)
	settings := filepath.Join(root, "env", "settings.yaml")
	data, err := os.ReadFile(settings)
	require.NoError(t, err)
	// Someone wrote secrets into plain files.
	require.NoError(t, os.WriteFile(settings, append(data, []byte("smtp:\n  auth_secret: "+canary+"\n")...), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "env", "teams.yaml"), []byte("teamConfig:\n  alpha:\n    password: alpha-"+canary+"\n"), 0o644))
	res, err := Run(context.Background(), options(t, root))
	require.NoError(t, err)
	assert.Equal(t, []string{"/smtp/auth_secret", "/teamConfig/alpha/password"}, res.Moved)
	assert.NotContains(t, res.Generated, "/teamConfig/alpha/password", "the value is kept, not regenerated")
	after := snapshot(t, root)
	assert.Equal(t, string(data), after["env/settings.yaml"], "the plain file is back as it was")
	assert.NotContains(t, after, "env/teams.yaml", "a plain file left empty is removed")
	for p, content := range after {
		assert.NotContains(t, content, canary, "plaintext secret in %s", p)
	}
	v, err := values.Load(context.Background(), root, secrets.Sops{})
	require.NoError(t, err)
	got, _ := values.Get(v.Tree, "/teamConfig/alpha/password")
	assert.Equal(t, "alpha-"+canary, got)
	got, _ = values.Get(v.Tree, "/smtp/auth_secret")
	assert.Equal(t, canary, got)
}
