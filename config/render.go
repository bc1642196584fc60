package config

import (
	"io"
	"strings"
)

// Render writes nodes back in keepalived syntax, one statement per line,
// indented by depth; arguments that would not survive the lexer (blanks,
// comment characters, braces) are double-quoted.
func Render(w io.Writer, nodes []*Node, depth int) error {
	var b strings.Builder
	renderNodes(&b, nodes, depth)
	_, err := io.WriteString(w, b.String())
	return err
}

func renderNodes(b *strings.Builder, nodes []*Node, depth int) {
	for _, n := range nodes {
		b.WriteString(strings.Repeat("    ", depth))
		b.WriteString(quoteWord(n.Key))
		for _, a := range n.Args {
			b.WriteByte(' ')
			b.WriteString(quoteWord(a))
		}
		if n.Block {
			b.WriteString(" {\n")
			renderNodes(b, n.Children, depth+1)
			b.WriteString(strings.Repeat("    ", depth))
			b.WriteString("}")
		}
		b.WriteByte('\n')
	}
}

func quoteWord(s string) string {
	if s == "" || strings.ContainsAny(s, " \t!#{}\"$") {
		return `"` + s + `"`
	}
	return s
}
