package bundle

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// GenerateKey returns a new ed25519 key pair as PEM: the private key in
// PKCS#8 ("PRIVATE KEY"), the public key in PKIX ("PUBLIC KEY"), the
// formats of `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout`.
func GenerateKey() (private, public []byte, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	p8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	pk, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pk}), nil
}

// ParsePrivateKey reads an ed25519 private key in PKCS#8 PEM.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PEM \"PRIVATE KEY\" (PKCS#8) block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T key, want ed25519", k)
	}
	return priv, nil
}

// ParsePublicKey reads an ed25519 public key in PKIX PEM.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM \"PUBLIC KEY\" block")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T key, want ed25519", k)
	}
	return pub, nil
}

// checkSignature checks the ed25519 signature (64 raw bytes, as
// `openssl pkeyutl -sign -rawin` writes it) of bundle.json.
func checkSignature(pub ed25519.PublicKey, manifest, sig []byte) error {
	if sig == nil {
		return fmt.Errorf("%s: the bundle is not signed (no %s)", ManifestFile, SignatureFile)
	}
	if !ed25519.Verify(pub, manifest, sig) {
		return fmt.Errorf("%s: the signature (%s) does not match the public key", ManifestFile, SignatureFile)
	}
	return nil
}
