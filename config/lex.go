package config

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Line is one logical statement of a config file after keepalived's
// line processing: comments removed, definitions expanded, conditional
// prefixes resolved, includes followed, and a line split at every '{' and
// '}' (a brace is always a Line of its own, as keepalived's read_line makes
// it).
type Line struct {
	Pos   Pos
	Words []string
}

// maxIncludeDepth bounds nested includes even when no loop is detected
// (different files including each other through symlinks, globs...).
const maxIncludeDepth = 32

// lexer turns files into Lines following keepalived's lib/parser.c rules.
type lexer struct {
	configID  string
	noInclude bool // in-memory text (fuzzing) must not read the filesystem
	secure    bool // ReadFile's secure: refuse files non-root users can change
	defs      map[string]string
	lines     []Line
	words     []string // backing array of the lines' words (emit)
	errs      ErrorList
	stack     []string // absolute paths of the files being read (include loop detection)
	files     []string // every file read, in order
	dropped   []Conditional
}

// lexFile reads path and everything it includes (each with ReadFile).
func lexFile(path, configID string, secure bool) ([]Line, []string, error) {
	lx := &lexer{configID: configID, secure: secure, defs: map[string]string{
		"_HASH": "#",
		"_BANG": "!",
	}}
	data, err := ReadFile(path, secure)
	if err != nil {
		return nil, nil, &Error{Pos: Pos{File: path}, Msg: fmt.Sprintf("read config: %v", err)}
	}
	lx.readFile(path, data)
	if len(lx.errs) > 0 {
		return nil, lx.files, lx.errs
	}
	return lx.lines, lx.files, nil
}

// lexBytes is lexFile for in-memory text (tests, fuzzing); name is used
// in positions; includes are refused.
func lexBytes(name string, data []byte, configID string) ([]Line, error) {
	lx := &lexer{configID: configID, noInclude: true, defs: map[string]string{"_HASH": "#", "_BANG": "!"}}
	lx.readFile(name, data)
	if len(lx.errs) > 0 {
		return nil, lx.errs
	}
	return lx.lines, nil
}

