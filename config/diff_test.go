package config

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	diffSeed = flag.Int64("diff.seed", 0, "seed of the parser differential test (0: a new one, printed)")
	diffN    = flag.Int("diff.n", 150, "mutations per run of the parser differential test")
)

// diffConfigID is the config id both keepalived (-i) and kahook use, so
// @id lines resolve the same way.
const diffConfigID = "kahookdiff"

// TestParserDifferential: `keepalived -t` and kahook's parser on
// mutations (deleted lines, moved and missing braces, misplaced blocks,
// misspelt keywords, out-of-range values, quoting, includes, definitions,
// conditional lines) of the virtual_server blocks of keepalived's samples
// and of kahook's examples. They must agree on the verdict (keepalived
// exits non-zero exactly when kahook reports a problem or an error), and
// every line keepalived names must be one kahook names. The seed is new
// every run and printed; -diff.seed S reproduces it; fixed regression
// cases live in testdata/keepalived-diff.
func TestParserDifferential(t *testing.T) {
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Skip("keepalived is not installed")
	}
	bases := diffBases(t)
	if len(bases) < 5 {
		t.Fatalf("only %d base configs", len(bases))
	}
	seed := *diffSeed
	if seed == 0 {
		seed = time.Now().UnixNano() % 1e9
	}
	t.Logf("seed %d (reproduce with -diff.seed %d)", seed, seed)
	dir := t.TempDir()
	fixed, _ := filepath.Glob("testdata/keepalived-diff/*.conf")
	for _, f := range fixed {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if why := compareWithKeepalived(p); why != "" {
			t.Errorf("fixed case %s: %s", f, why)
		}
	}
	agree := 0
	for i := 0; i < *diffN; i++ {
		s := seed + int64(i)
		r := rand.New(rand.NewSource(s))
		base := bases[r.Intn(len(bases))]
		sub := filepath.Join(dir, strconv.Itoa(i))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		p, what := mutate(r, base, sub)
		if why := compareWithKeepalived(p); why != "" {
			text, _ := os.ReadFile(p)
			t.Errorf("seed %d (%s of %s): %s\n--- config\n%s", s, what, base.name, why, text)
			continue
		}
		agree++
	}
	t.Logf("%d of %d mutated configs: keepalived -t and kahook agree", agree, *diffN)
}

type diffBase struct {
	name  string
	lines []string
}

// diffBases are the virtual_server and virtual_server_group blocks of
// keepalived's samples and of packaging/examples (what kahook models and
// keepalived knows), one base per file, each loading cleanly in both.
func diffBases(t *testing.T) []diffBase {
	files, _ := filepath.Glob("/usr/share/doc/keepalived/samples/keepalived.conf.*")
	ex, _ := filepath.Glob("../packaging/examples/*/kahook.conf")
	var out []diffBase
	dir := t.TempDir()
	for _, f := range append(files, ex...) {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		lines := checkerBlocks(string(data))
		if len(lines) == 0 {
			continue
		}
		b := diffBase{name: f, lines: lines}
		p := filepath.Join(dir, "base.conf")
		os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
		if why := compareWithKeepalived(p); why != "" {
			t.Logf("base %s: not used, keepalived and kahook disagree already: %s", f, why)
			continue
		}
		out = append(out, b)
	}
	return out
}

// checkerBlocks returns the top-level virtual_server and
// virtual_server_group blocks of a config, by brace counting.
func checkerBlocks(text string) []string {
	var out []string
	depth := 0
	keep := false
	for _, ln := range strings.Split(text, "\n") {
		code, _, _ := decomment(ln)
		if depth == 0 {
			w := strings.Fields(code)
			keep = len(w) > 0 && (w[0] == "virtual_server" || w[0] == "virtual_server_group")
		}
		if keep {
			out = append(out, ln)
		}
		depth += strings.Count(code, "{") - strings.Count(code, "}")
		if depth < 0 {
			depth = 0
		}
	}
	return out
}

