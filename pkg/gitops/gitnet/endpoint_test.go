package gitnet

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

func TestMaskURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://user:s3cr3t@git.example.com/org/values.git", "https://user:***@git.example.com/org/values.git"},
		{"http://otomi-admin:p%40ss@127.0.0.1:3000/otomi/values.git", "http://otomi-admin:***@127.0.0.1:3000/otomi/values.git"},
		{"https://ghp_token123@github.com/org/values.git", "https://***@github.com/org/values.git"},
		{"https://:token@host/x.git", "https://:***@host/x.git"},
		{"ssh://git@host:22/org/values.git", "ssh://git@host:22/org/values.git"},
		{"ssh://git:pw@host/org/values.git", "ssh://git:***@host/org/values.git"},
		{"git@github.com:org/values.git", "git@github.com:org/values.git"},
		{"https://git.example.com/org/values.git", "https://git.example.com/org/values.git"},
		{"file:///srv/git/values.git", "file:///srv/git/values.git"},
		{`Get "https://u:pw@h/x/info/refs": dial tcp`, `Get "https://u:***@h/x/info/refs": dial tcp`},
		{"two: https://a:b@h1/x and http://c:d@h2/y", "two: https://a:***@h1/x and http://c:***@h2/y"},
		{"no url here: user:pass@host", "no url here: user:pass@host"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			assert.Equal(t, tc.want, MaskURL(tc.in))
		})
	}
}

func TestParseEndpoint(t *testing.T) {
	abs, err := filepath.Abs("rel/repo.git")
	require.NoError(t, err)
	for _, tc := range []struct {
		in   string
		want Endpoint
		str  string
		err  string
	}{
		{in: "https://user:pw@git.example.com/org/v.git", want: Endpoint{URL: "https://git.example.com/org/v.git", Scheme: "https", Host: "git.example.com", Username: "user", Password: "pw"}, str: "https://user:***@git.example.com/org/v.git"},
		{in: "http://127.0.0.1:8080/v.git", want: Endpoint{URL: "http://127.0.0.1:8080/v.git", Scheme: "http", Host: "127.0.0.1:8080"}, str: "http://127.0.0.1:8080/v.git"},
		{in: "ssh://git@host:2222/org/v.git", want: Endpoint{URL: "ssh://git@host:2222/org/v.git", Scheme: "ssh", Host: "host:2222", Username: "git"}, str: "ssh://git@host:2222/org/v.git"},
		{in: "git@github.com:org/v.git", want: Endpoint{URL: "git@github.com:org/v.git", Scheme: "ssh", Host: "github.com", Username: "git"}, str: "git@github.com:org/v.git"},
		{in: "file:///srv/v.git", want: Endpoint{URL: "file:///srv/v.git", Scheme: "file"}, str: "file:///srv/v.git"},
		{in: "/srv/v.git", want: Endpoint{URL: "file:///srv/v.git", Scheme: "file"}, str: "file:///srv/v.git"},
		{in: "rel/repo.git", want: Endpoint{URL: "file://" + abs, Scheme: "file"}, str: "file://" + abs},
		{in: "ftp://u:secret@host/x", err: "unsupported scheme"},
		{in: "https://u:secret@host:badport/x", err: "not a valid URL"},
		{in: "", err: "empty remote URL"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseEndpoint(tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				assert.NotContains(t, err.Error(), "secret")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.str, got.String())
		})
	}
}

func TestScrubber(t *testing.T) {
	s := NewScrubber("p@ss word", "")
	got := s.String("auth p@ss word, escaped p%40ss+word and p@ss%20word at https://u:p%40ss@h/x")
	assert.Equal(t, "auth ***, escaped *** and *** at https://u:***@h/x", got)

	base := fmt.Errorf("wrap: %w", transport.ErrAuthenticationRequired)
	err := s.Error(fmt.Errorf("x p@ss word: %w", base))
	assert.Equal(t, "x ***: wrap: authentication required", err.Error())
	assert.ErrorIs(t, err, transport.ErrAuthenticationRequired, "sentinels stay visible")
	assert.Nil(t, errors.Unwrap(err), "the unscrubbed text cannot be reached by unwrapping")
}

