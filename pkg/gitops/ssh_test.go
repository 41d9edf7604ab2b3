package gitops

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshGitServer is a small ssh server on 127.0.0.1 that lets one key in
// and runs the real git-upload-pack / git-receive-pack for the exec
// requests of git clients, as sshd does for git.
type sshGitServer struct {
	addr        string
	hostKey     ssh.PublicKey
	connections atomic.Int32
}

func startSSHGitServer(t *testing.T, authorized ssh.PublicKey) *sshGitServer {
	t.Helper()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	signer, err := ssh.NewSignerFromKey(hostPriv)
	require.NoError(t, err)
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(c ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if c.User() == "git" && bytes.Equal(k.Marshal(), authorized.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("key not authorized")
	}}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	s := &sshGitServer{addr: ln.Addr().String(), hostKey: signer.PublicKey()}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.connections.Add(1)
			go s.serve(conn, cfg)
		}
	}()
	return s
}

func (s *sshGitServer) serve(conn net.Conn, cfg *ssh.ServerConfig) {
	defer conn.Close()
	_, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go s.session(ch, creqs)
	}
}

func (s *sshGitServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" {
			_ = req.Reply(false, nil)
			continue
		}
		var payload struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
			_ = req.Reply(false, nil)
			return
		}
		prog, arg, _ := strings.Cut(payload.Command, " ")
		if prog != "git-upload-pack" && prog != "git-receive-pack" {
			_ = req.Reply(false, nil)
			return
		}
		_ = req.Reply(true, nil)
		cmd := exec.Command(prog, strings.Trim(arg, "'"))
		cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return
		}
		code := uint32(0)
		if err := cmd.Start(); err != nil {
			code = 127
		} else {
			go func() { _, _ = io.Copy(stdin, ch); stdin.Close() }()
			if err := cmd.Wait(); err != nil {
				code = 1
			}
		}
		_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Code uint32 }{code}))
		return
	}
}

func writeKey(t *testing.T, dir, name string) (string, ssh.PublicKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, name)
	require.NoError(t, err)
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(block), 0o600))
	signer, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	return p, signer.PublicKey()
}

// A push over ssh with a key file, against git's own upload-pack and
// receive-pack, with the host key checked against known_hosts.
func TestPushSSH(t *testing.T) {
	isolateHome(t)
	keys := t.TempDir()
	key, pub := writeKey(t, keys, "id_ed25519")
	otherKey, _ := writeKey(t, keys, "id_other")
	srv := startSSHGitServer(t, pub)
	knownHosts := filepath.Join(keys, "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(srv.addr)}, srv.hostKey)
	require.NoError(t, os.WriteFile(knownHosts, []byte(line+"\n"), 0o600))
	t.Setenv("SSH_KNOWN_HOSTS", knownHosts)

	bare, _, work := seeded(t)
	sshURL := "ssh://git@" + srv.addr + bare
	r, err := Open(work)
	require.NoError(t, err)
	write(t, work, "a.yaml", "a: over ssh\n")
	commitAll(t, r, "over ssh")

	t.Run("wrong key", func(t *testing.T) {
		before := srv.connections.Load()
		rem, err := r.ResolveRemote(RemoteSpec{URL: sshURL, Branch: "main", SSHKeyFile: otherKey})
		require.NoError(t, err)
		_, err = r.Push(context.Background(), SyncOptions{Remote: rem, Retry: fastRetry})
		require.ErrorIs(t, err, ErrAuth)
		assert.Equal(t, int32(1), srv.connections.Load()-before, "an auth failure is not retried")
	})
	t.Run("unknown host key", func(t *testing.T) {
		empty := filepath.Join(keys, "empty_known_hosts")
		require.NoError(t, os.WriteFile(empty, nil, 0o600))
		t.Setenv("SSH_KNOWN_HOSTS", empty)
		rem, err := r.ResolveRemote(RemoteSpec{URL: sshURL, Branch: "main", SSHKeyFile: key})
		require.NoError(t, err)
		_, err = r.Push(context.Background(), SyncOptions{Remote: rem, Retry: fastRetry})
		require.ErrorContains(t, err, "key is unknown")
	})
	t.Run("right key", func(t *testing.T) {
		rem, err := r.ResolveRemote(RemoteSpec{URL: sshURL, Branch: "main", SSHKeyFile: key})
		require.NoError(t, err)
		res, err := r.Push(context.Background(), SyncOptions{Remote: rem, Retry: fastRetry})
		require.NoError(t, err)
		assert.True(t, res.Pushed)
		assert.Equal(t, "over ssh\nseed", gitc(t, bare, "log", "--format=%s", "main"))
		assert.Equal(t, "a: over ssh", gitc(t, bare, "show", "main:a.yaml"))
	})
}