var numberRE = regexp.MustCompile(`^\d+$`)

// numberForms are the ways of writing a number N the differential test
// tries: a sign, leading zeros, blanks inside quotes, hex, a decimal
// point, too many decimals, an exponent, trailing characters, no digits.
var numberForms = []string{
	"+N", "0N", "00N", `" N"`, `" +N"`, `"N "`, "0xN", "Nx", "-N", "+-N", "+", `""`, `" "`,
	"N.", "N.0", ".5", "+N.5", "N.1234567", "N.1234565", "N.12345649", "Ne0", "+0", "-0", "0", "00", "N0000000000",
}

// checkerKeyword: the checker blocks that take connection keywords.
var checkerKeyword = map[string]bool{"TCP_CHECK": true, "HTTP_GET": true, "SSL_GET": true, "SMTP_CHECK": true, "UDP_CHECK": true, "DNS_CHECK": true, "PING_CHECK": true, "host": true}

// familyValues are addresses of both families the differential test
// puts in a checker's bindto or connect_ip.
var familyValues = []string{"192.168.200.1", "10.10.10.2", "2001:db8::1", "fe80::1", "::ffff:192.168.200.1", "::1", "10.10.10.2/24", "192.168.200.1-9", "2001:db8::1/64"}

// granularityValues are persistence_granularity values of both
// families and inet_aton's other IPv4 forms.
var granularityValues = []string{"255.255.255.0", "255.255.0.0", "24", "64", "128", "129", "255.255.255", "0xffffff00", "2001:db8::", "255.255.255.010", "255.255.255.256"}

var rangeEndRE = regexp.MustCompile(`[-/][0-9a-fA-F]+$`)

// numberAt is the index of the number numberForms rewrites in a line's
// words, or -1: a keyword's single numeric value, a server's port, or a
// group entry's port, range end or prefix length.
func numberAt(w []string) int {
	switch {
	case len(w) >= 3 && (w[0] == "real_server" || w[0] == "sorry_server" || w[0] == "virtual_server") && numberRE.MatchString(w[2]):
		return 2
	case len(w) >= 2 && numberRE.MatchString(w[1]):
		return 1
	case len(w) >= 1 && strings.ContainsAny(w[0], ".:") && rangeEndRE.MatchString(w[0]):
		return 0
	}
	return -1
}

