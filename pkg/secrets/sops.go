// Package secrets encrypts and decrypts the values repo's secrets files with
// the SOPS library, in memory: plaintext never reaches the disk.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	"github.com/getsops/sops/v3/cmd/sops/common"
	"github.com/getsops/sops/v3/cmd/sops/formats"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keyservice"
	"github.com/getsops/sops/v3/version"
)

// Errors a caller may want to tell apart. Each is wrapped with details.
var (
	// ErrNoKey: none of the keys the file was encrypted for is available.
	ErrNoKey = errors.New("no key available to decrypt the file")
	// ErrIntegrity: the file was changed after it was encrypted (MAC mismatch).
	ErrIntegrity = errors.New("integrity check failed (MAC mismatch): the file was changed after it was encrypted")
	// ErrNotEncrypted: the data carries no SOPS metadata.
	ErrNotEncrypted = errors.New("not a SOPS-encrypted file")
	// ErrNoRule: .sops.yaml has no creation rule for the file.
	ErrNoRule = errors.New("no creation rule matches")
	// ErrAlreadyEncrypted: encrypting data that is already encrypted.
	ErrAlreadyEncrypted = errors.New("already encrypted")
)

// Sops decrypts and encrypts YAML documents with the SOPS library. Keys come
// from where SOPS itself looks (SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, the sops age
// key file in the user config dir, cloud KMS credentials, gpg, Vault).
type Sops struct{}

func keyServices() []keyservice.KeyServiceClient {
	return []keyservice.KeyServiceClient{keyservice.NewLocalClient()}
}

