package bootstrap

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/otomi/otomi/pkg/secrets"
	"github.com/otomi/otomi/pkg/values"
)

// DefaultProvider is the KMS of a repo that names none.
const DefaultProvider = "age"

// AgeKeys says where age private keys come from: the variables sops reads,
// then the key otomi generated for the cluster in Dir.
type AgeKeys struct {
	// EnvKey is the content of SOPS_AGE_KEY.
	EnvKey string
	// EnvKeyFile is the path in SOPS_AGE_KEY_FILE.
	EnvKeyFile string
	// Dir holds the keys otomi generates, <cluster>.txt.
	Dir string
}

// KeyFile returns the path of the generated key of a cluster.
func (k AgeKeys) KeyFile(cluster string) string {
	if k.Dir == "" || cluster == "" {
		return ""
	}
	return filepath.Join(k.Dir, cluster+".txt")
}

// keysPointer is where the values keep a provider's key ids.
func keysPointer(provider string) string {
	if provider == "age" {
		return "/kms/sops/age/publicKeys"
	}
	return values.Pointer("kms", "sops", provider, "keys")
}

// kmsFlags puts --kms and --kms-key into the values.
func kmsFlags(fr values.Fragments, provider string, keys []string, isSecret func(string) bool, origins map[string]values.Origin) error {
	if provider != "" {
		if err := fr.Put("/kms/sops/provider", provider, isSecret); err != nil {
			return err
		}
		origins["/kms/sops/provider"] = values.Origin{File: "--kms"}
	}
	if len(keys) == 0 {
		return nil
	}
	p, _ := fr.Get("/kms/sops/provider")
	name, _ := p.(string)
	if name == "" {
		name = DefaultProvider
	}
	list := make([]any, len(keys))
	for i, k := range keys {
		list[i] = k
		origins[values.JoinIndex(keysPointer(name), i)] = values.Origin{File: "--kms-key"}
	}
	origins[keysPointer(name)] = values.Origin{File: "--kms-key"}
	return fr.Put(keysPointer(name), list, isSecret)
}

// newAgeKey is an age key bootstrap generated, to write outside the repo.
type newAgeKey struct {
	Path string
	Data []byte
}

// resolveKMS decides the keys the secrets files are encrypted for and
// records them in the values. With age, the public key of the private key
// at hand (SOPS_AGE_KEY, SOPS_AGE_KEY_FILE or the cluster's generated key)
// joins the repo's keys; with no key at all, a key pair is generated.
func resolveKMS(fr values.Fragments, cluster string, keys AgeKeys, isSecret func(string) bool, now time.Time) (secrets.KMS, *newAgeKey, string, error) {
	p, _ := fr.Get("/kms/sops/provider")
	provider, _ := p.(string)
	if provider == "" {
		provider = DefaultProvider
		if err := fr.Put("/kms/sops/provider", provider, isSecret); err != nil {
			return secrets.KMS{}, nil, "", err
		}
	}
	if _, ok := secrets.Providers[provider]; !ok {
		return secrets.KMS{}, nil, "", fmt.Errorf("unknown KMS provider %q", provider)
	}
	ids := stringList(fr, keysPointer(provider))
	var generated *newAgeKey
	keyFile := ""
	if provider == "age" {
		have, source, err := ageIdentities(keys, cluster)
		if err != nil {
			return secrets.KMS{}, nil, "", err
		}
		keyFile = source
		if len(have) == 0 && len(ids) == 0 {
			k, err := secrets.GenerateAgeKey()
			if err != nil {
				return secrets.KMS{}, nil, "", err
			}
			keyFile = keys.KeyFile(cluster)
			if keyFile == "" {
				return secrets.KMS{}, nil, "", errors.New("no place to keep a new age key: set XDG_CONFIG_HOME, or SOPS_AGE_KEY_FILE to an existing key")
			}
			generated = &newAgeKey{Path: keyFile, Data: k.KeyFile(now)}
			have = []string{k.Recipient}
		}
		if len(have) > 0 && !slices.ContainsFunc(have, func(r string) bool { return slices.Contains(ids, r) }) {
			ids = append(ids, have[0])
		}
		list := make([]any, len(ids))
		for i, id := range ids {
			list[i] = id
		}
		if err := fr.Put(keysPointer(provider), list, isSecret); err != nil {
			return secrets.KMS{}, nil, "", err
		}
	}
	if len(ids) == 0 {
		return secrets.KMS{}, nil, "", fmt.Errorf("no %s key to encrypt the secrets files for: give its id with --kms-key (or in kms.sops.%s.keys)", provider, provider)
	}
	return secrets.KMS{Provider: provider, Keys: ids}, generated, keyFile, nil
}

// ageIdentities returns the public keys of the age private keys at hand and
// where they came from.
func ageIdentities(keys AgeKeys, cluster string) ([]string, string, error) {
	if keys.EnvKey != "" {
		r, err := secrets.AgeRecipients([]byte(keys.EnvKey))
		if err != nil {
			return nil, "", fmt.Errorf("SOPS_AGE_KEY: %w", err)
		}
		return r, "SOPS_AGE_KEY", nil
	}
	path := keys.EnvKeyFile
	if path == "" {
		path = keys.KeyFile(cluster)
		if path == "" {
			return nil, "", nil
		}
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, "", nil
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("age key file: %w", err)
	}
	r, err := secrets.AgeRecipients(data)
	if err != nil {
		return nil, "", fmt.Errorf("age key file %s: %w", path, err)
	}
	return r, path, nil
}

func stringList(fr values.Fragments, ptr string) []string {
	v, _ := fr.Get(ptr)
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		if s, ok := x.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ClusterKeyFile returns the key otomi generated for the cluster of the
// repo at envDir, when it exists and no SOPS_AGE_KEY(_FILE) is set: the
// key that decrypts the repo's secrets.
func ClusterKeyFile(keys AgeKeys, envDir string) string {
	if keys.EnvKey != "" || keys.EnvKeyFile != "" {
		return ""
	}
	_, env, err := locate(envDir)
	if err != nil {
		return ""
	}
	p := keys.KeyFile(earlyClusterName(nil, env))
	if st, err := os.Stat(p); p == "" || err != nil || !st.Mode().IsRegular() {
		return ""
	}
	return p
}
