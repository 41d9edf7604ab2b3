package gitnet

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// causes flattens an error chain, following the go-git error types that
// hold an error without an Unwrap method.
func causes(err error) []error {
	var out []error
	queue := []error{err}
	for len(queue) > 0 && len(out) < 64 {
		e := queue[0]
		queue = queue[1:]
		if e == nil {
			continue
		}
		out = append(out, e)
		switch x := e.(type) { //nolint:errorlint // walking the chain by hand
		case *plumbing.UnexpectedError:
			queue = append(queue, x.Err)
		case *plumbing.PermanentError:
			queue = append(queue, x.Err)
		case interface{ Unwrap() []error }:
			queue = append(queue, x.Unwrap()...)
		case interface{ Unwrap() error }:
			queue = append(queue, x.Unwrap())
		}
	}
	return out
}

// Transient reports whether err is a network failure worth retrying:
// timeouts, refused or reset connections, truncated responses, HTTP 408,
// 429 and 5xx. Authentication errors, missing repositories and rejections
// are not.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	for _, c := range causes(err) {
		switch c { //nolint:errorlint // identities in a flattened chain
		case transport.ErrAuthenticationRequired, transport.ErrAuthorizationFailed, transport.ErrRepositoryNotFound,
			transport.ErrInvalidAuthMethod, transport.ErrEmptyRemoteRepository:
			return false
		case io.ErrUnexpectedEOF, syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE, syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH:
			return true
		}
		switch x := c.(type) { //nolint:errorlint // chain already flattened
		case *githttp.Err:
			code := x.StatusCode()
			return code == 408 || code == 429 || code >= 500
		case *net.DNSError:
			return x.IsTimeout || x.IsTemporary
		case net.Error:
			if x.Timeout() {
				return true
			}
		}
	}
	return false
}

// Retry retries an operation on transient network errors, with exponential
// backoff.
type Retry struct {
	// Attempts in all (1 = no retry).
	Attempts int
	// Delay before the first retry; it doubles each time, up to MaxDelay.
	Delay, MaxDelay time.Duration
	// OnRetry, when set, is told about each retry (for progress output).
	OnRetry func(attempt int, wait time.Duration, err error)
}

// DefaultRetry: 4 attempts, waiting 1 s, 2 s, 4 s.
var DefaultRetry = Retry{Attempts: 4, Delay: time.Second, MaxDelay: 8 * time.Second}

// Do runs op until it succeeds, fails for good, or Attempts are used up.
func (r Retry) Do(ctx context.Context, op func() error) error {
	attempts := max(r.Attempts, 1)
	delay := r.Delay
	for i := 1; ; i++ {
		err := op()
		if err == nil || i >= attempts || !Transient(err) {
			return err
		}
		if r.OnRetry != nil {
			r.OnRetry(i, delay, err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay *= 2
		if r.MaxDelay > 0 && delay > r.MaxDelay {
			delay = r.MaxDelay
		}
	}
}

// Is reports whether target is in err's chain, including the errors go-git
// wraps without an Unwrap method.
func Is(err, target error) bool {
	for _, c := range causes(err) {
		if c == target { //nolint:errorlint // identities in a flattened chain
			return true
		}
	}
	return false
}
