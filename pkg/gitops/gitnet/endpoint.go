// Package gitnet is the network side of git for otomi: remote URLs and their
// credentials (masked in everything people see), go-git auth methods,
// retries of transient network errors, and an in-process server for
// file:// remotes, so that no git binary is needed.
package gitnet

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// Endpoint is a remote URL split into the address go-git is given (never
// holding a password) and the credentials that were written into it.
type Endpoint struct {
	// URL is the address without password (and, for HTTP(S), without user).
	URL string
	// Scheme is http, https, ssh, file or git.
	Scheme string
	// Host is the host (with port) of a network remote.
	Host string
	// Username and Password come from the userinfo of the URL as written.
	Username, Password string
}

var scpLike = regexp.MustCompile(`^(?:([^@/]+)@)?([^:/\s]+):([^\\].*)$`)

// ParseEndpoint reads a remote URL: https://, http://, ssh://, scp-like
// user@host:path, file:// or a local path.
func ParseEndpoint(raw string) (Endpoint, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Endpoint{}, errors.New("empty remote URL")
	}
	if !strings.Contains(raw, "://") {
		if m := scpLike.FindStringSubmatch(raw); m != nil && !strings.Contains(strings.SplitN(raw, ":", 2)[0], "/") {
			return Endpoint{URL: raw, Scheme: "ssh", Host: m[2], Username: m[1]}, nil
		}
		abs, err := filepath.Abs(raw)
		if err != nil {
			return Endpoint{}, fmt.Errorf("remote %s: %w", raw, err)
		}
		return Endpoint{URL: "file://" + filepath.ToSlash(abs), Scheme: "file"}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes its input in the error: it may hold a password.
		return Endpoint{}, fmt.Errorf("remote %s is not a valid URL", MaskURL(raw))
	}
	e := Endpoint{Scheme: strings.ToLower(u.Scheme), Host: u.Host}
	switch e.Scheme {
	case "http", "https", "ssh", "file", "git":
	default:
		return Endpoint{}, fmt.Errorf("remote %s: unsupported scheme %q (use https, http, ssh or file)", MaskURL(raw), u.Scheme)
	}
	if u.User != nil {
		e.Username = u.User.Username()
		e.Password, _ = u.User.Password()
	}
	switch e.Scheme {
	case "http", "https":
		u.User = nil
	case "ssh":
		if e.Username != "" {
			u.User = url.User(e.Username)
		}
	default:
		u.User = nil
	}
	e.URL = u.String()
	return e, nil
}

// Credentials for a remote. Which ones apply depends on the scheme.
type Credentials struct {
	// Username and Password (or token) for HTTP(S) basic auth.
	Username, Password string
	// SSHKeyFile is a private key for ssh remotes; SSHKeyPassphrase
	// unlocks it when it is encrypted.
	SSHKeyFile, SSHKeyPassphrase string
}

// Auth builds the go-git auth method of the endpoint from c. nil means
// none: anonymous HTTP(S), file, or the ssh agent for ssh remotes.
func (e Endpoint) Auth(c Credentials) (transport.AuthMethod, error) {
	switch e.Scheme {
	case "http", "https":
		if c.Username == "" && c.Password == "" {
			return nil, nil
		}
		user := c.Username
		if user == "" {
			user = "git" // a token alone: servers ignore the user name
		}
		return &githttp.BasicAuth{Username: user, Password: c.Password}, nil
	case "ssh":
		user := e.Username
		if user == "" {
			user = c.Username
		}
		if user == "" {
			user = "git"
		}
		if c.SSHKeyFile != "" {
			auth, err := gitssh.NewPublicKeysFromFile(user, c.SSHKeyFile, c.SSHKeyPassphrase)
			if err != nil {
				// The key's bytes never reach the message: only its path.
				return nil, fmt.Errorf("ssh key %s: %s", c.SSHKeyFile, sshKeyError(err, c.SSHKeyPassphrase))
			}
			return auth, nil
		}
		if c.Password != "" {
			return &gitssh.Password{User: user, Password: c.Password}, nil
		}
		return nil, nil
	default:
		return nil, nil
	}
}

