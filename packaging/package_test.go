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
		"/usr/share/man/man8/kahook.8.gz", "/usr/share/bash-completion/completions/kahook", "/usr/share/zsh/site-functions/_kahook",
		"/usr/share/licenses/kahook/LICENSE", "/usr/share/doc/kahook/examples/two-node-dr/kahook.conf",
		"/usr/lib/systemd/system/keepalived.service.d/kahook-release.conf"} {
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
	// keepalived.service gets kahook's release drop-in: systemd accepts
	// it and runs `kahook release --all` after keepalived exits. The
	// chroot has no keepalived: a stand-in unit and binary take its place.
	const dropIn = "/lib/systemd/system/keepalived.service.d/kahook-release.conf"
	if !exists(dropIn) {
		t.Errorf("%s not installed", dropIn)
	}
	os.WriteFile(filepath.Join(root, "lib/systemd/system/keepalived.service"),
		[]byte("[Unit]\nDescription=keepalived stand-in\n[Service]\nType=notify\nExecStart=/usr/sbin/keepalived --dont-fork\n"), 0o644)
	in("cp", "/bin/true", "/usr/sbin/keepalived")
	if out, err := exec.Command("systemd-analyze", "verify", "--man=no", "--root="+root, "keepalived.service").CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify keepalived.service with the drop-in: %v\n%s", err, out)
	}
	if out := run(t, "systemd-analyze", "cat-config", "--root="+root, "systemd/system/keepalived.service"); !strings.Contains(out, "\nExecStopPost=-/usr/sbin/kahook release --all\n") {
		t.Errorf("keepalived.service does not run the release after it stops:\n%s", out)
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
	for _, p := range []string{"/etc/kahook", "/usr/sbin/kahook", "/lib/systemd/system/kahook-realserver.service", dropIn, "/usr/share/doc/kahook", "/usr/share/man/man8/kahook.8.gz"} {
		if exists(p) {
			t.Errorf("after purge %s remains", p)
		}
	}
	if out, err := exec.Command("chroot", root, "dpkg-query", "-W", "kahook").CombinedOutput(); err == nil {
		t.Errorf("dpkg still knows kahook after purge:\n%s", out)
	}
}

// TestExamples: every example is valid for keepalived and for kahook.
func TestExamples(t *testing.T) {
	need(t, "keepalived")
	kahook := testbin.Kahook(t)
	dirs, _ := filepath.Glob(filepath.Join(testbin.RepoRoot(), "packaging", "examples", "*"))
	n := 0
	for _, d := range dirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			continue
		}
		n++
		// keepalived checks that scripts exist: point them at this build.
		text, err := os.ReadFile(filepath.Join(d, "keepalived.conf"))
		if err != nil {
			t.Fatal(err)
		}
		ka := filepath.Join(t.TempDir(), "keepalived.conf")
		os.WriteFile(ka, []byte(strings.ReplaceAll(string(text), "/usr/sbin/kahook", kahook)), 0o644)
		out, err := exec.Command("keepalived", "-t", "-f", ka).CombinedOutput()
		if err != nil {
			// The one notice keepalived's config test counts as an error:
			// a VRRPv2 instance without VIPs (kahook binds them). keepalived
			// itself runs it (see README, decisions).
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if line != "" && !strings.Contains(line, "No VIP specified; at least one is sensible") {
					t.Errorf("%s: keepalived -t: %s", filepath.Base(d), line)
				}
			}
		}
		if out, err := exec.Command(kahook, "--syslog", "off", "config", "check", filepath.Join(d, "kahook.conf")).CombinedOutput(); err != nil {
			t.Errorf("%s: kahook config check: %v\n%s", filepath.Base(d), err, out)
		}
	}
	if n != 5 {
		t.Errorf("%d examples, want 5", n)
	}
}
