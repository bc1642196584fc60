package config

import (
	"fmt"
	"strings"
)

// Node is one statement: a keyword, its arguments and, when it opens a
// block, the statements inside. kahook keeps the whole tree so that
// blocks it does not model (vrrp_instance, vrrp_script, ...) remain
// available to `doctor` and `import`.
type Node struct {
	Pos      Pos      `json:"pos"`
	Key      string   `json:"key"`
	Args     []string `json:"args,omitempty"`
	Block    bool     `json:"block,omitempty"`
	Children []*Node  `json:"children,omitempty"`
	// End is where the block's '}' is (keepalived reports what it finds
	// wrong with a block there, when it closes it).
	End Pos `json:"-"`
}

// Arg returns argument i or "".
func (n *Node) Arg(i int) string {
	if i < len(n.Args) {
		return n.Args[i]
	}
	return ""
}

// Text is the statement as written (keyword and arguments).
func (n *Node) Text() string {
	return strings.TrimSpace(n.Key + " " + strings.Join(n.Args, " "))
}

// Find returns the children with the given keyword.
func (n *Node) Find(key string) []*Node {
	var out []*Node
	for _, c := range n.Children {
		if c.Key == key {
			out = append(out, c)
		}
	}
	return out
}

// First returns the first child with the given keyword, or nil.
func (n *Node) First(key string) *Node {
	for _, c := range n.Children {
		if c.Key == key {
			return c
		}
	}
	return nil
}

// buildTree nests Lines into Nodes the way keepalived's process_stream
// (lib/parser.c) reads them, level by level with each level's keyword
// table (keywords.go), so that kahook sees the blocks keepalived sees:
//   - a keyword with a sub-level expects '{' on its line or the next; when
//     it is missing keepalived reports "Missing '{'" and still reads the
//     following lines as that sub-level, up to the next '}';
//   - an unknown keyword is reported and dropped, and a '{' after it is
//     ignored ("Unexpected '{' - ignoring"): its contents are read as part
//     of the enclosing block, and its '}' closes the enclosing block early;
//   - inside blocks kahook leaves to keepalived every brace nests.
//
// What keepalived reports and reads past comes back as problems (config
// check fails on them; running commands log them and go on); braces that
// do not balance at the end of the file are errors.
func buildTree(lines []Line) (*Node, []Warning, error) {
	p := &treeParser{lines: lines}
	// keepalived's read_line counts braces over the whole file, whatever
	// the keywords: a '}' that closes nothing is "Extra '}' found".
	depth, braces := 0, 0
	for _, ln := range lines {
		switch ln.Words[0] {
		case "{":
			depth++
			braces++
		case "}":
			braces++
			if depth--; depth < 0 {
				p.problem(ln.Pos, "extra '}': it closes no '{' (keepalived: \"Extra '}' found\")")
				depth = 0
			}
		}
	}
	// At most one Node per Line that is no brace (a generic block's '{'
	// after a block makes one more: node then takes another chunk).
	// Capped: a file of junk lines (unknown keywords) makes no nodes.
	p.nodes = make([]Node, 0, min(len(lines)-braces, 1<<14))
	p.kids = make([]*Node, 0, min(len(lines)-braces, 1<<14))
	root := &Node{Key: "", Block: true}
	p.level(root, topSyntax(), false, 0)
	if p.unlisted > 0 {
		p.problems = append(p.problems, Warning{Pos: p.lines[len(p.lines)-1].Pos, Msg: fmt.Sprintf("%d more problems not listed (the first %d are)", p.unlisted, maxListedProblems), Unlisted: p.unlisted})
	}
	if len(p.errs) > 0 {
		return root, p.problems, p.errs
	}
	return root, p.problems, nil
}

type treeParser struct {
	lines    []Line
	i        int
	problems []Warning
	unlisted int // problems beyond maxListedProblems
	errs     ErrorList
	// nodes holds the Nodes (at most one per Line); stack the children of
	// the open blocks, each block's copied into kids when it ends. One
	// allocation per node and a growing slice per block dominated parsing
	// 1,000 x 10 (issue 18).
	nodes []Node
	stack []*Node
	kids  []*Node
}

// node returns a new Node held in p.nodes.
func (p *treeParser) node(n Node) *Node {
	if len(p.nodes) == cap(p.nodes) {
		p.nodes = make([]Node, 0, 1024)
	}
	p.nodes = append(p.nodes, n)
	return &p.nodes[len(p.nodes)-1]
}

