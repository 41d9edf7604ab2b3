package secrets

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/otomi/otomi/pkg/values"
)

// Outcome says what EncryptFile did.
type Outcome int

const (
	// Encrypted: the plaintext was encrypted and the file replaced.
	Encrypted Outcome = iota
	// AlreadyEncrypted: the file was encrypted already; left as it was.
	AlreadyEncrypted
	// Restored: the plaintext equals the committed version, whose
	// encrypted bytes were put back, so git sees no change.
	Restored
)

func (o Outcome) String() string {
	switch o {
	case AlreadyEncrypted:
		return "already encrypted"
	case Restored:
		return "unchanged since the last commit: restored its committed encryption"
	default:
		return "encrypted"
	}
}

// Codec decrypts and encrypts documents; Sops is the real one.
type Codec interface {
	Decrypt(ctx context.Context, path string, data []byte) ([]byte, error)
	Encrypt(ctx context.Context, rule *Rule, path string, plain []byte) ([]byte, error)
}

// Committed returns the content of a file at the last commit (ok false
// when there is none).
type Committed func(path string) (data []byte, ok bool, err error)

// EncryptFile encrypts the plaintext secrets file at path in place,
// following rule. When the file equals (as SOPS sees it) the decrypted
// committed version, the committed ciphertext is restored instead, so that
// an unchanged secret causes no diff. The plaintext is replaced atomically:
// on any error the file is left untouched.
func EncryptFile(ctx context.Context, s Codec, rule *Rule, path string, committed Committed) (Outcome, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	if values.IsEncrypted(data) {
		return AlreadyEncrypted, nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if committed != nil {
		if prev, ok, err := committed(path); err == nil && ok && values.IsEncrypted(prev) {
			if prevPlain, err := s.Decrypt(ctx, path, prev); err == nil {
				if now, err := Canonical(data); err == nil && bytes.Equal(now, prevPlain) {
					return Restored, WriteFileAtomic(path, prev, st.Mode().Perm())
				}
			}
		}
	}
	out, err := s.Encrypt(ctx, rule, path, data)
	if err != nil {
		return 0, err
	}
	return Encrypted, WriteFileAtomic(path, out, st.Mode().Perm())
}

// WriteFileAtomic replaces path with data through a temporary file in the
// same folder and a rename, so a reader never sees a partial file. Only
// ciphertext or non-secret data may be written this way.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".otomi-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
