package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/getsops/sops/v3/cmd/sops/common"
	"github.com/getsops/sops/v3/cmd/sops/formats"
	"github.com/getsops/sops/v3/config"
	"go.yaml.in/yaml/v3"
)

// SecretsPathRegex is the path_regex of the creation rule otomi writes: every
// secrets.*.yaml under env/.
const SecretsPathRegex = `^env/(.*/)?secrets\.[^/]+\.yaml$`

// Providers are the kinds of key kms.sops.provider may name, each with the
// field of a .sops.yaml creation rule that lists its keys.
var Providers = map[string]string{
	"age":   "age",
	"aws":   "kms",
	"azure": "azure_keyvault",
	"gcp":   "gcp_kms",
	"pgp":   "pgp",
	"vault": "hc_vault_transit_uri",
}

// ProviderNames lists the providers, sorted.
func ProviderNames() []string {
	out := make([]string, 0, len(Providers))
	for p := range Providers {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// KMS is the key setup of a values repo: one provider and its key ids (age
// recipients, AWS KMS ARNs, GCP key resource ids, Azure Key Vault key URLs,
// Vault transit URIs or PGP fingerprints).
type KMS struct {
	Provider string
	Keys     []string
}

// SopsConfig renders the .sops.yaml of a values repo for k: one creation
// rule for the secrets files.
func SopsConfig(k KMS) ([]byte, error) {
	field, ok := Providers[k.Provider]
	if !ok {
		return nil, fmt.Errorf("unknown KMS provider %q (expected one of %s)", k.Provider, strings.Join(ProviderNames(), ", "))
	}
	if len(k.Keys) == 0 {
		return nil, fmt.Errorf("no %s key to encrypt the secrets files for", k.Provider)
	}
	for _, key := range k.Keys {
		if strings.ContainsAny(key, ", \n") || key == "" {
			return nil, fmt.Errorf("invalid %s key id %q", k.Provider, key)
		}
	}
	rule := yaml.Node{Kind: yaml.MappingNode}
	add := func(key, val string) {
		rule.Content = append(rule.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Value: key},
			&yaml.Node{Kind: yaml.ScalarNode, Value: val})
	}
	add("path_regex", SecretsPathRegex)
	add(field, strings.Join(k.Keys, ","))
	doc := map[string]any{"creation_rules": []*yaml.Node{&rule}}
	var buf bytes.Buffer
	buf.WriteString("# SOPS creation rules of this values repo, written by otomi bootstrap from kms.sops:\n")
	buf.WriteString("# every secrets.*.yaml under env/ is encrypted for these keys.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ConfigRules returns the creation rules that the .sops.yaml content conf
// (not written yet) applies to files relative to the repo root. It parses
// conf with the sops library itself, from a private temporary copy (conf
// holds key ids only, never a secret); call cleanup when done.
func ConfigRules(conf []byte) (rules RuleSource, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "otomi-sops-config-")
	if err != nil {
		return nil, nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	p := filepath.Join(dir, ".sops.yaml")
	if err := os.WriteFile(p, conf, 0o600); err != nil {
		cleanup()
		return nil, nil, err
	}
	cache := map[string]*Rule{}
	rules = func(rel string) (*Rule, error) {
		if r, ok := cache[rel]; ok {
			return r, nil
		}
		r, err := RuleFor(p, filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return nil, err
		}
		cache[rel] = r
		return r, nil
	}
	return rules, cleanup, nil
}

// Recipients lists the keys the rule encrypts for, as "type:id", sorted.
func (r *Rule) Recipients() []string {
	var out []string
	for _, g := range r.conf.KeyGroups {
		for _, k := range g {
			out = append(out, k.TypeToIdentifier()+":"+k.ToString())
		}
	}
	sort.Strings(out)
	return out
}

// FileRecipients lists the keys an encrypted document was encrypted for, as
// "type:id", sorted. Nothing is decrypted.
func FileRecipients(data []byte) ([]string, error) {
	store := common.StoreForFormat(formats.Yaml, config.NewStoresConfig())
	tree, err := store.LoadEncryptedFile(data)
	if err != nil {
		return nil, fmt.Errorf("read SOPS metadata: %w", err)
	}
	var out []string
	for _, g := range tree.Metadata.KeyGroups {
		for _, k := range g {
			out = append(out, k.TypeToIdentifier()+":"+k.ToString())
		}
	}
	sort.Strings(out)
	return out, nil
}

// AgeKey is an age key pair.
type AgeKey struct {
	// Identity is the private key (the age secret key line).
	Identity string
	// Recipient is the public key, age1...
	Recipient string
}

// GenerateAgeKey creates a new X25519 age key pair.
func GenerateAgeKey() (*AgeKey, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("generate age key: %w", err)
	}
	return &AgeKey{Identity: id.String(), Recipient: id.Recipient().String()}, nil
}

// KeyFile renders the key in the format of age-keygen, which sops reads
// from SOPS_AGE_KEY_FILE.
func (k *AgeKey) KeyFile(created time.Time) []byte {
	return fmt.Appendf(nil, "# created: %s\n# public key: %s\n%s\n", created.UTC().Format(time.RFC3339), k.Recipient, k.Identity)
}

// AgeRecipients returns the public keys of the X25519 identities in data
// (the content of an age key file or of SOPS_AGE_KEY), in order.
func AgeRecipients(data []byte) ([]string, error) {
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		// age's parse errors quote no key material, but keep it short.
		return nil, errors.New("not an age key file (expected age secret key lines)")
	}
	var out []string
	for _, id := range ids {
		if x, ok := id.(*age.X25519Identity); ok {
			out = append(out, x.Recipient().String())
		}
	}
	if len(out) == 0 {
		return nil, errors.New("holds no age X25519 key")
	}
	return out, nil
}

// AgeKeyDir is where otomi keeps the age keys it generates, one file per
// cluster: $XDG_CONFIG_HOME/otomi/keys (the user config dir of the OS).
func AgeKeyDir() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("locate the user config dir for the age key: %w", err)
	}
	return filepath.Join(dir, "otomi", "keys"), nil
}

// The variables sops reads age private keys from.
const (
	AgeKeyEnv     = "SOPS_AGE_KEY"
	AgeKeyFileEnv = "SOPS_AGE_KEY_FILE"
)

// UseAgeKeyFile points sops at the age key file path for this process (the
// sops library reads SOPS_AGE_KEY_FILE when it decrypts) and returns what
// restores the variable. Only a command calls it, before its work starts.
func UseAgeKeyFile(path string) (restore func()) {
	old, had := os.LookupEnv(AgeKeyFileEnv)
	os.Setenv(AgeKeyFileEnv, path)
	return func() {
		if had {
			os.Setenv(AgeKeyFileEnv, old)
		} else {
			os.Unsetenv(AgeKeyFileEnv)
		}
	}
}
