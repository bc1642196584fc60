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
	depth := 0
	for _, ln := range lines {
		switch ln.Words[0] {
		case "{":
			depth++
		case "}":
			if depth--; depth < 0 {
				p.problem(ln.Pos, "extra '}': it closes no '{' (keepalived: \"Extra '}' found\")")
				depth = 0
			}
		}
	}
	root := &Node{Key: "", Block: true}
	p.level(root, topSyntax(), false, 0)
	if len(p.errs) > 0 {
		return root, p.problems, p.errs
	}
	return root, p.problems, nil
}

type treeParser struct {
	lines    []Line
	i        int
	problems []Warning
	errs     ErrorList
}

func (p *treeParser) problem(pos Pos, format string, args ...any) {
	p.problems = append(p.problems, Warning{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// level reads the statements of one block into parent until its '}' (or
// the end of the input, which is an error below the top level).
func (p *treeParser) level(parent *Node, syn *syntax, needBOB bool, depth int) {
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
			parent.Children = append(parent.Children, &Node{Pos: ln.Pos, Key: word, Args: ln.Words[1:]})
			continue
		} else if word == "{" {
			if syn.generic {
				// keepalived skips blocks it leaves to another process by
				// counting braces: the '{' opens a block of the last keyword.
				var prev *Node
				if n := len(parent.Children); n > 0 {
					prev = parent.Children[n-1]
				}
				if prev == nil || prev.Block {
					prev = &Node{Pos: ln.Pos, Key: "{"}
					parent.Children = append(parent.Children, prev)
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
		n := &Node{Pos: ln.Pos, Key: word, Args: ln.Words[1:]}
		if syn.generic {
			parent.Children = append(parent.Children, n)
			continue
		}
		sub, known := syn.keys[word]
		if !known {
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
		parent.Children = append(parent.Children, n)
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