// mutate writes one mutation of base into dir and returns the file and
// what was done.
func mutate(r *rand.Rand, base diffBase, dir string) (string, string) {
	lines := slices.Clone(base.lines)
	pickLine := func(ok func(w []string) bool) int {
		for range 50 {
			i := r.Intn(len(lines))
			code, _, _ := decomment(lines[i])
			if w := strings.Fields(code); len(w) > 0 && ok(w) {
				return i
			}
		}
		return -1
	}
	anyLine := func(w []string) bool { return true }
	what := ""
	// asFWMark7 turns the address virtual server enclosing line i into
	// virtual_server fwmark 7 and says so ("": none found).
	asFWMark7 := func(i int) string {
		for j := i - 1; j >= 0; j-- {
			if w := strings.Fields(lines[j]); len(w) >= 3 && w[0] == "virtual_server" && w[1] != "group" && slices.Contains(w, "{") {
				lines[j] = "virtual_server fwmark 7 {"
				return fmt.Sprintf(", virtual server on line %d as fwmark 7", j+1)
			}
		}
		return ""
	}
	switch r.Intn(19) {
	case 0:
		i := r.Intn(len(lines))
		what = fmt.Sprintf("delete line %d", i+1)
		lines = slices.Delete(lines, i, i+1)
	case 1:
		i := pickLine(func(w []string) bool { return slices.Contains(w, "{") || slices.Contains(w, "}") })
		if i >= 0 {
			br := "{"
			if !strings.Contains(lines[i], "{") {
				br = "}"
			}
			what = fmt.Sprintf("delete %s on line %d", br, i+1)
			lines[i] = strings.Replace(lines[i], br, "", 1)
		}
	case 2:
		i := pickLine(func(w []string) bool { return slices.Contains(w, "}") })
		j := r.Intn(len(lines))
		if i >= 0 {
			what = fmt.Sprintf("move } from line %d to line %d", i+1, j+1)
			lines[i] = strings.Replace(lines[i], "}", "", 1)
			lines[j] += " }"
		}
	case 3:
		i := pickLine(func(w []string) bool { return len(w[0]) > 3 && w[0] != "{" && w[0] != "}" })
		if i >= 0 {
			w := strings.Fields(lines[i])[0]
			k := 1 + r.Intn(len(w)-2)
			var bad string
			if r.Intn(2) == 0 {
				bad = w[:k] + w[k+1:] // a letter dropped
			} else {
				bad = w[:k-1] + string(w[k]) + string(w[k-1]) + w[k+1:] // two swapped
			}
			what = fmt.Sprintf("misspell %s as %s on line %d", w, bad, i+1)
			lines[i] = strings.Replace(lines[i], w, bad, 1)
		}
	case 4:
		i := pickLine(func(w []string) bool { return len(w) == 2 && numberRE.MatchString(w[1]) })
		if i >= 0 {
			w := strings.Fields(lines[i])
			v := []string{"0", "-1", "65536", "4294967296", "99999999999", "1.5", "x"}[r.Intn(7)]
			what = fmt.Sprintf("%s %s -> %s on line %d", w[0], w[1], v, i+1)
			lines[i] = strings.Replace(lines[i], " "+w[1], " "+v, 1)
		}
	case 5:
		i := pickLine(func(w []string) bool { return len(w) >= 2 && w[1] != "{" })
		if i >= 0 {
			w := strings.Fields(lines[i])
			what = fmt.Sprintf("quote %s on line %d", w[1], i+1)
			lines[i] = strings.Replace(lines[i], " "+w[1], ` "`+w[1]+`"`, 1)
		}
	case 6:
		// include the second half of the file, with or without quotes
		k := r.Intn(len(lines))
		rest := strings.Join(lines[k:], "\n") + "\n"
		os.WriteFile(filepath.Join(dir, "part.conf"), []byte(rest), 0o644)
		inc := "include part.conf"
		if r.Intn(3) == 0 {
			inc = `include "part.conf"`
		}
		what = fmt.Sprintf("%s from line %d", inc, k+1)
		lines = append(lines[:k:k], inc)
	case 7:
		i := pickLine(func(w []string) bool {
			return len(w) >= 2 && (w[0] == "real_server" || w[0] == "virtual_server") && strings.ContainsAny(w[1], ".:")
		})
		if i >= 0 {
			w := strings.Fields(lines[i])
			def := []string{"$ADDR=", "$ADDR = ", "$ADDR= ", "$ADDR ="}[r.Intn(4)]
			what = fmt.Sprintf("definition %q for %s on line %d", def, w[1], i+1)
			lines[i] = strings.Replace(lines[i], w[1], "$ADDR", 1)
			lines = append([]string{def + w[1]}, lines...)
		}
	case 8:
		i := r.Intn(len(lines))
		pre := []string{"@" + diffConfigID + " ", "@other ", "@^other ", "@^" + diffConfigID + " "}[r.Intn(4)]
		what = fmt.Sprintf("prefix %q on line %d", pre, i+1)
		lines[i] = pre + strings.TrimLeft(lines[i], " \t")
	case 9:
		// misplace a line (a real_server or any keyword) elsewhere
		i := pickLine(anyLine)
		j := r.Intn(len(lines))
		if i >= 0 {
			what = fmt.Sprintf("move line %d to %d", i+1, j+1)
			ln := lines[i]
			lines = slices.Delete(lines, i, i+1)
			if j > len(lines) {
				j = len(lines)
			}
			lines = slices.Insert(lines, j, ln)
		}
	case 10, 11:
		// rewrite a number (a keyword's value, a server's or group
		// entry's port, a group range end or prefix length) in another
		// form: keepalived's strtoul family takes some, refuses others.
		i := pickLine(func(w []string) bool { return numberAt(w) >= 0 })
		if i >= 0 {
			code, _, _ := decomment(lines[i])
			w := strings.Fields(code)
			k := numberAt(w)
			num, pre := w[k], ""
			if k == 0 { // a range end or prefix length
				cut := strings.LastIndexAny(num, "-/") + 1
				pre, num = num[:cut], num[cut:]
			}
			form := numberForms[r.Intn(len(numberForms))]
			v := strings.ReplaceAll(form, "N", num)
			what = fmt.Sprintf("number %s -> %s on line %d", w[k], pre+v, i+1)
			w[k] = pre + v
			indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " \t"))]
			lines[i] = indent + strings.Join(w, " ")
		}
	case 12:
		// a source or destination of either address family (or a
		// link-local one, or bind_if) in a checker block: keepalived
		// compares bindto's family with the destination's, and wants a
		// bind_if for a link-local destination; or a fwmark, valid or not.
		i := pickLine(func(w []string) bool { return len(w) >= 2 && checkerKeyword[w[0]] && w[1] == "{" })
		if i >= 0 {
			key := []string{"bindto", "connect_ip", "bind_if", "fwmark"}[r.Intn(4)]
			val := familyValues[r.Intn(len(familyValues))]
			switch key {
			case "bind_if":
				val = []string{"lo", "eth0", "abcdefghijklmnop"}[r.Intn(3)]
			case "fwmark":
				// co_fwmark_handler: 0 to UINT_MAX (a MISC_CHECK has none).
				val = []string{"5", "0", "4294967295", "4294967296", "abc", "-1", "0x10", "+7"}[r.Intn(8)]
			}
			what = fmt.Sprintf("add %s %s after line %d", key, val, i+1)
			lines = slices.Insert(lines, i+1, "    "+key+" "+val)
		}
	case 13:
		// a virtual server's ip_family, or a sorry server of either
		// family: keepalived compares both with the service's family.
		i := pickLine(func(w []string) bool { return len(w) >= 2 && w[0] == "virtual_server" && slices.Contains(w, "{") })
		if i >= 0 {
			add := []string{"ip_family inet", "ip_family inet6"}[r.Intn(2)]
			if r.Intn(2) == 0 {
				add = "sorry_server " + []string{"192.168.200.9", "2001:db8::9", "::1", "::ffff:192.168.200.9", "192.168.200.9/24"}[r.Intn(5)] + " 80"
			}
			what = fmt.Sprintf("add %s after line %d", add, i+1)
			lines = slices.Insert(lines, i+1, "    "+add)
		}
	case 14:
		// an ip_family before a real server (so after the one before
		// it), in a fwmark virtual server half the time: keepalived fixes
		// the family with whichever comes first.
		i := pickLine(func(w []string) bool { return w[0] == "real_server" })
		if i >= 0 {
			add := []string{"ip_family inet", "ip_family inet6"}[r.Intn(2)]
			what = fmt.Sprintf("add %s before line %d", add, i+1)
			if r.Intn(2) == 0 {
				what += asFWMark7(i)
			}
			lines = slices.Insert(lines, i, "    "+add)
		}
	case 15:
		// persistence_granularity in the forms of both families (and
		// inet_aton's others): keepalived reads it by the family set
		// before it, or by a '.' when none is yet.
		i := pickLine(func(w []string) bool { return len(w) >= 2 && w[0] == "virtual_server" && slices.Contains(w, "{") })
		if i >= 0 {
			v := granularityValues[r.Intn(len(granularityValues))]
			what = fmt.Sprintf("add persistence_granularity %s after line %d", v, i+1)
			lines = slices.Insert(lines, i+1, "    persistence_granularity "+v)
		}
	case 16:
		// a sorry server of either family before the lb_kind (TUN half
		// the time, in a fwmark service half the time): keepalived
		// decides the family with the method the sorry server has at
		// its line, none.
		i := pickLine(func(w []string) bool { return w[0] == "lb_kind" })
		if i >= 0 {
			add := "sorry_server " + []string{"192.168.200.9", "2001:db8::9", "10.10.10.9"}[r.Intn(3)] + " " + []string{"80", "0"}[r.Intn(2)]
			what = fmt.Sprintf("add %s before line %d", add, i+1)
			if r.Intn(2) == 0 {
				lines[i] = "    lb_kind TUN"
				what += ", lb_kind TUN"
			}
			if r.Intn(2) == 0 {
				what += asFWMark7(i)
			}
			lines = slices.Insert(lines, i, "    "+add)
		}
	case 18:
		// a virtual or real server's address in the other forms
		// keepalived's inet_stosockaddr reads: IPv4 written as ::ffff:
		// (an IPv6 address there), a prefix or a range end after it
		// (left out).
		// A virtual_server_group's address entry too (its first word).
		groupEntry := func(w []string) bool {
			return len(w) == 2 && strings.Count(w[0], ".") == 3 && w[0][0] >= '0' && w[0][0] <= '9' && !strings.ContainsAny(w[0], "-/")
		}
		i := pickLine(func(w []string) bool {
			return len(w) >= 3 && (w[0] == "virtual_server" || w[0] == "real_server" || w[0] == "sorry_server") && strings.Count(w[1], ".") == 3 || groupEntry(w)
		})
		if i >= 0 {
			w := strings.Fields(lines[i])
			a := w[1]
			form := []string{"::ffff:A", "A/24", "A-9", "A/33", "::ffff:A/96"}[r.Intn(5)]
			if groupEntry(w) {
				a = w[0]
				form = []string{"::ffff:A", "A-::ffff:1.2.3.4", "::ffff:A/128", "A-7"}[r.Intn(4)]
			}
			v := strings.ReplaceAll(form, "A", a)
			what = fmt.Sprintf("address %s -> %s on line %d", a, v, i+1)
			lines[i] = strings.Replace(lines[i], a, v, 1)
		}
	case 17:
		// smtp_alert in a virtual or real server (check_true_false:
		// true/on/yes, false/off/no, as written), or hashed (a scheduler
		// flag keepalived 2.2.7 sets nothing for, reported unless the
		// scheduler so far is sh or mh), with or without an argument.
		i := pickLine(func(w []string) bool {
			return len(w) >= 2 && (w[0] == "virtual_server" || w[0] == "real_server") && slices.Contains(w, "{")
		})
		if i >= 0 {
			add := "smtp_alert" + []string{"", " yes", " off", " true", " abc", " 0", " YES"}[r.Intn(7)]
			if strings.HasPrefix(strings.TrimSpace(lines[i]), "virtual_server") && r.Intn(2) == 0 {
				add = "hashed" + []string{"", " 1", " abc"}[r.Intn(3)]
			}
			what = fmt.Sprintf("add %s after line %d", add, i+1)
			lines = slices.Insert(lines, i+1, "    "+add)
		}
	}
	if what == "" {
		what = "unchanged"
	}
	p := filepath.Join(dir, "k.conf")
	os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	return p, what
}