func (lx *lexer) errorf(pos Pos, format string, args ...any) {
	lx.errs = append(lx.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (lx *lexer) readFile(path string, data []byte) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		abs = resolved
	}
	lx.stack = append(lx.stack, abs)
	lx.files = append(lx.files, path)
	defer func() { lx.stack = lx.stack[:len(lx.stack)-1] }()

	// Grow lines (one per line, plus one per brace) and their words once
	// for the whole file: growing tens of thousands of pointer-holding
	// entries step by step dominated loading a large IPVS config
	// (profiled in the VM).
	lx.lines = slices.Grow(lx.lines, 1+bytes.Count(data, []byte{'\n'})+bytes.Count(data, []byte{'{'})+bytes.Count(data, []byte{'}'}))
	lx.words = slices.Grow(lx.words, 1+bytes.Count(data, []byte{' '}))
	// One string for the whole file: every line and word is a part of
	// it (a string per line was a fifth of the allocations of parsing
	// 1,000 x 10, issue 18). Lines end at '\n' and lose trailing '\r's,
	// and one longer than maxLine is refused, as bufio.Scanner's ScanLines
	// with a 1 MiB buffer did.
	rest := string(data)
	lineNo := 0
	var multiDef string // name of a multi-line definition being continued
	for rest != "" {
		line := rest
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			if i+1 > maxLine {
				lx.errorf(Pos{File: path, Line: lineNo + 1}, "read: %v", bufio.ErrTooLong)
				return
			}
			line, rest = rest[:i], rest[i+1:]
		} else {
			if len(rest) >= maxLine {
				lx.errorf(Pos{File: path, Line: lineNo + 1}, "read: %v", bufio.ErrTooLong)
				return
			}
			rest = ""
		}
		lineNo++
		pos := Pos{File: path, Line: lineNo}
		raw := trimRightCRLF(line)
		text, cont, ok := decomment(raw)
		if !ok {
			lx.errorf(pos, "unterminated quote")
			continue
		}
		if multiDef != "" {
			// keepalived joins the lines of a definition ending in '\'
			// with a line-end marker; expansion emits one line per part.
			if text != "" {
				lx.defs[multiDef] += "\n" + text
			}
			if !cont {
				multiDef = ""
			}
			continue
		}
		if cont {
			text += `\`
		}
		lx.processLine(pos, text, &multiDef, 0)
	}
}

// maxLine is the longest line read, '\n' included (bytes).
const maxLine = 1024 * 1024

// processLine handles one decommented line: conditional prefix, definition,
// expansion, include, then brace splitting and tokenising.
func (lx *lexer) processLine(pos Pos, text string, multiDef *string, depth int) {
	if depth > 8 {
		lx.errorf(pos, "definitions expand recursively")
		return
	}
	for {
		if text == "" {
			return
		}
		// @id / @^id: keep the line only when the config id matches
		// (or, with ^, does not match).
		if text[0] == '@' {
			rest, keep, ok := conditional(text, lx.configID)
			if ok && !keep {
				lx.dropped = append(lx.dropped, Conditional{Pos: pos, ID: conditionalID(text)})
			}
			if !ok || !keep {
				return
			}
			text = rest
			continue
		}
		break
	}
	if text[0] == '$' {
		if name, value, ok := definition(text); ok {
			if strings.HasSuffix(value, `\`) {
				value = strings.TrimRight(strings.TrimSuffix(value, `\`), " \t")
				*multiDef = name
			}
			lx.defs[name] = value
			return
		}
	}
	if strings.HasPrefix(text, "~SEQ") || strings.HasPrefix(text, "~LST") {
		lx.sequence(pos, text, multiDef, depth)
		return
	}
	text = strings.TrimSuffix(text, `\`)
	if strings.Contains(text, "$") {
		expanded, changed := lx.expand(text)
		if changed {
			for _, part := range strings.Split(expanded, "\n") {
				part, _, ok := decomment(part)
				if !ok {
					lx.errorf(pos, "unterminated quote after expanding definitions")
					return
				}
				lx.processLine(pos, part, multiDef, depth+1)
			}
			return
		}
	}
	if isInclude(text) {
		lx.include(pos, strings.TrimSpace(text[strings.IndexAny(text, " \t"):]))
		return
	}
	lx.splitBraces(pos, text)
}

// openWords and closeWords are the Words of brace Lines, shared: nothing
// writes to a Line's Words, and their capacity is 1 so an append copies.
var openWords, closeWords = []string{"{"}, []string{"}"}

// splitBraces emits the text before a brace, the brace, and then the
// rest, exactly as keepalived's read_line keeps a "line residue".
func (lx *lexer) splitBraces(pos Pos, text string) {
	for text != "" {
		i := braceIndex(text)
		if i < 0 {
			lx.emit(pos, text)
			return
		}
		if i > 0 {
			lx.emit(pos, text[:i])
		}
		words := openWords
		if text[i] == '}' {
			words = closeWords
		}
		lx.lines = append(lx.lines, Line{Pos: pos, Words: words})
		text = strings.TrimSpace(text[i+1:])
	}
}

func (lx *lexer) emit(pos Pos, text string) {
	// Words of every line share one growing array (a config has tens
	// of thousands of short lines); each Line gets a capped slice of it.
	start := len(lx.words)
	words, err := tokenize(lx.words, text)
	if err != nil {
		lx.errorf(pos, "%v", err)
		return
	}
	lx.words = words
	if len(words) > start {
		lx.lines = append(lx.lines, Line{Pos: pos, Words: words[start:len(words):len(words)]})
	}
}

func (lx *lexer) include(pos Pos, pattern string) {
	if lx.noInclude {
		lx.errorf(pos, "include is not available for in-memory config text")
		return
	}
	if strings.HasPrefix(pattern, "\"") {
		// keepalived's check_include takes the quotes as part of the
		// file name, finds no such file and reads nothing: an error here.
		lx.errorf(pos, "include %s: keepalived takes the quotes as part of the file name (and includes nothing); write include without quotes", pattern)
		return
	}
	words, err := tokenize(nil, pattern)
	if err != nil || len(words) != 1 {
		lx.errorf(pos, "include expects one file name or glob")
		return
	}
	pattern = words[0]
	if !filepath.IsAbs(pattern) {
		// keepalived chdir()s to the directory of the file it reads, so
		// relative includes are relative to the including file.
		pattern = filepath.Join(filepath.Dir(pos.File), pattern)
	}
	matches, err := filepath.Glob(pattern)
	if err != nil {
		lx.errorf(pos, "include %q: bad glob: %v", words[0], err)
		return
	}
	if len(matches) == 0 {
		if strings.ContainsAny(words[0], "*?[") {
			return // a glob matching nothing is not an error (keepalived: same)
		}
		lx.errorf(pos, "include %q: no such file", words[0])
		return
	}
	if len(lx.stack) >= maxIncludeDepth {
		lx.errorf(pos, "include %q: includes nested more than %d deep", words[0], maxIncludeDepth)
		return
	}
	for _, m := range matches {
		abs, _ := filepath.Abs(m)
		if r, err := filepath.EvalSymlinks(abs); err == nil {
			abs = r
		}
		for _, open := range lx.stack {
			if open == abs {
				lx.errorf(pos, "include %q: include loop (%s is already being read)", words[0], m)
				return
			}
		}
		st, err := os.Stat(m)
		if err != nil {
			lx.errorf(pos, "include %q: %v", words[0], err)
			return
		}
		if st.IsDir() {
			continue
		}
		data, err := ReadFile(m, lx.secure)
		if err != nil {
			lx.errorf(pos, "include %q: %v", words[0], err)
			return
		}
		lx.readFile(m, data)
	}
}

// expand replaces $NAME and ${NAME} with their definitions. Undefined
// names are left as they are (keepalived does the same).
func (lx *lexer) expand(text string) (string, bool) {
	var b strings.Builder
	changed := false
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c != '$' || i+1 >= len(text) {
			b.WriteByte(c)
			continue
		}
		braces := text[i+1] == '{'
		start := i + 1
		if braces {
			start++
		}
		end := start
		for end < len(text) && (isAlnum(text[end]) || text[end] == '_') {
			end++
		}
		name := text[start:end]
		if name == "" || !(isAlpha(name[0]) || name[0] == '_') {
			b.WriteByte(c)
			continue
		}
		if braces {
			if end >= len(text) || text[end] != '}' {
				b.WriteByte(c)
				continue
			}
			end++
		} else if end < len(text) && !strings.ContainsRune(" \t,)", rune(text[end])) {
			b.WriteByte(c)
			continue
		}
		value, ok := lx.defs[name]
		if name == "_PWD" && !ok {
			value, ok = "", true
		}
		if !ok {
			b.WriteByte(c)
			continue
		}
		b.WriteString(value)
		changed = true
		i = end - 1
	}
	return b.String(), changed
}

// decomment removes comments ('!' and '#' outside double quotes), the
// escaping of comment characters, and leading/trailing blanks. cont reports
// a trailing '\' (a continued definition). ok is false on an unterminated
// quote.
func decomment(s string) (text string, cont, ok bool) {
	s = trimLeftBlanks(s)
	if !hasCommentChar(s) {
		return trimRightBlanks(s), false, true // nothing to do: no copy
	}
	var b strings.Builder
	quote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quote = !quote
			b.WriteByte(c)
		case c == '\\':
			if i+1 >= len(s) {
				cont = true
				i = len(s)
				continue
			}
			if !quote && (s[i+1] == '#' || s[i+1] == '!') {
				b.WriteByte(s[i+1])
			} else {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
		case !quote && (c == '!' || c == '#'):
			return strings.TrimRight(b.String(), " \t"), cont, true
		default:
			b.WriteByte(c)
		}
	}
	return strings.TrimRight(b.String(), " \t"), cont, !quote
}

// trimLeftBlanks, trimRightBlanks and trimRightCRLF are strings.TrimLeft
// and TrimRight of " \t" and "\r\n" as loops: run on every line, the
// library's cutset handling cost a sixth of parsing 1,000 x 10.
func trimLeftBlanks(s string) string {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return s[i:]
}

func trimRightBlanks(s string) string {
	i := len(s)
	for i > 0 && (s[i-1] == ' ' || s[i-1] == '\t') {
		i--
	}
	return s[:i]
}

func trimRightCRLF(s string) string {
	i := len(s)
	for i > 0 && (s[i-1] == '\r' || s[i-1] == '\n') {
		i--
	}
	return s[:i]
}

// hasCommentChar reports whether s holds '"', '\\', '!' or '#' (a loop:
// strings.ContainsAny builds its set on every call, a tenth of parsing
// 1,000 x 10).
func hasCommentChar(s string) bool {
	for i := 0; i < len(s); i++ {
		if charClass[s[i]]&classComment != 0 {
			return true
		}
	}
	return false
}

// Byte classes of the lexer's hot loops (a table is cheaper than a
// comparison per character; issue 18).
const (
	classComment = 1 << iota // '"', '\\', '!', '#': decomment has work
	classWordEnd             // ' ', '\t', '"': tokenize ends a word
)

var charClass = func() (c [256]uint8) {
	for _, b := range []byte{'"', '\\', '!', '#'} {
		c[b] |= classComment
	}
	for _, b := range []byte{' ', '\t', '"'} {
		c[b] |= classWordEnd
	}
	return c
}()

// conditional resolves an "@id rest" or "@^id rest" prefix.
func conditional(text, configID string) (rest string, keep, ok bool) {
	neg := strings.HasPrefix(text, "@^")
	off := 1
	if neg {
		off = 2
	}
	sp := strings.IndexAny(text[off:], " \t")
	if sp < 0 {
		return "", false, false // nothing after the id: keepalived drops the line
	}
	id := text[off : off+sp]
	match := configID != "" && id == configID
	return trimLeftBlanks(text[off+sp:]), match != neg, true
}

// conditionalID is the "id" or "^id" of an "@id rest" line.
func conditionalID(text string) string {
	id, _, _ := strings.Cut(strings.TrimPrefix(text, "@"), " ")
	id, _, _ = strings.Cut(id, "\t")
	return id
}

// Conditional is an "@id" (or "@^id") line of keepalived.conf that the
// config id (keepalived's -i, by default the short host name) leaves out.
type Conditional struct {
	Pos Pos
	ID  string // the id as written after '@': "lb2", or "^lb1"
}

// Conditionals reads path (and its includes) as ParseTree does and
// returns the config id it applied and the "@id" lines it left out, in
// file order. A nested "@a @b line" counts once, by its first id that
// does not match.
func Conditionals(path string, opts Options) (string, []Conditional, error) {
	id := opts.configID()
	lx := &lexer{configID: id, secure: opts.Secure, defs: map[string]string{"_HASH": "#", "_BANG": "!"}}
	data, err := ReadFile(path, opts.Secure)
	if err != nil {
		return id, nil, fmt.Errorf("read config %s: %w", path, err)
	}
	lx.readFile(path, data)
	if len(lx.errs) > 0 {
		return id, lx.dropped, lx.errs
	}
	return id, lx.dropped, nil
}

// definition parses "$NAME=value". As keepalived's check_definition,
// a blank between the name and '=' makes the line no definition (it is
// then read as a statement whose keyword is "$NAME"); blanks after '='
// are skipped.
func definition(text string) (name, value string, ok bool) {
	if len(text) < 2 || !(isAlpha(text[1]) || text[1] == '_') {
		return "", "", false
	}
	i := 2
	for i < len(text) && (isAlnum(text[i]) || text[i] == '_') {
		i++
	}
	name = text[1:i]
	rest := text[i:]
	if !strings.HasPrefix(rest, "=") {
		return "", "", false
	}
	return name, trimLeftBlanks(rest[1:]), true
}

func isInclude(text string) bool {
	if !strings.HasPrefix(text, "include") || len(text) < 8 {
		return false
	}
	if text[7] == ' ' || text[7] == '\t' {
		return true
	}
	// includer, includem, includew, includeb, includea
	return len(text) > 8 && strings.ContainsRune("rmwba", rune(text[7])) && (text[8] == ' ' || text[8] == '\t')
}

// braceIndex finds the first '{' or '}' outside double quotes.
func braceIndex(s string) int {
	if strings.IndexByte(s, '"') < 0 {
		op, cl := strings.IndexByte(s, '{'), strings.IndexByte(s, '}')
		if op < 0 || (cl >= 0 && cl < op) {
			return cl
		}
		return op
	}
	quote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quote = !quote
		case '{', '}':
			if !quote {
				return i
			}
		}
	}
	return -1
}

// tokenize appends the words of s to words. It splits on blanks; a
// double-quoted string is one word without its quotes (keepalived's
// alloc_strvec_r).
func tokenize(words []string, s string) ([]string, error) {
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			return words, nil
		}
		if s[i] == '"' {
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unterminated quote in %q", s)
			}
			words = append(words, s[i+1:i+1+j])
			i += j + 2
			continue
		}
		j := i
		for j < len(s) && charClass[s[j]]&classWordEnd == 0 {
			j++
		}
		words = append(words, s[i:j])
		i = j
	}
}

func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isAlnum(c byte) bool { return isAlpha(c) || (c >= '0' && c <= '9') }
