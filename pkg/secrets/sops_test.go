package secrets

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testRecipient  = "age19jy8y7rxf0rw8xd2u8wp7gadyrlxcwmk58c8cxw3sv5gllh7x33s7a09dl"
	otherRecipient = "age1l9nfv9rrhh8vay2mer8jnfcsdfrsdage0l74yzn0q7c04lyjxsas3uaym0"
)

// useKey points SOPS at one of the test-only keys and nowhere else.
func useKey(t *testing.T, name string) {
	t.Helper()
	for _, k := range []string{"SOPS_AGE_KEY", "SOPS_AGE_KEY_CMD", "SOPS_AGE_SSH_PRIVATE_KEY_FILE", "SOPS_AGE_SSH_PRIVATE_KEY_CMD"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	if name == "" {
		t.Setenv("SOPS_AGE_KEY_FILE", filepath.Join(t.TempDir(), "absent"))
		return
	}
	abs, err := filepath.Abs(filepath.Join("..", "..", "testdata", "age", name))
	require.NoError(t, err)
	t.Setenv("SOPS_AGE_KEY_FILE", abs)
}

func writeSopsConfig(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, ".sops.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

const plain = "# the admin\notomi:\n    adminPassword: canary-very-secret\nteams:\n    - a\n    - b\n"

func TestEncryptDecryptRoundTrip(t *testing.T) {
	useKey(t, "test-only.agekey")
	dir := t.TempDir()
	conf := writeSopsConfig(t, dir, "creation_rules:\n  - path_regex: secrets\\..*\\.yaml$\n    age: "+testRecipient+"\n")
	file := filepath.Join(dir, "env", "secrets.settings.yaml")
	rule, err := RuleFor(conf, file)
	require.NoError(t, err)
	ctx := context.Background()
	enc, err := Sops{}.Encrypt(ctx, rule, file, []byte(plain))
	require.NoError(t, err)
	assert.NotContains(t, string(enc), "canary-very-secret")
	assert.Contains(t, string(enc), testRecipient)
	assert.Contains(t, string(enc), "adminPassword: ENC[AES256_GCM")

	got, err := Sops{}.Decrypt(ctx, file, enc)
	require.NoError(t, err)
	canon, err := Canonical([]byte(plain))
	require.NoError(t, err)
	assert.Equal(t, string(canon), string(got))
	assert.Contains(t, string(got), "adminPassword: canary-very-secret")

	_, err = Sops{}.Encrypt(ctx, rule, file, enc)
	assert.ErrorIs(t, err, ErrAlreadyEncrypted)
}

func TestDecryptFailures(t *testing.T) {
	useKey(t, "test-only.agekey")
	dir := t.TempDir()
	conf := writeSopsConfig(t, dir, "creation_rules:\n  - age: "+testRecipient+"\n")
	file := filepath.Join(dir, "secrets.x.yaml")
	rule, err := RuleFor(conf, file)
	require.NoError(t, err)
	ctx := context.Background()
	enc, err := Sops{}.Encrypt(ctx, rule, file, []byte(plain))
	require.NoError(t, err)

	t.Run("tampered value", func(t *testing.T) {
		lines := strings.Split(string(enc), "\n")
		for i, l := range lines {
			if strings.Contains(l, "adminPassword: ENC[") {
				lines[i] = strings.Replace(l, "data:", "data:AA", 1)
			}
		}
		_, err := Sops{}.Decrypt(ctx, file, []byte(strings.Join(lines, "\n")))
		assert.ErrorIs(t, err, ErrIntegrity)
	})
	t.Run("value swapped for another encrypted value", func(t *testing.T) {
		// Moving ciphertext around keeps each value decryptable but breaks the MAC.
		lines := strings.Split(string(enc), "\n")
		var items []int
		for i, l := range lines {
			if strings.HasPrefix(l, "    - ENC[") {
				items = append(items, i)
			}
		}
		require.Len(t, items, 2)
		lines[items[0]], lines[items[1]] = lines[items[1]], lines[items[0]]
		_, err := Sops{}.Decrypt(ctx, file, []byte(strings.Join(lines, "\n")))
		assert.ErrorIs(t, err, ErrIntegrity)
	})
	t.Run("mac edited", func(t *testing.T) {
		i := strings.Index(string(enc), "mac: ENC[AES256_GCM,data:")
		require.Positive(t, i)
		b := []byte(string(enc))
		j := i + len("mac: ENC[AES256_GCM,data:")
		if b[j] == 'A' {
			b[j] = 'B'
		} else {
			b[j] = 'A'
		}
		_, err := Sops{}.Decrypt(ctx, file, b)
		assert.ErrorIs(t, err, ErrIntegrity)
	})
	t.Run("wrong key", func(t *testing.T) {
		useKey(t, "test-only-other.agekey")
		_, err := Sops{}.Decrypt(ctx, file, enc)
		assert.ErrorIs(t, err, ErrNoKey)
		assert.Contains(t, err.Error(), testRecipient)
		assert.NotContains(t, err.Error(), "canary")
	})
	t.Run("no key", func(t *testing.T) {
		useKey(t, "")
		_, err := Sops{}.Decrypt(ctx, file, enc)
		assert.ErrorIs(t, err, ErrNoKey)
		assert.Contains(t, err.Error(), "SOPS_AGE_KEY_FILE")
	})
	t.Run("not encrypted", func(t *testing.T) {
		_, err := Sops{}.Decrypt(ctx, file, []byte(plain))
		assert.ErrorIs(t, err, ErrNotEncrypted)
	})
}

func TestRuleFor(t *testing.T) {
	dir := t.TempDir()
	conf := writeSopsConfig(t, dir, "creation_rules:\n  - path_regex: ^env/.*secrets\\..*\\.yaml$\n    age: "+testRecipient+"\n")
	_, err := RuleFor(conf, filepath.Join(dir, "env", "secrets.settings.yaml"))
	require.NoError(t, err)
	_, err = RuleFor(conf, filepath.Join(dir, "other", "secrets.settings.yaml"))
	assert.ErrorIs(t, err, ErrNoRule)
	assert.ErrorContains(t, err, "path_regex")

	conf = writeSopsConfig(t, dir, "creation_rules: [\n")
	_, err = RuleFor(conf, filepath.Join(dir, "env", "secrets.settings.yaml"))
	assert.ErrorContains(t, err, ".sops.yaml")
	conf = writeSopsConfig(t, dir, "{}\n")
	_, err = RuleFor(conf, filepath.Join(dir, "env", "secrets.settings.yaml"))
	assert.ErrorIs(t, err, ErrNoRule)
}

func TestEncryptFile(t *testing.T) {
	useKey(t, "test-only.agekey")
	dir := t.TempDir()
	conf := writeSopsConfig(t, dir, "creation_rules:\n  - age: "+testRecipient+"\n")
	file := filepath.Join(dir, "secrets.settings.yaml")
	require.NoError(t, os.WriteFile(file, []byte(plain), 0o600))
	rule, err := RuleFor(conf, file)
	require.NoError(t, err)
	ctx := context.Background()

	out, err := EncryptFile(ctx, Sops{}, rule, file, nil)
	require.NoError(t, err)
	assert.Equal(t, Encrypted, out)
	committed, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.NotContains(t, string(committed), "canary-very-secret")
	st, _ := os.Stat(file)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "mode kept")

	out, err = EncryptFile(ctx, Sops{}, rule, file, nil)
	require.NoError(t, err)
	assert.Equal(t, AlreadyEncrypted, out)

	head := func(string) ([]byte, bool, error) { return committed, true, nil }
	// Same plaintext again: the committed ciphertext comes back byte for byte.
	require.NoError(t, os.WriteFile(file, []byte(plain), 0o600))
	out, err = EncryptFile(ctx, Sops{}, rule, file, head)
	require.NoError(t, err)
	assert.Equal(t, Restored, out)
	now, _ := os.ReadFile(file)
	assert.Equal(t, string(committed), string(now))

	// Changed plaintext: a new encryption.
	require.NoError(t, os.WriteFile(file, []byte(strings.Replace(plain, "canary-very-secret", "canary-changed", 1)), 0o600))
	out, err = EncryptFile(ctx, Sops{}, rule, file, head)
	require.NoError(t, err)
	assert.Equal(t, Encrypted, out)
	now, _ = os.ReadFile(file)
	assert.NotEqual(t, string(committed), string(now))
	got, err := Sops{}.Decrypt(ctx, file, now)
	require.NoError(t, err)
	assert.Contains(t, string(got), "canary-changed")

	// A plaintext that does not parse is left as it was, and the error shows no content.
	broken := "otomi:\n  adminPassword: \"canary-unterminated\n"
	require.NoError(t, os.WriteFile(file, []byte(broken), 0o600))
	_, err = EncryptFile(ctx, Sops{}, rule, file, nil)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "canary")
	now, _ = os.ReadFile(file)
	assert.Equal(t, broken, string(now))
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 2, "no temp file left behind")
}
