package yamlfile

import (
	"fmt"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Limits on what a YAML file may stand for, checked before it is decoded: go-yaml's parser takes
// time quadratic in nesting depth (a 4 MiB file of "[" or "- " would run for hours), and aliases
// expand exponentially (the "billion laughs": nine anchors of nine aliases each stand for 9⁹
// values). pushlab's files nest a handful of levels and use aliases, if at all, for a few values.
const (
	// MaxDepth is the deepest nesting of collections.
	MaxDepth = 64
	// MaxExpandedNodes is how many nodes a file's aliases may stand for in all, once expanded.
	MaxExpandedNodes = 1 << 20
)

// guard refuses a file that nests deeper than MaxDepth or whose aliases expand past
// MaxExpandedNodes, naming where. A file the parser refuses is left to the decoder, which says
// why and where.
func guard(name string, data []byte) error {
	if err := checkDepth(name, data); err != nil {
		return err
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil
	}
	g := &aliasGuard{name: name, anchors: map[string]int{}}
	for _, doc := range f.Docs {
		g.size(doc.Body)
		if g.err != nil {
			return g.err
		}
	}
	return nil
}

// checkDepth measures nesting on the tokens, in one pass: flow collections by their brackets,
// block collections by the indicators ("-", "?", ":") that open them on one line. Nesting across
// lines needs indentation, which costs the file quadratic size, so it stays shallow.
func checkDepth(name string, data []byte) error {
	flow, block, line := 0, 0, 0
	for _, tk := range lexer.Tokenize(string(data)) {
		if tk.Position == nil {
			continue
		}
		if tk.Position.Line != line {
			line, block = tk.Position.Line, 0
		}
		switch tk.Type {
		case token.SequenceStartType, token.MappingStartType:
			flow++
		case token.SequenceEndType, token.MappingEndType:
			flow = max(flow-1, 0)
		case token.SequenceEntryType, token.MappingKeyType, token.MappingValueType:
			if flow == 0 {
				block++
			}
		default:
			continue
		}
		if flow+block > MaxDepth {
			return &Error{File: name, Line: tk.Position.Line, Column: tk.Position.Column,
				Msg: fmt.Sprintf("nested deeper than %d levels: pushlab's files need a few; is this the right file?", MaxDepth)}
		}
	}
	return nil
}

// aliasGuard adds up what a file's aliases stand for once expanded, in document order (an alias
// can only name an anchor defined before it).
type aliasGuard struct {
	name     string
	anchors  map[string]int // anchor name → nodes its value stands for, aliases expanded
	expanded int            // nodes all aliases seen so far stand for
	err      error
}

// size returns how many nodes n stands for with its aliases expanded, saturating past
// MaxExpandedNodes; the alias that takes the file's expansion past the limit sets g.err.
func (g *aliasGuard) size(n ast.Node) int {
	if n == nil || g.err != nil {
		return 0
	}
	sum := func(parts ...int) int {
		total := 1
		for _, p := range parts {
			total = min(total+p, MaxExpandedNodes+1)
		}
		return total
	}
	switch n := n.(type) {
	case *ast.MappingNode:
		parts := make([]int, 0, len(n.Values))
		for _, v := range n.Values {
			parts = append(parts, g.size(v))
		}
		return sum(parts...)
	case *ast.MappingValueNode:
		return sum(g.size(n.Key), g.size(n.Value))
	case *ast.MappingKeyNode:
		return sum(g.size(n.Value))
	case *ast.SequenceNode:
		parts := make([]int, 0, len(n.Values))
		for _, v := range n.Values {
			parts = append(parts, g.size(v))
		}
		return sum(parts...)
	case *ast.TagNode:
		return sum(g.size(n.Value))
	case *ast.AnchorNode:
		s := g.size(n.Value)
		if n.Name != nil {
			g.anchors[n.Name.String()] = s
		}
		return s
	case *ast.AliasNode:
		s := 1
		if n.Value != nil {
			s = max(g.anchors[n.Value.String()], 1)
		}
		g.expanded = min(g.expanded+s, MaxExpandedNodes+1)
		if g.expanded > MaxExpandedNodes {
			pos := n.GetToken().Position
			g.err = &Error{File: g.name, Line: pos.Line, Column: pos.Column,
				Msg: fmt.Sprintf("with this alias the file's aliases stand for more than %d values once expanded (a YAML bomb?); write the values out", MaxExpandedNodes)}
		}
		return s
	default:
		return 1
	}
}
