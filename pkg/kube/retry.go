package kube

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// RetryPolicy says how often and how patiently transient errors are
// retried.
type RetryPolicy struct {
	// Attempts is the total number of tries (1 = no retry).
	Attempts int
	// Delay is the wait before the first retry; it doubles each time.
	Delay time.Duration
	// MaxDelay caps the wait.
	MaxDelay time.Duration
}

// DefaultRetry retries transient errors 4 times over about 15 seconds.
var DefaultRetry = RetryPolicy{Attempts: 5, Delay: time.Second, MaxDelay: 8 * time.Second}

// Retry runs fn until it succeeds, fails with an error that is not
// transient, runs out of attempts or ctx ends. onRetry (optional) hears of
// each retry before the wait.
func Retry(ctx context.Context, p RetryPolicy, fn func() error, onRetry func(attempt int, err error, wait time.Duration)) error {
	delay := p.Delay
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt >= max(p.Attempts, 1) || !IsTransient(err) {
			return err
		}
		if onRetry != nil {
			onRetry(attempt, err, delay)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay = min(delay*2, max(p.MaxDelay, p.Delay))
	}
}

// transientMessages are what transient failures say once a library has
// flattened them into text (helm joins the errors of its parallel
// creates into one message).
var transientMessages = []string{
	"connection reset by peer",
	"connection refused",
	"broken pipe",
	"unexpected eof",
	"i/o timeout",
	"tls handshake timeout",
	"http2: client connection lost",
	"http2: server sent goaway",
	"the object has been modified",
	"too many requests",
	"the server is currently unable to handle the request",
	"the server was unable to return a response in the time allotted",
	"etcdserver: request timed out",
	"etcdserver: leader changed",
	"internal error occurred",
	"service unavailable",
}

// IsTransient reports whether err is worth retrying: a conflict, 429,
// 5xx, timeout or a dropped connection. Validation errors, forbidden and
// not-found are not.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		code := status.Status().Code
		switch {
		case apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err):
			return true
		case code == 429 || code >= 500:
			return true
		case apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err):
			return true
		}
		if code != 0 {
			return false
		}
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	msg := strings.ToLower(err.Error())
	for _, m := range transientMessages {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}