var keepalivedLineRE = regexp.MustCompile(`\(([^:()]*): Line (\d+)\)`)

// compareWithKeepalived returns "" when `keepalived -t` and kahook's
// parser agree on the file: both accept it, or both report it, and every
// line of the main file keepalived names, kahook names too.
func compareWithKeepalived(path string) string {
	out, err := exec.Command("keepalived", "-t", "-f", path, "-l", "-n", "-i", diffConfigID).CombinedOutput()
	checker := checkerPass(out)
	kaFails := err != nil
	cfg, perr := Load(path, Options{ConfigID: diffConfigID})
	var named []string
	if l, ok := perr.(ErrorList); ok {
		for _, e := range l {
			named = append(named, filepath.Base(e.Pos.File)+":"+strconv.Itoa(e.Pos.Line))
		}
	} else if e, ok := perr.(*Error); ok {
		named = append(named, filepath.Base(e.Pos.File)+":"+strconv.Itoa(e.Pos.Line))
	}
	var problems []Warning
	if cfg != nil {
		problems = cfg.Problems
		for _, p := range problems {
			named = append(named, filepath.Base(p.Pos.File)+":"+strconv.Itoa(p.Pos.Line))
		}
	}
	// keepalived reports what is wrong with a block at its '}' (its
	// close handler runs there); kahook at the block's first line.
	ends := map[string][]string{}
	if tree, _, err := ParseTree(path, Options{ConfigID: diffConfigID}); tree != nil || err == nil {
		var walk func(n *Node)
		walk = func(n *Node) {
			if n == nil {
				return
			}
			if n.End.Line > 0 {
				e := filepath.Base(n.End.File) + ":" + strconv.Itoa(n.End.Line)
				ends[e] = append(ends[e], filepath.Base(n.Pos.File)+":"+strconv.Itoa(n.Pos.Line))
			}
			for _, c := range n.Children {
				walk(c)
			}
		}
		walk(tree)
	}
	khFails := perr != nil || len(problems) > 0
	if !kaFails && khFails && deliberate(perr) {
		return "" // a deliberate difference (README), tested on its own
	}
	if kaFails != khFails {
		return fmt.Sprintf("keepalived -t fails=%v, kahook fails=%v\n--- kahook\n%v %v\n--- keepalived\n%s", kaFails, khFails, perr, problems, strings.Join(checker, "\n"))
	}
	for _, m := range keepalivedLineRE.FindAllStringSubmatch(strings.Join(checker, "\n"), -1) {
		at := filepath.Base(m[1]) + ":" + m[2]
		if !slices.Contains(named, at) && !slices.ContainsFunc(ends[at], func(s string) bool { return slices.Contains(named, s) }) {
			return fmt.Sprintf("keepalived reports %s, kahook does not\n--- kahook\n%v %v\n--- keepalived (checker)\n%s", at, perr, problems, strings.Join(checker, "\n"))
		}
	}
	return ""
}

