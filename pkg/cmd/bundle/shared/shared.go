// Package shared holds what the bundle subcommands share: the registry
// client's options, key loading and the progress line.
package shared

import (
	"crypto/ed25519"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/otomi/otomi/pkg/bundle"
	"github.com/otomi/otomi/pkg/iostreams"
)

// Registry are the flags of a command that talks to a registry.
type Registry struct {
	Insecure bool
	Username string
	Password string
}

// Options returns the registry client's options: basic auth when a user
// is given, else the docker config's credentials; plain HTTP and
// unverified TLS with Insecure (loopback registries use HTTP anyway).
func (r Registry) Options() ([]remote.Option, []name.Option, http.RoundTripper) {
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	var nopts []name.Option
	if r.Insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for with --insecure
		nopts = append(nopts, name.Insecure)
	}
	ropts := []remote.Option{remote.WithUserAgent("otomi")}
	if r.Username != "" {
		ropts = append(ropts, remote.WithAuth(&authn.Basic{Username: r.Username, Password: r.Password}))
	} else {
		ropts = append(ropts, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	return ropts, nopts, tr
}

// PublicKey reads the public key file named by --key ("" gives nil).
func PublicKey(path string) (ed25519.PublicKey, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := bundle.ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return k, nil
}

// PrivateKey reads the private key file named by --sign-key.
func PrivateKey(path string) (ed25519.PrivateKey, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := bundle.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return k, nil
}

// ProgressLine draws progress on one line of stderr, on a terminal only.
type ProgressLine struct {
	mu    sync.Mutex
	w     io.Writer
	drawn bool
}

// NewProgress returns the progress line, nil when stderr is no terminal.
func NewProgress(ios *iostreams.IOStreams) *ProgressLine {
	if !ios.IsStderrTTY() {
		return nil
	}
	return &ProgressLine{w: ios.ErrOut}
}

// Func returns the callback the bundle package reports to (nil for nil).
func (p *ProgressLine) Func() func(bundle.Progress) {
	if p == nil {
		return nil
	}
	return p.update
}

func (p *ProgressLine) update(pr bundle.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := fmt.Sprintf("► %s %d/%d", pr.Phase, pr.Done, pr.Total)
	if pr.Bytes > 0 {
		line += fmt.Sprintf("  %s/%s", MB(pr.DoneBytes), MB(pr.Bytes))
	} else if pr.DoneBytes > 0 {
		line += "  " + MB(pr.DoneBytes)
	}
	if pr.Item != "" {
		item := pr.Item
		if len(item) > 50 {
			item = "…" + item[len(item)-49:]
		}
		line += "  " + item
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	p.drawn = true
}

// Done clears the line.
func (p *ProgressLine) Done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// MB formats a byte count.
func MB(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// ReadPassword reads a password from r (--password-stdin), without the
// trailing newline.
func ReadPassword(r io.Reader) (string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(data), "\r\n"), nil
}
