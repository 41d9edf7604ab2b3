package kube

import (
	"github.com/otomi/otomi/pkg/kube/dag"
)

// Graph orders items for a run: each stage (state file, in release
// order) after the previous one that has items, and within a stage by
// `needs:`. Reversed (uninstalls), later stages go first and a release
// goes after those that need it.
func Graph(items []*Item, reverse bool) []dag.Node {
	ids := map[string]bool{}
	var stages [][]string
	stageOf := map[string]int{}
	lastFile := ""
	for i, it := range items {
		ids[it.ID()] = true
		if i == 0 || it.Release.StateFile != lastFile {
			stages = append(stages, nil)
			lastFile = it.Release.StateFile
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], it.ID())
		stageOf[it.ID()] = len(stages) - 1
	}
	nodes := make([]dag.Node, len(items))
	neededBy := map[string][]string{}
	for _, it := range items {
		for _, n := range it.Release.Needs {
			if ids[n] {
				neededBy[n] = append(neededBy[n], it.ID())
			}
		}
	}
	for i, it := range items {
		n := dag.Node{ID: it.ID()}
		s := stageOf[it.ID()]
		if reverse {
			if s+1 < len(stages) {
				n.After = stages[s+1]
			}
			n.Needs = neededBy[it.ID()]
		} else {
			if s > 0 {
				n.After = stages[s-1]
			}
			for _, need := range it.Release.Needs {
				if ids[need] {
					n.Needs = append(n.Needs, need)
				}
			}
		}
		nodes[i] = n
	}
	return nodes
}