// level reads the statements of one block into parent.Children until its
// '}' (or the end of the input, which is an error below the top level).
func (p *treeParser) level(parent *Node, syn *syntax, needBOB bool, depth int) {
	mark := len(p.stack)
	p.levelChildren(parent, syn, needBOB, depth, mark)
	if n := len(p.stack) - mark; n > 0 {
		if len(p.kids)+n > cap(p.kids) {
			p.kids = make([]*Node, 0, max(n, 256))
		}
		start := len(p.kids)
		p.kids = append(p.kids, p.stack[mark:]...)
		parent.Children = p.kids[start:len(p.kids):len(p.kids)]
		clear(p.stack[mark:])
		p.stack = p.stack[:mark]
	}
}

func (p *treeParser) problem(pos Pos, format string, args ...any) {
	if p.full() {
		return
	}
	p.problems = append(p.problems, Warning{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// maxListedProblems bounds the problems the tree parser lists: a file of
// junk lines would otherwise cost memory (and a "did you mean" search)
// per line; the rest are counted in one last problem.
const maxListedProblems = 1000

// full reports (and counts) a problem beyond maxListedProblems.
func (p *treeParser) full() bool {
	if len(p.problems) < maxListedProblems {
		return false
	}
	p.unlisted++
	return true
}

// levelChildren is level, the children pushed on p.stack above mark.
func (p *treeParser) levelChildren(parent *Node, syn *syntax, needBOB bool, depth, mark int) {
	for p.i < len(p.lines) {
		ln := p.lines[p.i]
		p.i++
		word := ln.Words[0]
		if needBOB {
			needBOB = false
			if word == "{" {
				parent.Block = true
				continue
			}
			p.problem(ln.Pos, "'%s' expects '{' to open its block (keepalived: \"Missing '{' at beginning of configuration block\", and reads the next lines as its block)", parent.Key)
			parent.Block = true
		} else if syn.values {
			if word == "}" {
				parent.End = ln.Pos
				return
			}
			p.stack = append(p.stack, p.node(Node{Pos: ln.Pos, Key: word, Args: ln.Words[1:]}))
			continue
		} else if word == "{" {
			if syn.generic {
				// keepalived skips blocks it leaves to another process by
				// counting braces: the '{' opens a block of the last keyword.
				var prev *Node
				if n := len(p.stack); n > mark {
					prev = p.stack[n-1]
				}
				if prev == nil || prev.Block {
					prev = p.node(Node{Pos: ln.Pos, Key: "{"})
					p.stack = append(p.stack, prev)
					p.problem(ln.Pos, "unexpected '{': expected a keyword before the block")
				}
				prev.Block = true
				p.level(prev, genericSyntax, false, depth+1)
				continue
			}
			if depth == 0 {
				p.problem(ln.Pos, "unexpected '{' (keepalived: \"Unexpected '{' - ignoring\"): what follows is read at the top level")
			} else {
				p.problem(ln.Pos, "unexpected '{' (keepalived: \"Unexpected '{' - ignoring\"): what follows is read as part of %s, and its '}' closes %s", blockName(parent), blockName(parent))
			}
			continue
		}
		if word == "}" {
			if depth > 0 {
				parent.End = ln.Pos
				return
			}
			p.problem(ln.Pos, "unexpected '}': no block is open (keepalived: \"Unknown keyword '}'\")")
			continue
		}
		if syn.generic {
			p.stack = append(p.stack, p.node(Node{Pos: ln.Pos, Key: word, Args: ln.Words[1:]}))
			continue
		}
		sub, known := syn.keys[word]
		if !known {
			if p.full() {
				continue
			}
			msg := "Unknown keyword '" + word + "'"
			if s := suggest(word, syn.names()); s != "" {
				msg += " (did you mean '" + s + "'?)"
			}
			if depth > 0 {
				msg += " in " + blockName(parent)
			}
			p.problem(ln.Pos, "%s: keepalived ignores it", msg)
			continue
		}
		n := p.node(Node{Pos: ln.Pos, Key: word, Args: ln.Words[1:]})
		p.stack = append(p.stack, n)
		if sub != nil {
			p.level(n, sub, true, depth+1)
		}
	}
	switch {
	case depth > 0 && needBOB:
		p.errs = append(p.errs, &Error{Pos: parent.Pos, Msg: parent.Key + ": expected '{' to open its block"})
	case depth > 0:
		p.errs = append(p.errs, &Error{Pos: parent.Pos, Msg: "block '" + parent.Text() + "' is not closed: expected '}'"})
	}
}

func blockName(n *Node) string {
	if n.Key == "" {
		return "the top level"
	}
	return "'" + n.Text() + "'"
}
