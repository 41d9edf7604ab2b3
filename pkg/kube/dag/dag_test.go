package dag

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func states(res []Result) map[string]string {
	out := map[string]string{}
	for _, r := range res {
		out[r.ID] = string(r.State)
		if r.Reason != "" {
			out[r.ID] += ": " + r.Reason
		}
	}
	return out
}

// recorder runs tasks, failing those in fail, and remembers the order in
// which they started.
type recorder struct {
	mu      sync.Mutex
	started []string
	fail    map[string]bool
	running atomic.Int32
	peak    atomic.Int32
	gate    chan struct{}
}

func (r *recorder) task(ctx context.Context, id string) error {
	r.mu.Lock()
	r.started = append(r.started, id)
	r.mu.Unlock()
	n := r.running.Add(1)
	for {
		p := r.peak.Load()
		if n <= p || r.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if r.gate != nil {
		<-r.gate
	}
	r.running.Add(-1)
	if r.fail[id] {
		return errors.New("boom")
	}
	return nil
}

func TestRun(t *testing.T) {
	// a, b (stage 1); c needs a; d after stage 1 (ordering only).
	nodes := []Node{{ID: "a"}, {ID: "b"}, {ID: "c", Needs: []string{"a"}}, {ID: "d", After: []string{"a", "b"}}, {ID: "e", Needs: []string{"c"}}}
	for _, tc := range []struct {
		name      string
		fail      []string
		keepGoing bool
		want      map[string]string
	}{
		{"all succeed", nil, false, map[string]string{"a": "done", "b": "done", "c": "done", "d": "done", "e": "done"}},
		{"first failure stops", []string{"a"}, false, map[string]string{
			"a": "failed", "b": "not-run: not started: a failed", "c": "skipped: needs a (failed)", "d": "not-run: not started: a failed", "e": "skipped: needs c (skipped)"}},
		{"keep going runs what does not need the failure", []string{"a"}, true, map[string]string{
			"a": "failed", "b": "done", "c": "skipped: needs a (failed)", "d": "done", "e": "skipped: needs c (skipped)"}},
		{"ordering deps run after a failure with keep going", []string{"b"}, true, map[string]string{
			"a": "done", "b": "failed", "c": "done", "d": "done", "e": "done"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{fail: map[string]bool{}}
			for _, f := range tc.fail {
				r.fail[f] = true
			}
			res, err := Run(context.Background(), nodes, Options{Concurrency: 1, KeepGoing: tc.keepGoing}, r.task)
			require.NoError(t, err)
			assert.Equal(t, tc.want, states(res))
		})
	}
}

func TestRunOrder(t *testing.T) {
	nodes := []Node{{ID: "c", Needs: []string{"b"}}, {ID: "b", Needs: []string{"a"}}, {ID: "a"}, {ID: "x", Needs: []string{"outside"}}}
	r := &recorder{}
	res, err := Run(context.Background(), nodes, Options{Concurrency: 1}, r.task)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c", "x"}, r.started, "needs first, then node order; a need outside the graph is ignored")
	assert.Equal(t, []string{"c", "b", "a", "x"}, []string{res[0].ID, res[1].ID, res[2].ID, res[3].ID}, "results in node order")
}

func TestRunBoundsConcurrency(t *testing.T) {
	var nodes []Node
	for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
		nodes = append(nodes, Node{ID: id})
	}
	r := &recorder{gate: make(chan struct{})}
	done := make(chan []Result)
	go func() {
		res, _ := Run(context.Background(), nodes, Options{Concurrency: 3}, r.task)
		done <- res
	}()
	for r.running.Load() < 3 {
		runtime.Gosched()
	}
	close(r.gate) // all may finish now
	res := <-done
	assert.Equal(t, int32(3), r.peak.Load(), "three at once, no more")
	for _, x := range res {
		assert.Equal(t, Done, x.State)
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	nodes := []Node{{ID: "a"}, {ID: "b", Needs: []string{"a"}}}
	res, err := Run(ctx, nodes, Options{Concurrency: 1}, func(ctx context.Context, id string) error {
		cancel() // Ctrl-C while a runs: a finishes, b never starts
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "done", "b": "not-run: not started: interrupted"}, states(res))
}

func TestRunRejectsBadGraphs(t *testing.T) {
	_, err := Run(context.Background(), []Node{{ID: "a", Needs: []string{"b"}}, {ID: "b", After: []string{"a"}}}, Options{}, nil)
	require.EqualError(t, err, "dependency cycle: a -> b -> a")
	_, err = Run(context.Background(), []Node{{ID: "a"}, {ID: "a"}}, Options{}, nil)
	require.EqualError(t, err, `duplicate node "a"`)
}