func sshKeyError(err error, passphrase string) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "empty password"), strings.Contains(msg, "passphrase protected"),
		passphrase == "" && strings.Contains(msg, "passphrase"):
		return "the key is encrypted: set OTOMI_GIT_SSH_KEY_PASSPHRASE"
	case strings.Contains(msg, "password incorrect"), strings.Contains(msg, "passphrase"):
		return "the passphrase is wrong"
	case strings.Contains(msg, "no such file"):
		return "no such file"
	case strings.Contains(msg, "no key found"):
		return "not a private key (expected an OpenSSH or PEM private key)"
	}
	return "cannot read the private key"
}

// String is the endpoint for people: the URL with the user name of
// HTTP(S) credentials and the password masked.
func (e Endpoint) String() string {
	if (e.Scheme == "http" || e.Scheme == "https") && (e.Username != "" || e.Password != "") {
		u, err := url.Parse(e.URL)
		if err == nil {
			if e.Username != "" && e.Password != "" {
				return strings.Replace(u.String(), "://", "://"+url.PathEscape(e.Username)+":***@", 1)
			}
			return strings.Replace(u.String(), "://", "://***@", 1)
		}
	}
	return e.URL
}

// SameHost reports whether both endpoints are network remotes on the same
// scheme and host, so that credentials meant for one may be sent to the
// other.
func (e Endpoint) SameHost(o Endpoint) bool {
	return e.Host != "" && strings.EqualFold(e.Host, o.Host) && e.Scheme == o.Scheme
}

var userinfoInURL = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)([^/\s@:]*)(:[^/\s@]*)?@`)

// MaskURL masks the credentials of every URL in s: a password becomes ***
// (https://user:***@host/...), and a lone HTTP(S) user name (often a token)
// becomes ***. ssh user names (git@host) are not secret and stay.
func MaskURL(s string) string {
	return userinfoInURL.ReplaceAllStringFunc(s, func(m string) string {
		sub := userinfoInURL.FindStringSubmatch(m)
		scheme, user, pass := sub[1], sub[2], sub[3]
		switch {
		case pass != "":
			return scheme + user + ":***@"
		case strings.HasPrefix(strings.ToLower(scheme), "http"):
			return scheme + "***@"
		default:
			return m
		}
	})
}

// Scrubber removes credentials from text: URLs are masked and every known
// secret (in plain, URL-escaped and base64 basic-auth form) becomes ***.
type Scrubber struct {
	secrets []string
}

// NewScrubber returns a scrubber of the given secrets (empty ones are
// ignored).
func NewScrubber(secrets ...string) *Scrubber {
	s := &Scrubber{}
	s.Add(secrets...)
	return s
}

// Add registers more secrets.
func (s *Scrubber) Add(secrets ...string) {
	for _, v := range secrets {
		if v == "" {
			continue
		}
		s.secrets = append(s.secrets, v, url.QueryEscape(v), url.PathEscape(v))
	}
}

// String returns t with every credential masked.
func (s *Scrubber) String(t string) string {
	t = MaskURL(t)
	if s == nil {
		return t
	}
	for _, v := range s.secrets {
		if v != "" {
			t = strings.ReplaceAll(t, v, "***")
		}
	}
	return t
}

// Error returns err with its text scrubbed. errors.Is still sees through it
// to the original, but no code can print the original text through it.
func (s *Scrubber) Error(err error) error {
	if err == nil {
		return nil
	}
	return &scrubbedError{msg: s.String(err.Error()), err: err}
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }

// Is matches the sentinels anywhere in the original chain, including the
// errors go-git wraps without Unwrap methods.
func (e *scrubbedError) Is(target error) bool { return Is(e.err, target) }

// Wrap returns an error whose text is msg, scrubbed, and through which
// errors.Is sees err.
func (s *Scrubber) Wrap(msg string, err error) error {
	return &scrubbedError{msg: s.String(msg), err: err}
}