// checkerPass returns the messages of keepalived's checker process
// from `keepalived -t` output. -t reads the file once per process: the
// parent (messages without a file name), then the checker, the VRRP and
// the BFD processes, each naming the file. The VRRP and BFD processes
// skip virtual_server blocks as blocks of another process and complain
// differently; kahook models the checker's reading. A pass ends where
// the line numbers of a file go back.
func checkerPass(out []byte) []string {
	var pass []string
	last := map[string]int{}
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "(Line ") {
			continue
		}
		if m := keepalivedLineRE.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[2])
			if prev, seen := last[m[1]]; seen && n < prev {
				break // the next process's pass
			}
			last[m[1]] = n
		} else if len(last) == 0 {
			continue // before the checker's pass
		}
		pass = append(pass, l)
	}
	return pass
}

// deliberateMarks are the messages of kahook's deliberate differences
// (README, "Deliberate differences"): where keepalived silently loads
// something the writer evidently did not mean, kahook refuses.
var deliberateMarks = []string{
	"expects one value",                       // extra words after a single value
	"quotes as part of the file name",         // include "x.conf"
	"kahook refuses what keepalived misreads", // numbers: errNumDeliberate
	"already defined at",                      // a virtual_server block for a service defined before
}

// deliberate: every error is a deliberate difference.
func deliberate(err error) bool {
	l, ok := err.(ErrorList)
	if !ok || len(l) == 0 {
		return false
	}
	for _, e := range l {
		if !slices.ContainsFunc(deliberateMarks, func(m string) bool { return strings.Contains(e.Msg, m) }) {
			return false
		}
	}
	return true
}
