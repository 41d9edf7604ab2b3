package values

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

const (
	// maxNodes bounds the nodes one file may expand to, aliases included,
	// so that an anchor bomb fails fast instead of exhausting memory.
	maxNodes = 200_000
	// maxDepth bounds nesting.
	maxDepth = 100
)

var errTooManyNodes = errors.New("too many nodes")

// document is one parsed values file.
type document struct {
	tree     map[string]any
	origins  map[string]Origin
	problems []Problem
}

// parseDocument parses data as a single YAML document holding a mapping.
// layout, when non-nil, is the same document as stored on disk (the
// encrypted form of a secrets file): positions are taken from it, so that
// origins point at the lines a person sees in the file.
func parseDocument(file string, data []byte, layout *yaml.Node, encrypted bool) document {
	doc := document{origins: map[string]Origin{}}
	root, err := parseNode(data)
	if err != nil {
		doc.problems = append(doc.problems, yamlProblem(file, err))
		return doc
	}
	if root == nil {
		doc.tree = map[string]any{}
		return doc
	}
	posRoot := layout
	d := &decoder{file: file, encrypted: encrypted, origins: doc.origins}
	body := root.Content[0]
	var posBody *yaml.Node
	if posRoot != nil {
		posBody = posRoot.Content[0]
	}
	if body.Kind == yaml.ScalarNode && body.Tag == "!!null" {
		doc.tree = map[string]any{}
		return doc
	}
	if resolve(body).Kind != yaml.MappingNode {
		doc.problems = append(doc.problems, Problem{
			Origin: d.origin(body, nil), Rule: "yaml",
			Message: fmt.Sprintf("expected a mapping at the top of the file, got %s", kindName(resolve(body))),
		})
		return doc
	}
	v, err := d.value(body, posBody, "", 0)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, errTooManyNodes) {
			msg = fmt.Sprintf("the document expands to more than %d nodes (aliases included); refusing it as an alias bomb", maxNodes)
		}
		doc.problems = append(doc.problems, Problem{Origin: Origin{File: file, Line: 1}, Rule: "yaml", Message: msg})
		return doc
	}
	doc.tree, _ = v.(map[string]any)
	doc.problems = append(doc.problems, d.problems...)
	return doc
}

// parseNode returns the document node of the only document in data, or nil
// for an empty file.
func parseNode(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &positionedError{line: extra.Line, msg: "more than one YAML document in the file (remove the '---' separator)"}
	} else if !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(root.Content) == 0 {
		return nil, nil
	}
	return &root, nil
}

type positionedError struct {
	line int
	msg  string
}

func (e *positionedError) Error() string { return e.msg }

var yamlLineRe = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

func yamlProblem(file string, err error) Problem {
	p := Problem{Origin: Origin{File: file}, Rule: "yaml", Message: err.Error()}
	var pe *positionedError
	if errors.As(err, &pe) {
		p.Origin.Line = pe.line
		return p
	}
	if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
		if m[1] != "" {
			p.Origin.Line, _ = strconv.Atoi(m[1])
		}
		p.Message = "malformed YAML: " + m[2]
	}
	return p
}

type decoder struct {
	file      string
	encrypted bool
	origins   map[string]Origin
	problems  []Problem
	nodes     int
}

func (d *decoder) origin(n, pos *yaml.Node) Origin {
	src := n
	if pos != nil {
		src = pos
	}
	return Origin{File: d.file, Line: src.Line, Column: src.Column, Encrypted: d.encrypted}
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxDepth; i++ {
		n = n.Alias
	}
	return n
}