// Decrypt returns the plaintext YAML of an encrypted document after checking
// its MAC. path is used for messages only. Errors never carry plaintext.
func (Sops) Decrypt(ctx context.Context, path string, data []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	store := common.StoreForFormat(formats.Yaml, config.NewStoresConfig())
	tree, err := store.LoadEncryptedFile(data)
	if err != nil {
		if errors.Is(err, sops.MetadataNotFound) {
			return nil, ErrNotEncrypted
		}
		return nil, fmt.Errorf("read SOPS metadata: %w", err)
	}
	key, err := tree.Metadata.GetDataKeyWithKeyServices(keyServices(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w (encrypted for %s)%s", ErrNoKey, recipients(tree.Metadata), keyHint(err))
	}
	cipher := aes.NewCipher()
	mac, err := tree.Decrypt(key, cipher)
	if err != nil {
		// A value that no longer decrypts was changed by hand.
		return nil, fmt.Errorf("%w: a value does not decrypt", ErrIntegrity)
	}
	stored, err := cipher.Decrypt(tree.Metadata.MessageAuthenticationCode, key, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil || stored != mac {
		return nil, ErrIntegrity
	}
	plain, err := store.EmitPlainFile(tree.Branches)
	if err != nil {
		return nil, fmt.Errorf("emit plaintext: %w", err)
	}
	return plain, nil
}

// recipients lists the keys a file was encrypted for, for messages.
func recipients(md sops.Metadata) string {
	var out []string
	for _, g := range md.KeyGroups {
		for _, k := range g {
			out = append(out, k.TypeToIdentifier()+" "+k.ToString())
		}
	}
	if len(out) == 0 {
		return "no key"
	}
	return strings.Join(out, ", ")
}

// keyHint condenses SOPS's per-key report into one line.
func keyHint(err error) string {
	var ue sops.UserError
	msg := err.Error()
	if errors.As(err, &ue) {
		msg = ue.UserError()
	}
	// SOPS wraps its report in boxes of "| " lines: make it one line.
	msg = strings.Join(strings.Fields(strings.ReplaceAll(msg, "|", " ")), " ")
	switch {
	case strings.Contains(msg, "did not match any of the recipients") || strings.Contains(msg, "no identity matched"):
		return ": none of the age identities given matches (wrong SOPS_AGE_KEY / SOPS_AGE_KEY_FILE?)"
	case strings.Contains(msg, "failed to open") || strings.Contains(msg, "failed to load age identities") || strings.Contains(msg, "no age identity"):
		return ": no age identity found; set SOPS_AGE_KEY_FILE (or SOPS_AGE_KEY) to the repo's key"
	}
	return ": set SOPS_AGE_KEY_FILE, SOPS_AGE_KEY or the credentials of the KMS the file names"
}

// Rule is the SOPS creation rule that applies to one file.
type Rule struct {
	conf   *config.Config
	stores *config.StoresConfig
}

// RuleFor loads the creation rule of .sops.yaml (at sopsConfig) for the file
// at path.
func RuleFor(sopsConfig, path string) (*Rule, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	stores, err := config.LoadStoresConfig(sopsConfig)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", filepath.Base(sopsConfig), cleanConfigError(err))
	}
	conf, err := config.LoadCreationRuleForFile(sopsConfig, abs, nil)
	if err != nil {
		if strings.Contains(err.Error(), "no matching creation rules") {
			return nil, fmt.Errorf("%w in %s for %s (check the path_regex of its creation_rules)", ErrNoRule, filepath.Base(sopsConfig), filepath.Base(path))
		}
		return nil, fmt.Errorf("%s: %s", filepath.Base(sopsConfig), cleanConfigError(err))
	}
	if conf == nil {
		return nil, fmt.Errorf("%w: %s has no creation_rules", ErrNoRule, filepath.Base(sopsConfig))
	}
	if len(conf.KeyGroups) == 0 {
		return nil, fmt.Errorf("%s: the creation rule for %s names no key", filepath.Base(sopsConfig), filepath.Base(path))
	}
	return &Rule{conf: conf, stores: stores}, nil
}

func cleanConfigError(err error) string {
	return strings.TrimPrefix(err.Error(), "error loading config: ")
}

// Encrypt encrypts a plaintext YAML document following the rule. path (the
// file the result will be stored in) is recorded by SOPS for its audit log
// only.
func (Sops) Encrypt(ctx context.Context, rule *Rule, path string, plain []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	store := common.StoreForFormat(formats.Yaml, rule.stores)
	branches, err := store.LoadPlainFile(plain)
	if err != nil {
		return nil, fmt.Errorf("parse plaintext: %s", redactYAMLError(err))
	}
	if len(branches) == 0 {
		return nil, errors.New("the file is empty: nothing to encrypt")
	}
	if store.HasSopsTopLevelKey(branches[0]) {
		return nil, ErrAlreadyEncrypted
	}
	abs, _ := filepath.Abs(path)
	c := rule.conf
	tree := sops.Tree{
		Branches: branches,
		Metadata: sops.Metadata{
			KeyGroups:               c.KeyGroups,
			UnencryptedSuffix:       c.UnencryptedSuffix,
			EncryptedSuffix:         c.EncryptedSuffix,
			UnencryptedRegex:        c.UnencryptedRegex,
			EncryptedRegex:          c.EncryptedRegex,
			UnencryptedCommentRegex: c.UnencryptedCommentRegex,
			EncryptedCommentRegex:   c.EncryptedCommentRegex,
			MACOnlyEncrypted:        c.MACOnlyEncrypted,
			Version:                 version.Version,
			ShamirThreshold:         c.ShamirThreshold,
		},
		FilePath: abs,
	}
	dataKey, errs := tree.GenerateDataKeyWithKeyServices(keyServices())
	if len(errs) > 0 {
		return nil, fmt.Errorf("generate data key for %s: %v", recipients(tree.Metadata), errs)
	}
	if err := common.EncryptTree(common.EncryptTreeOpts{DataKey: dataKey, Tree: &tree, Cipher: aes.NewCipher()}); err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	out, err := store.EmitEncryptedFile(tree)
	if err != nil {
		return nil, fmt.Errorf("emit encrypted file: %w", err)
	}
	return out, nil
}

// Canonical returns plaintext as SOPS would emit it after a round trip, so
// that two plaintexts can be compared the way SOPS sees them.
func Canonical(plain []byte) ([]byte, error) {
	store := common.StoreForFormat(formats.Yaml, config.NewStoresConfig())
	branches, err := store.LoadPlainFile(plain)
	if err != nil {
		return nil, fmt.Errorf("parse plaintext: %s", redactYAMLError(err))
	}
	return store.EmitPlainFile(branches)
}

// redactYAMLError keeps the position of a YAML error but drops any quoted
// excerpt of the document, which could be a secret.
func redactYAMLError(err error) string {
	msg := err.Error()
	if i := strings.IndexAny(msg, "`\""); i >= 0 {
		msg = msg[:i] + "<redacted>"
	}
	return msg
}
