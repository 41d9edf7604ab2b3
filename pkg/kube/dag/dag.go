// Package dag runs tasks in dependency order, independent ones in
// parallel up to a bound, stopping at the first failure unless told to
// keep going.
package dag

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Node is one task.
type Node struct {
	ID string
	// Needs must succeed before the node runs; if one fails or does not
	// run, neither does the node.
	Needs []string
	// After must have finished (whatever the outcome) before the node
	// runs: ordering only (e.g. the previous stage).
	After []string
}

// State is a node's outcome.
type State string

const (
	// Done: the task ran and succeeded.
	Done State = "done"
	// Failed: the task ran and returned an error.
	Failed State = "failed"
	// Skipped: a need failed or did not run.
	Skipped State = "skipped"
	// NotRun: the run stopped (first failure, or interrupted) before the
	// node could start.
	NotRun State = "not-run"
)

// Result is what happened to one node.
type Result struct {
	ID    string
	State State
	Err   error
	// Reason says why a node was skipped or not run.
	Reason string
}

// Options tune a run.
type Options struct {
	// Concurrency bounds the tasks running at once (1 when < 1).
	Concurrency int
	// KeepGoing runs, after a failure, whatever does not need the failed
	// node; otherwise nothing new starts.
	KeepGoing bool
}

// Run calls task for every node once its dependencies allow, and returns
// the results in the order of nodes. Dependencies on IDs that are not
// nodes are ignored. When ctx ends, nothing new starts; running tasks are
// waited for (task decides whether they see the cancellation). The error
// is for a graph that cannot run (duplicate IDs, a cycle).
func Run(ctx context.Context, nodes []Node, opts Options, task func(ctx context.Context, id string) error) ([]Result, error) {
	index := make(map[string]int, len(nodes))
	for i, n := range nodes {
		if _, dup := index[n.ID]; dup {
			return nil, fmt.Errorf("duplicate node %q", n.ID)
		}
		index[n.ID] = i
	}
	if cycle := findCycle(nodes, index); cycle != nil {
		return nil, fmt.Errorf("dependency cycle: %s", strings.Join(cycle, " -> "))
	}
	workers := max(opts.Concurrency, 1)
	results := make([]*Result, len(nodes))
	type completion struct {
		i   int
		err error
	}
	done := make(chan completion)
	running, stopped := 0, false
	stopReason := ""
	ctxDone := ctx.Done()

	terminal := func(id string) (*Result, bool) {
		i, ok := index[id]
		if !ok {
			return nil, true // outside the graph
		}
		r := results[i]
		return r, r != nil && r.State != ""
	}
	for {
		// Settle skips to a fixed point, then start what is ready.
		for changed := true; changed; {
			changed = false
			for i, n := range nodes {
				if results[i] != nil {
					continue
				}
				for _, need := range n.Needs {
					if r, ok := terminal(need); ok && r != nil && r.State != Done {
						results[i] = &Result{ID: n.ID, State: Skipped, Reason: "needs " + need + " (" + string(r.State) + ")"}
						changed = true
						break
					}
				}
			}
		}
		if !stopped {
			for i, n := range nodes {
				if running >= workers {
					break
				}
				if results[i] != nil || !ready(n, terminal) {
					continue
				}
				results[i] = &Result{ID: n.ID} // running
				running++
				go func(i int, id string) {
					done <- completion{i, task(ctx, id)}
				}(i, n.ID)
			}
		}
		if running == 0 {
			break
		}
		select {
		case c := <-done:
			running--
			r := results[c.i]
			if c.err != nil {
				r.State, r.Err = Failed, c.err
				if !opts.KeepGoing && !stopped {
					stopped, stopReason = true, "not started: "+r.ID+" failed"
				}
			} else {
				r.State = Done
			}
		case <-ctxDone:
			ctxDone = nil
			if !stopped {
				stopped, stopReason = true, "not started: interrupted"
			}
		}
	}
	out := make([]Result, len(nodes))
	for i, n := range nodes {
		switch {
		case results[i] == nil:
			reason := stopReason
			if reason == "" {
				reason = "not started"
			}
			out[i] = Result{ID: n.ID, State: NotRun, Reason: reason}
		default:
			out[i] = *results[i]
		}
	}
	return out, nil
}

func ready(n Node, terminal func(string) (*Result, bool)) bool {
	for _, deps := range [][]string{n.Needs, n.After} {
		for _, d := range deps {
			if _, ok := terminal(d); !ok {
				return false
			}
		}
	}
	return true
}

// findCycle returns the IDs of a dependency cycle, or nil.
func findCycle(nodes []Node, index map[string]int) []string {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(nodes))
	var stack []string
	var visit func(i int) []string
	visit = func(i int) []string {
		color[i] = grey
		stack = append(stack, nodes[i].ID)
		deps := append(append([]string{}, nodes[i].Needs...), nodes[i].After...)
		sort.Strings(deps)
		for _, d := range deps {
			j, ok := index[d]
			if !ok {
				continue
			}
			switch color[j] {
			case grey:
				for k, id := range stack {
					if id == d {
						return append(append([]string{}, stack[k:]...), d)
					}
				}
			case white:
				if c := visit(j); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
		return nil
	}
	for i := range nodes {
		if color[i] == white {
			if c := visit(i); c != nil {
				return c
			}
		}
	}
	return nil
}
