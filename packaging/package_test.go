// Package packaging holds the nfpm inputs; its test builds the .deb and
// .rpm and checks them the way a distribution would.
package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/doctor"
	"github.com/kahook/kahook/internal/kaconftest"
	"github.com/kahook/kahook/internal/netnstest"
	"github.com/kahook/kahook/internal/testbin"
)

const (
	v1 = "0.1.0~test1"
	v2 = "0.1.0~test2"
)

var (
	buildOnce sync.Once
	dist      string
	buildErr  error
	buildOut  []byte
)

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s missing: scripts/deps.sh installs it", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
}

// packages builds both test versions once (amd64).
func packages(t *testing.T) string {
	t.Helper()
	need(t, "nfpm")
	buildOnce.Do(func() {
		dist, buildErr = os.MkdirTemp("", "kahook-dist-")
		if buildErr != nil {
			return
		}
		for _, v := range []string{v1, v2} {
			cmd := exec.Command("scripts/package.sh", v)
			cmd.Dir = testbin.RepoRoot()
			cmd.Env = append(os.Environ(), "KAHOOK_DIST="+dist, "KAHOOK_ARCHES=amd64")
			out, err := cmd.CombinedOutput()
			buildOut = append(buildOut, out...)
			if err != nil {
				buildErr = err
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("package.sh: %v\n%s", buildErr, buildOut)
	}
	return dist
}

func TestMain(m *testing.M) {
	code := m.Run()
	if dist != "" {
		os.RemoveAll(dist)
	}
	os.Exit(code)
}

func deb(t *testing.T, v string) string {
	return filepath.Join(packages(t), "kahook_"+v+"-1_amd64.deb")
}

func rpmFile(t *testing.T, v string) string {
	return filepath.Join(packages(t), "kahook-"+v+"-1.x86_64.rpm")
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// justified reads the tags packaging/README.md justifies.
func justified(t *testing.T) string {
	data, err := os.ReadFile(filepath.Join(testbin.RepoRoot(), "packaging", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestLintian(t *testing.T) {
	need(t, "lintian")
	out, _ := exec.Command("lintian", deb(t, v1)).CombinedOutput()
	readme := justified(t)
	tag := regexp.MustCompile(`^([EW]): kahook: (\S+)`)
	for _, line := range strings.Split(string(out), "\n") {
		m := tag.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if m[1] == "E" {
			t.Errorf("lintian error: %s", line)
		}
		if !strings.Contains(readme, "`"+m[2]+"`") {
			t.Errorf("lintian tag %s not justified in packaging/README.md: %s", m[2], line)
		}
	}
	fields := run(t, "dpkg-deb", "-f", deb(t, v1), "Depends", "Recommends", "Suggests")
	if strings.Contains(fields, "Depends:") || !strings.Contains(fields, "Recommends: keepalived") || !strings.Contains(fields, "Suggests: ipvsadm") {
		t.Errorf("dependencies: %s", fields)
	}
}

// TestManPages: the .deb's kahook(8) and kahook.conf(5) render with man
// (no warnings from groff) and carry the sections an operator looks for.
func TestManPages(t *testing.T) {
	need(t, "dpkg-deb", "man")
	root := t.TempDir()
	run(t, "dpkg-deb", "-x", deb(t, v1), root)
	for _, page := range []struct {
		path string
		want []string
	}{
		{"usr/share/man/man8/kahook.8.gz", []string{"NAME", "SYNOPSIS", "GLOBAL OPTIONS", "COMMANDS", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO",
			"notify", "realserver", "/etc/kahook/kahook.conf", "kahook.conf(5)"}},
		{"usr/share/man/man5/kahook.conf.5.gz", []string{"NAME", "SYNOPSIS", "DESCRIPTION", "EXAMPLE", "SEE ALSO",
			"global_defs", "state_dir", "garp_master_repeat", "virtual_server", "kahook(8)"}},
	} {
		t.Run(filepath.Base(page.path), func(t *testing.T) {
			cmd := exec.Command("man", "--warnings", "-l", filepath.Join(root, page.path))
			cmd.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat", "LC_ALL=C.UTF-8")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil || stderr.Len() > 0 {
				t.Fatalf("man -l: %v\n%s", err, stderr.String())
			}
			text := regexp.MustCompile(`.\x08`).ReplaceAllString(string(out), "")
			for _, w := range page.want {
				if !strings.Contains(text, w) {
					t.Errorf("the rendered page lacks %q:\n%s", w, text)
				}
			}
		})
	}
}

func TestRPM(t *testing.T) {
	need(t, "rpm", "rpmlint")
	r := rpmFile(t, v1)
	info := run(t, "rpm", "-qpi", r)
	for _, want := range []string{"Name        : kahook", "Version     : " + v1, "License     : MIT"} {
		if !strings.Contains(info, want) {
			t.Errorf("rpm -qpi lacks %q:\n%s", want, info)
		}
	}
	list := run(t, "rpm", "-qpl", r)
	for _, want := range []string{"/usr/sbin/kahook", "/etc/kahook/kahook.conf", "/usr/lib/systemd/system/kahook-realserver.service",
		"/usr/share/man/man8/kahook.8.gz", "/usr/share/man/man5/kahook.conf.5.gz", "/usr/share/bash-completion/completions/kahook", "/usr/share/zsh/site-functions/_kahook",
		"/usr/share/licenses/kahook/LICENSE", "/usr/share/doc/kahook/examples/two-node-dr/kahook.conf",
		"/usr/lib/systemd/system/keepalived.service.d/kahook-reload.conf", "/usr/lib/systemd/system/keepalived.service.d/kahook-release.conf"} {
		if !strings.Contains(list, want+"\n") {
			t.Errorf("rpm -qpl lacks %s", want)
		}
	}
	if c := run(t, "rpm", "-qp", "--configfiles", r); strings.TrimSpace(c) != "/etc/kahook/kahook.conf" {
		t.Errorf("config files: %q", c)
	}
	scripts := run(t, "rpm", "-qp", "--scripts", r)
	for _, want := range []string{"preuninstall scriptlet", "disable --now kahook-realserver.service", "postuninstall scriptlet", "rm -rf /run/kahook", "postinstall scriptlet", "daemon-reload"} {
		if !strings.Contains(scripts, want) {
			t.Errorf("scriptlets lack %q:\n%s", want, scripts)
		}
	}
	if strings.Contains(scripts, "enable kahook") || strings.Contains(scripts, "start kahook") {
		t.Errorf("scriptlets must not enable or start the unit:\n%s", scripts)
	}
	for _, req := range strings.Split(run(t, "rpm", "-qp", "--requires", r), "\n") {
		if strings.Contains(req, ".so") {
			t.Errorf("library dependency in a static package: %s", req)
		}
	}
	// rpmlint unpacks with `cpio -id`; nfpm's payload has absolute names
	// (goreleaser/nfpm#1122): keep the extraction in rpmlint's temp dir.
	wrap := t.TempDir()
	os.WriteFile(filepath.Join(wrap, "cpio"), []byte("#!/bin/sh\nexec /usr/bin/cpio --no-absolute-filenames \"$@\"\n"), 0o755)
	cmd := exec.Command("rpmlint", r)
	cmd.Env = append(os.Environ(), "PATH="+wrap+":"+os.Getenv("PATH"))
	out, _ := cmd.CombinedOutput()
	readme := justified(t)
	tag := regexp.MustCompile(`^kahook\.x86_64: ([EW]): (\S+)`)
	for _, line := range strings.Split(string(out), "\n") {
		if m := tag.FindStringSubmatch(line); m != nil && !strings.Contains(readme, "`"+m[2]+"`") {
			t.Errorf("rpmlint %s not justified in packaging/README.md: %s", m[2], line)
		}
	}
	if !strings.Contains(string(out), "1 packages and 0 specfiles checked") {
		t.Errorf("rpmlint did not check the package:\n%s", out)
	}
}

// TestInstallDebian installs the .deb into a fresh Debian 12 root.
func TestInstallDebian(t *testing.T) {
	netnstest.RequireRoot(t)
	need(t, "debootstrap", "systemd-analyze", "chroot")
	root := t.TempDir()
	cache := filepath.Join(testbin.RepoRoot(), ".cache", "debootstrap", "bookworm-minbase-systemd.tgz")
	if _, err := os.Stat(cache); err != nil {
		os.MkdirAll(filepath.Dir(cache), 0o755)
		work := t.TempDir()
		run(t, "debootstrap", "--variant=minbase", "--include=systemd", "--make-tarball="+cache, "bookworm", work, "http://deb.debian.org/debian")
	}
	run(t, "debootstrap", "--variant=minbase", "--include=systemd", "--unpack-tarball="+cache, "bookworm", root, "http://deb.debian.org/debian")
	in := func(args ...string) string { return run(t, "chroot", append([]string{root}, args...)...) }
	exists := func(p string) bool { _, err := os.Lstat(filepath.Join(root, p)); return err == nil }
	copyIn := func(src, dst string) {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(root, dst), data, 0o644)
	}
	copyIn(deb(t, v1), "/tmp/k1.deb")
	copyIn(deb(t, v2), "/tmp/k2.deb")

	in("dpkg", "-i", "/tmp/k1.deb")
	if v := in("kahook", "--syslog", "off", "version"); !strings.Contains(v, v1) {
		t.Errorf("kahook version after install: %s", v)
	}
	man, err := exec.Command("sh", "-c", "zcat "+filepath.Join(root, "usr/share/man/man8/kahook.8.gz")).Output()
	if err != nil || !strings.Contains(string(man), ".TH") || !strings.Contains(string(man), "realserver") {
		t.Errorf("man page: %v", err)
	}
	if !exists("/usr/share/bash-completion/completions/kahook") || !exists("/usr/share/zsh/vendor-completions/_kahook") {
		t.Error("completion files missing")
	}
	if out, err := exec.Command("systemd-analyze", "verify", "--man=no", "--root="+root, "kahook-realserver.service").CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// keepalived.service gets kahook's two drop-ins, on Debian's own
	// keepalived unit (a stand-in binary takes keepalived's place): systemd
	// accepts them, runs `kahook release --all` after keepalived exits and
	// `kahook reload` on a reload.
	const dropIn = "/lib/systemd/system/keepalived.service.d/kahook-release.conf"
	const reloadDropIn = "/lib/systemd/system/keepalived.service.d/kahook-reload.conf"
	for _, d := range []string{dropIn, reloadDropIn} {
		if !exists(d) {
			t.Errorf("%s not installed", d)
		}
	}
	os.WriteFile(filepath.Join(root, "lib/systemd/system/keepalived.service"), []byte(debianKeepalivedUnit), 0o644)
	os.WriteFile(filepath.Join(root, "usr/sbin/keepalived"), []byte("#!/bin/sh\n"), 0o755)
	if !exists("/bin/kill") { // procps is not in minbase
		os.WriteFile(filepath.Join(root, "bin/kill"), []byte("#!/bin/sh\n"), 0o755)
	}
	if out, err := exec.Command("systemd-analyze", "verify", "--man=no", "--root="+root, "keepalived.service").CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze verify keepalived.service with kahook's drop-ins: %v\n%s", err, out)
	}
	unit := run(t, "systemd-analyze", "cat-config", "--root="+root, "systemd/system/keepalived.service")
	for _, want := range []string{"\nExecStopPost=-/usr/sbin/kahook release --all\n", "\nExecReload=/usr/sbin/kahook --syslog on reload\n"} {
		if !strings.Contains(unit, want) {
			t.Errorf("keepalived.service lacks %q:\n%s", strings.TrimSpace(want), unit)
		}
	}
	// Control: verify does read that drop-in dir (a broken line there fails).
	broken := filepath.Join(root, filepath.Dir(dropIn), "zz-broken.conf")
	os.WriteFile(broken, []byte("[Service]\nExecStopPost=-not/absolute\n"), 0o644)
	if out, _ := exec.Command("systemd-analyze", "verify", "--man=no", "--root="+root, "keepalived.service").CombinedOutput(); !strings.Contains(string(out), "zz-broken.conf") {
		t.Errorf("systemd-analyze verify ignored the drop-in dir:\n%s", out)
	}
	os.Remove(broken)
	if exists("/etc/systemd/system/multi-user.target.wants/kahook-realserver.service") {
		t.Error("the package enabled the unit")
	}
	st, err := os.Stat(filepath.Join(root, "etc/kahook/kahook.conf"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("config mode: %v %v", st, err)
	}
	if out := in("kahook", "--syslog", "off", "config", "check"); !strings.Contains(out, "OK") {
		t.Errorf("the shipped config does not pass config check: %s", out)
	}

	// Upgrade over an edited config: the edit survives.
	conf := filepath.Join(root, "etc/kahook/kahook.conf")
	edited := "instance VI_1 {\n    interface eth0\n    virtual_ipaddress { 192.0.2.10 }\n}\n"
	os.WriteFile(conf, []byte(edited), 0o600)
	in("dpkg", "-i", "/tmp/k2.deb")
	if v := in("kahook", "--syslog", "off", "version"); !strings.Contains(v, v2) {
		t.Errorf("kahook version after upgrade: %s", v)
	}
	if data, _ := os.ReadFile(conf); string(data) != edited {
		t.Errorf("upgrade replaced the edited config:\n%s", data)
	}
	// Remove keeps the (edited) conffile; purge removes everything.
	in("dpkg", "-r", "kahook")
	if exists("/usr/sbin/kahook") || !exists("/etc/kahook/kahook.conf") {
		t.Errorf("after remove: binary present %v, config present %v", exists("/usr/sbin/kahook"), exists("/etc/kahook/kahook.conf"))
	}
	in("dpkg", "-P", "kahook")
	for _, p := range []string{"/etc/kahook", "/usr/sbin/kahook", "/lib/systemd/system/kahook-realserver.service", dropIn, reloadDropIn, "/usr/share/doc/kahook", "/usr/share/man/man8/kahook.8.gz", "/usr/share/man/man5/kahook.conf.5.gz"} {
		if exists(p) {
			t.Errorf("after purge %s remains", p)
		}
	}
	if out, err := exec.Command("chroot", root, "dpkg-query", "-W", "kahook").CombinedOutput(); err == nil {
		t.Errorf("dpkg still knows kahook after purge:\n%s", out)
	}
}

// TestExamples: every example is valid for kahook, and keepalived's
// config test exits 0 on its keepalived.conf as written, with vrrp_strict,
// with vrrp_version 3 and with both (README: keepalived's VIP is a
// placeholder).
func TestExamples(t *testing.T) {
	kahook := testbin.Kahook(t)
	kc := kaconftest.New(t, kahook)
	dirs, _ := filepath.Glob(filepath.Join(testbin.RepoRoot(), "packaging", "examples", "*"))
	n := 0
	for _, d := range dirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			continue
		}
		n++
		text, err := os.ReadFile(filepath.Join(d, "keepalived.conf"))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range kaconftest.Variants {
			t.Run(filepath.Base(d)+"/"+v.Name, func(t *testing.T) {
				if r := kc.Check(kaconftest.WithGlobal(string(text), v.GlobalDefs)); r.Code != 0 {
					t.Errorf("keepalived -t exit %d:\n%s", r.Code, r.Output)
				}
			})
		}
		if out, err := exec.Command(kahook, "--syslog", "off", "config", "check", filepath.Join(d, "kahook.conf")).CombinedOutput(); err != nil {
			t.Errorf("%s: kahook config check: %v\n%s", filepath.Base(d), err, out)
		}
		commandsParse(t, kc, kahook, string(text), filepath.Join(d, "kahook.conf"))
		wiringFindings(t, filepath.Join(d, "keepalived.conf"), filepath.Join(d, "kahook.conf"))
	}
	if n != 5 {
		t.Errorf("%d examples, want 5", n)
	}
}

// quickStart returns the README's Quick start code blocks: keepalived.conf
// then kahook.conf.
func quickStart(t *testing.T) (keepalived, kahook string) {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(testbin.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i := strings.Index(s, "\n## Quick start\n")
	if i < 0 {
		t.Fatal("README has no Quick start section")
	}
	s = s[i+1:]
	if j := strings.Index(s[3:], "\n## "); j >= 0 {
		s = s[:j+3]
	}
	blocks := regexp.MustCompile("(?s)```\n(.*?)```").FindAllStringSubmatch(s, -1)
	if len(blocks) != 2 {
		t.Fatalf("Quick start has %d code blocks, want 2 (keepalived.conf, kahook.conf)", len(blocks))
	}
	return blocks[0][1], blocks[1][1]
}

// TestQuickStart: the README's Quick start passes keepalived -t (also
// strict and VRRPv3) and kahook config check, and wires kahook's checks.
func TestQuickStart(t *testing.T) {
	kahook := testbin.Kahook(t)
	ka, kh := quickStart(t)
	kc := kaconftest.New(t, kahook)
	for _, v := range kaconftest.Variants {
		t.Run(v.Name, func(t *testing.T) {
			if r := kc.Check(kaconftest.WithGlobal(ka, v.GlobalDefs)); r.Code != 0 {
				t.Errorf("keepalived -t exit %d:\n%s", r.Code, r.Output)
			}
		})
	}
	path := filepath.Join(t.TempDir(), "kahook.conf")
	if err := os.WriteFile(path, []byte(kh), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(kahook, "--syslog", "off", "config", "check", path).CombinedOutput(); err != nil {
		t.Errorf("kahook config check: %v\n%s", err, out)
	}
	commandsParse(t, kc, kahook, ka, path)
	if !strings.Contains(ka, "track_script") || len(kaconftest.KahookCommands(ka)) != 2 {
		t.Errorf("the Quick start does not wire kahook sync and notify")
	}
}

// wiringFindings: doctor finds the pair wired: every checker run by a
// tracked kahook sync, every instance with a (placeholder) VIP, no service
// VIP held by keepalived.
func wiringFindings(t *testing.T, keepalived, kahook string) {
	t.Helper()
	tree, _, err := config.ParseTree(keepalived, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	kc, err := config.Load(kahook, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var r doctor.Report
	k := doctor.ReadKeepalived(keepalived, tree)
	doctor.LintKeepalived(&r, k, kc)
	doctor.LintKahook(&r, kc, k)
	for _, f := range r.Problems() {
		switch f.Check {
		case "checks-wired", "no-vip", "vip-owner", "strict", "instance":
			t.Errorf("doctor on %s: %s", filepath.Base(filepath.Dir(keepalived)), f)
		}
	}
}

// commandsParse runs each `kahook sync` command line of a keepalived.conf
// (with the example's kahook.conf, in a namespace where the real servers
// are unreachable) and fails on exit 2: a command line kahook rejects
// would leave the checks silently unrun. notify lines are parsed with
// --dry-run.
func commandsParse(t *testing.T, kc *kaconftest.Checker, kahook, keepalived, kahookConf string) {
	t.Helper()
	for _, cmd := range kaconftest.KahookCommands(keepalived) {
		argv := strings.Fields(cmd)
		// A state dir kahook creates itself (root-only): an existing
		// t.TempDir() is 0755, which kahook refuses with exit 2.
		args := append([]string{kahook, "--syslog", "off", "--config", kahookConf, "--state-dir", filepath.Join(t.TempDir(), "state")}, argv[1:]...)
		switch {
		case len(argv) > 1 && argv[1] == "sync":
		case len(argv) > 1 && argv[1] == "notify":
			args = append(args[:7], append([]string{"--dry-run"}, args[7:]...)...)
			args = append(args, "INSTANCE", "VI_1", "MASTER", "150")
		default:
			continue
		}
		if out, code := kc.Run(args...); code == 2 {
			t.Errorf("%q: kahook rejects the command line (exit 2):\n%s", cmd, out)
		}
	}
}

// debianKeepalivedUnit is keepalived.service of Debian 12's keepalived
// 2.2.7 package.
const debianKeepalivedUnit = `[Unit]
Description=Keepalive Daemon (LVS and VRRP)
After=network-online.target
Wants=network-online.target
Documentation=man:keepalived(8)
Documentation=man:keepalived.conf(5)
Documentation=man:genhash(1)
Documentation=https://keepalived.org
ConditionFileNotEmpty=/etc/keepalived/keepalived.conf

[Service]
Type=notify
EnvironmentFile=-/etc/default/keepalived
ExecStart=/usr/sbin/keepalived --dont-fork $DAEMON_ARGS
ExecReload=/bin/kill -HUP $MAINPID

[Install]
WantedBy=multi-user.target
`