func TestSSHAuthFromKeyFile(t *testing.T) {
	dir := t.TempDir()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "test")
	require.NoError(t, err)
	plainKey := filepath.Join(dir, "id_ed25519")
	require.NoError(t, os.WriteFile(plainKey, pem.EncodeToMemory(block), 0o600))
	encBlock, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte("open sesame"))
	require.NoError(t, err)
	encKey := filepath.Join(dir, "id_encrypted")
	require.NoError(t, os.WriteFile(encKey, pem.EncodeToMemory(encBlock), 0o600))
	wantPub, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)

	ep, err := ParseEndpoint("ssh://deploy@git.example.com:2222/org/values.git")
	require.NoError(t, err)
	auth, err := ep.Auth(Credentials{SSHKeyFile: plainKey})
	require.NoError(t, err)
	pk, ok := auth.(*gitssh.PublicKeys)
	require.True(t, ok, "got %T", auth)
	assert.Equal(t, "deploy", pk.User)
	assert.Equal(t, wantPub.Marshal(), pk.Signer.PublicKey().Marshal())

	scp, err := ParseEndpoint("git.example.com:org/values.git")
	require.NoError(t, err)
	auth, err = scp.Auth(Credentials{SSHKeyFile: encKey, SSHKeyPassphrase: "open sesame"})
	require.NoError(t, err)
	assert.Equal(t, "git", auth.(*gitssh.PublicKeys).User)
	assert.Equal(t, wantPub.Marshal(), auth.(*gitssh.PublicKeys).Signer.PublicKey().Marshal())

	_, err = scp.Auth(Credentials{SSHKeyFile: encKey})
	require.ErrorContains(t, err, "OTOMI_GIT_SSH_KEY_PASSPHRASE")
	_, err = scp.Auth(Credentials{SSHKeyFile: encKey, SSHKeyPassphrase: "wrong"})
	require.ErrorContains(t, err, "passphrase is wrong")
	_, err = scp.Auth(Credentials{SSHKeyFile: filepath.Join(dir, "missing")})
	require.ErrorContains(t, err, "no such file")
	notKey := filepath.Join(dir, "not-a-key")
	require.NoError(t, os.WriteFile(notKey, []byte("hello"), 0o600))
	_, err = scp.Auth(Credentials{SSHKeyFile: notKey})
	require.ErrorContains(t, err, "not a private key")

	// No key: go-git's default (the ssh agent).
	auth, err = scp.Auth(Credentials{})
	require.NoError(t, err)
	assert.Nil(t, auth)
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestTransient(t *testing.T) {
	status := func(code int) error {
		u, _ := url.Parse("https://h/x")
		return plumbing.NewUnexpectedError(&githttp.Err{Response: &http.Response{StatusCode: code, Request: &http.Request{URL: u}}})
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"503", status(503), true},
		{"502 wrapped", fmt.Errorf("fetch: %w", status(502)), true},
		{"429", status(429), true},
		{"400", status(400), false},
		{"connection refused", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, true},
		{"connection reset", plumbing.NewUnexpectedError(&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), true},
		{"timeout", &net.OpError{Op: "read", Err: timeoutErr{}}, true},
		{"truncated", fmt.Errorf("read pack: %w", io.ErrUnexpectedEOF), true},
		{"dns not found", &net.DNSError{Err: "no such host", Name: "nope.invalid", IsNotFound: true}, false},
		{"dns timeout", &net.DNSError{Err: "timeout", Name: "h", IsTimeout: true}, true},
		{"auth required", fmt.Errorf("%w: bad", transport.ErrAuthenticationRequired), false},
		{"forbidden", transport.ErrAuthorizationFailed, false},
		{"not found", transport.ErrRepositoryNotFound, false},
		{"rejected", errors.New("command error on refs/heads/main: pre-receive hook declined"), false},
		{"canceled", context.Canceled, false},
		{"nil", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Transient(tc.err))
		})
	}
}

func TestRetry(t *testing.T) {
	var retries []int
	r := Retry{Attempts: 4, Delay: time.Microsecond, OnRetry: func(a int, _ time.Duration, _ error) { retries = append(retries, a) }}
	calls := 0
	err := r.Do(context.Background(), func() error {
		calls++
		if calls < 3 {
			return io.ErrUnexpectedEOF
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 3, calls)
	assert.Equal(t, []int{1, 2}, retries)

	calls = 0
	err = r.Do(context.Background(), func() error { calls++; return transport.ErrAuthenticationRequired })
	require.ErrorIs(t, err, transport.ErrAuthenticationRequired)
	assert.Equal(t, 1, calls, "no retry on an auth error")

	calls = 0
	err = r.Do(context.Background(), func() error { calls++; return io.ErrUnexpectedEOF })
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, 4, calls, "gives up after Attempts")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	slow := Retry{Attempts: 3, Delay: time.Hour}
	err = slow.Do(ctx, func() error { return io.ErrUnexpectedEOF })
	require.ErrorIs(t, err, context.Canceled, "an interrupt ends the wait")
}