// value converts n into plain Go values (map[string]any, []any, string,
// int, float64, bool, nil), recording the origin of every node under ptr.
func (d *decoder) value(n, pos *yaml.Node, ptr string, depth int) (any, error) {
	d.nodes++
	if d.nodes > maxNodes {
		return nil, errTooManyNodes
	}
	if depth > maxDepth {
		return nil, fmt.Errorf("nesting deeper than %d levels at %s", maxDepth, ptr)
	}
	n = resolve(n)
	pos = resolve(pos)
	if pos != nil && pos.Kind != n.Kind {
		pos = nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		return d.mapping(n, pos, ptr, depth)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			var ipos *yaml.Node
			if pos != nil && i < len(pos.Content) {
				ipos = pos.Content[i]
			}
			p := JoinIndex(ptr, i)
			d.origins[p] = d.origin(item, ipos)
			v, err := d.value(item, ipos, p, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		return d.scalar(n, pos, ptr), nil
	default:
		return nil, nil
	}
}

func (d *decoder) mapping(n, pos *yaml.Node, ptr string, depth int) (any, error) {
	out := map[string]any{}
	explicit := map[string]bool{}
	var posIndex map[string]*yaml.Node
	if pos != nil {
		posIndex = make(map[string]*yaml.Node, len(pos.Content)/2)
		for i := 0; i+1 < len(pos.Content); i += 2 {
			posIndex[pos.Content[i].Value] = pos.Content[i+1]
			posIndex["\x00key\x00"+pos.Content[i].Value] = pos.Content[i]
		}
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" || (k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Style == 0) {
			merges = append(merges, v)
			continue
		}
		if resolve(k).Kind != yaml.ScalarNode {
			d.problems = append(d.problems, Problem{Origin: d.origin(k, nil), Pointer: ptr, Rule: "yaml", Message: "mapping keys must be scalars"})
			continue
		}
		key := resolve(k).Value
		p := Join(ptr, key)
		var kpos, vpos *yaml.Node
		if posIndex != nil {
			kpos, vpos = posIndex["\x00key\x00"+key], posIndex[key]
		}
		if explicit[key] {
			prev := d.origins[p]
			d.problems = append(d.problems, Problem{Origin: d.origin(k, kpos), Pointer: p, Rule: "duplicate-key",
				Message: fmt.Sprintf("key %q is defined twice (first at line %d)", key, prev.Line)})
			continue
		}
		explicit[key] = true
		// A scalar is located at its value, a mapping or list at its key.
		ko := d.origin(k, kpos)
		o := ko
		if rv := resolve(v); rv.Kind == yaml.ScalarNode {
			o = d.origin(rv, resolve(vpos))
		}
		o.KeyLine, o.KeyColumn = ko.Line, ko.Column
		d.origins[p] = o
		val, err := d.value(v, vpos, p, depth+1)
		if err != nil {
			return nil, err
		}
		out[key] = val
	}
	// Merge keys (<<: *anchor): explicit keys win, earlier merges win.
	for _, m := range merges {
		m = resolve(m)
		sources := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			sources = m.Content
		}
		for _, src := range sources {
			src = resolve(src)
			if src.Kind != yaml.MappingNode {
				d.problems = append(d.problems, Problem{Origin: d.origin(src, nil), Pointer: ptr, Rule: "yaml", Message: "a merge key (<<) needs a mapping or a list of mappings"})
				continue
			}
			for i := 0; i+1 < len(src.Content); i += 2 {
				key := resolve(src.Content[i]).Value
				if _, ok := out[key]; ok {
					continue
				}
				p := Join(ptr, key)
				d.origins[p] = d.origin(src.Content[i], nil)
				val, err := d.value(src.Content[i+1], nil, p, depth+1)
				if err != nil {
					return nil, err
				}
				out[key] = val
			}
		}
	}
	return out, nil
}

func (d *decoder) scalar(n, pos *yaml.Node, ptr string) any {
	switch n.ShortTag() {
	case "!!str", "!!timestamp", "!!binary":
		return n.Value
	case "!!null":
		return nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			return n.Value
		}
		return v
	default:
		d.problems = append(d.problems, Problem{Origin: d.origin(n, pos), Pointer: ptr, Rule: "yaml",
			Message: fmt.Sprintf("unsupported YAML tag %s", n.Tag)})
		return n.Value
	}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a scalar"
	default:
		return "nothing"
	}
}

// ParseYAML parses one YAML document holding a mapping into a tree, with
// the origin of every node (file names the document in origins).
func ParseYAML(file string, data []byte) (map[string]any, map[string]Origin, Problems) {
	d := parseDocument(file, data, nil, false)
	return d.tree, d.origins, d.problems
}
