package config

import "strings"

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

// buildTree nests Lines into Nodes. A '{' opens a block for the statement
// just before it (same line or the next one, as keepalived allows); a '}'
// closes the innermost block.
func buildTree(lines []Line) (*Node, error) {
	root := &Node{Key: "", Block: true}
	stack := []*Node{root}
	var errs ErrorList
	for _, ln := range lines {
		cur := stack[len(stack)-1]
		switch ln.Words[0] {
		case "{":
			var prev *Node
			if len(cur.Children) > 0 {
				prev = cur.Children[len(cur.Children)-1]
			}
			if prev == nil || prev.Block {
				errs = append(errs, &Error{Pos: ln.Pos, Msg: "unexpected '{': expected a keyword before the block"})
				// Open an anonymous block so the matching '}' balances.
				prev = &Node{Pos: ln.Pos, Key: "{"}
				cur.Children = append(cur.Children, prev)
			}
			prev.Block = true
			stack = append(stack, prev)
		case "}":
			if len(stack) == 1 {
				errs = append(errs, &Error{Pos: ln.Pos, Msg: "unexpected '}': no block is open"})
				continue
			}
			stack = stack[:len(stack)-1]
		default:
			cur.Children = append(cur.Children, &Node{Pos: ln.Pos, Key: ln.Words[0], Args: ln.Words[1:]})
		}
	}
	for i := len(stack) - 1; i > 0; i-- {
		n := stack[i]
		errs = append(errs, &Error{Pos: n.Pos, Msg: "block '" + n.Text() + "' is not closed: expected '}'"})
	}
	if len(errs) > 0 {
		return root, errs
	}
	return root, nil
}
