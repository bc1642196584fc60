package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/doctor"
	"github.com/kahook/kahook/internal/netnstest"
)

// TestDoctorNoKahookConf: on a node without a kahook.conf, doctor fails
// (exit 1) for each keepalived.conf line that runs kahook, naming the line
// and the missing config: `kahook notify` and `sync` exit 2 there. A
// keepalived.conf that does not run kahook still passes.
func TestDoctorNoKahookConf(t *testing.T) {
	if _, err := os.Stat(config.DefaultPath); err == nil {
		t.Skip(config.DefaultPath + " exists on this host")
	}
	const ka = `vrrp_script kahook_sync {
    script "/usr/sbin/kahook sync --deadline 8s VI_1"
    interval 10
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress { 127.255.0.51/32 dev lo }
    track_script { kahook_sync }
    %s
}
`
	for _, tc := range []struct {
		name, line string
		want       []string // the kahook-conf FAILs: "line: message part"
	}{
		{name: "notify runs kahook", line: `notify "/usr/sbin/kahook notify"`,
			want: []string{"2: vrrp_script runs `kahook sync`, but " + config.DefaultPath + " does not exist", "12: notify runs `kahook notify`, but " + config.DefaultPath}},
		{name: "notify runs another script", line: `notify "/usr/local/bin/notify.sh"`,
			want: []string{"2: vrrp_script runs `kahook sync`"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "keepalived.conf")
			os.WriteFile(p, []byte(strings.Replace(ka, "%s", tc.line, 1)), 0o644)
			// (The scripts' programs are not installed here: doctor fails
			// for that too; only the kahook-conf findings are compared.)
			code, out, errs := kahook("--json", "doctor", "--no-live", "--keepalived-conf", p)
			if code != 1 {
				t.Fatalf("exit %d, want 1: %s%s", code, out, errs)
			}
			var r doctor.Report
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range r.Findings {
				if f.Check == "kahook-conf" {
					if f.Severity != doctor.Fail || f.Pos.File != p {
						t.Errorf("got %+v, want a FAIL at %s", f, p)
					}
					got = append(got, fmt.Sprintf("%d: %s", f.Pos.Line, f.Msg))
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("got %q, want %q...", got[i], w)
				}
			}
		})
	}
	t.Run("keepalived.conf without kahook", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "keepalived.conf")
		os.WriteFile(p, []byte("vrrp_instance VI_1 {\n state BACKUP\n interface eth0\n virtual_router_id 51\n priority 100\n virtual_ipaddress { 10.0.0.100/24 }\n}\n"), 0o644)
		if code, out, errs := kahook("doctor", "--no-live", "--keepalived-conf", p); code != 0 || regexp.MustCompile(`(?m)^FAIL `).MatchString(out) {
			t.Fatalf("exit %d: %s%s", code, out, errs)
		}
	})
}

// TestDoctorKahookConfPerLine: a node with a kahook.conf can still have a
// keepalived.conf line that runs kahook with another --config that does
// not exist (kahook exits 2 on every run of that line): doctor FAILs for
// that line, and only for it.
func TestDoctorKahookConfPerLine(t *testing.T) {
	kh, err := filepath.Abs("../../packaging/examples/director/kahook.conf")
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "other", "kahook.conf")
	ka := fmt.Sprintf(`vrrp_script kahook_sync {
    script "/usr/sbin/kahook --config %s sync --deadline 8s VI_1"
    interval 10
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress { 127.255.0.51/32 dev lo }
    track_script { kahook_sync }
    notify "/usr/sbin/kahook notify --config %s"
}
`, kh, missing)
	p := filepath.Join(t.TempDir(), "keepalived.conf")
	os.WriteFile(p, []byte(ka), 0o644)
	_, out, errs := kahook("--json", "--config", kh, "doctor", "--no-live", "--keepalived-conf", p)
	var r doctor.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s%s", err, out, errs)
	}
	var got []string
	for _, f := range r.Findings {
		if f.Check == "kahook-conf" {
			got = append(got, fmt.Sprintf("%s %d: %s", f.Severity, f.Pos.Line, f.Msg))
		}
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], fmt.Sprintf("%s 12: notify runs `kahook notify`, but %s does not exist", doctor.Fail, missing)) {
		t.Fatalf("kahook-conf findings %q, want one FAIL for line 12 naming %s", got, missing)
	}
}

// TestDoctorKahookConfDefaultPerLine: doctor given another kahook.conf
// (--config, as when checking drafts before installing them) still fails a
// keepalived.conf line without its own --config when the default
// kahook.conf is missing: keepalived runs that line as written, so it reads
// the default, not the file doctor was given, and exits 2 on every run.
func TestDoctorKahookConfDefaultPerLine(t *testing.T) {
	if _, err := os.Stat(config.DefaultPath); err == nil {
		t.Skip(config.DefaultPath + " exists on this host")
	}
	kh, err := filepath.Abs("../../packaging/examples/director/kahook.conf")
	if err != nil {
		t.Fatal(err)
	}
	ka := fmt.Sprintf(`vrrp_script kahook_sync {
    script "/usr/sbin/kahook --config %s sync --deadline 8s VI_1"
    interval 10
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress { 127.255.0.51/32 dev lo }
    track_script { kahook_sync }
    notify "/usr/sbin/kahook notify"
}
`, kh)
	p := filepath.Join(t.TempDir(), "keepalived.conf")
	os.WriteFile(p, []byte(ka), 0o644)
	_, out, errs := kahook("--json", "--config", kh, "doctor", "--no-live", "--keepalived-conf", p)
	var r doctor.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s%s", err, out, errs)
	}
	var got []string
	fix := ""
	for _, f := range r.Findings {
		if f.Check == "kahook-conf" {
			got = append(got, fmt.Sprintf("%s %d: %s", f.Severity, f.Pos.Line, f.Msg))
			fix = f.Fix
		}
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], fmt.Sprintf("%s 12: notify runs `kahook notify`, but %s does not exist", doctor.Fail, config.DefaultPath)) {
		t.Fatalf("kahook-conf findings %q, want one FAIL for line 12 naming %s", got, config.DefaultPath)
	}
	// The other way out: the line reads the file doctor checked.
	if want := "/usr/sbin/kahook --config " + kh + " notify"; !strings.Contains(fix, want) {
		t.Errorf("fix %q, want it to offer %q", fix, want)
	}
}

// TestDoctorCheckerOnlyImport: keepalived's samples that run it as an LVS
// checker only (no vrrp_instance), imported, give a kahook.conf no
// instance owns anything in; doctor warns once per virtual server that
// nothing loads or checks it.
func TestDoctorCheckerOnlyImport(t *testing.T) {
	files, _ := filepath.Glob("/usr/share/doc/keepalived/samples/keepalived.conf.*")
	if len(files) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("keepalived samples missing")
		}
		t.Skip("keepalived not installed")
	}
	n := 0
	for _, f := range files {
		orig, _ := os.ReadFile(f)
		if regexp.MustCompile(`(?m)^\s*vrrp_instance\b`).Match(orig) {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			code, kh, errs := kahook("import", f)
			if code != 0 {
				t.Fatalf("import: exit %d: %s", code, errs)
			}
			code, ka, errs := kahook("import", "--keepalived", f)
			if code != 0 {
				t.Fatalf("import --keepalived: exit %d: %s", code, errs)
			}
			dir := t.TempDir()
			khPath, kaPath := filepath.Join(dir, "kahook.conf"), filepath.Join(dir, "keepalived.conf")
			os.WriteFile(khPath, []byte(kh), 0o644)
			os.WriteFile(kaPath, []byte(ka), 0o644)
			_, out, errs := kahook("--config", khPath, "doctor", "--no-live", "--keepalived-conf", kaPath)
			want := len(regexp.MustCompile(`(?m)^virtual_server `).FindAllString(kh, -1))
			got := regexp.MustCompile(`(?m)^WARN `+regexp.QuoteMeta(khPath)+`:\d+: virtual_server .* belongs to no instance \(`+regexp.QuoteMeta(khPath)+` has none\): no transition loads`).FindAllString(out, -1)
			if want == 0 || len(got) != want {
				t.Fatalf("%d unowned-virtual-server WARN, want %d (one per virtual_server):\n%s%s", len(got), want, out, errs)
			}
		})
	}
	if n == 0 {
		t.Fatal("no checker-only sample")
	}
}

// TestDoctorNothingToCheck: on a node with neither the default kahook.conf
// nor the default keepalived.conf, doctor says there is nothing to check
// (a WARN naming both paths) rather than a bare "no FAIL".
func TestDoctorNothingToCheck(t *testing.T) {
	for _, p := range []string{config.DefaultPath, defaultKeepalivedConf} {
		if _, err := os.Stat(p); err == nil {
			t.Skip(p + " exists on this host")
		}
	}
	code, out, errs := kahook("--syslog", "off", "doctor", "--no-live")
	if code != 0 || !strings.Contains(out, "WARN neither "+config.DefaultPath+" nor "+defaultKeepalivedConf+" exists: nothing to check") {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
}

// TestProcessesHere (last round's review): doctor's "keepalived is
// running" counts only processes of its own network namespace; a
// keepalived of another namespace (another director in a lab, a
// container) runs no transition for this node.
func TestProcessesHere(t *testing.T) {
	ns := netnstest.New(t, "procs")
	here := exec.Command("sleep", "30")
	there := ns.Command("sleep", "30") // ip netns exec: sleep in place of ip
	for _, c := range []*exec.Cmd{here, there} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer c.Wait()
		defer c.Process.Kill()
	}
	started := func(pid int) bool {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		return string(comm) == "sleep\n"
	}
	if !netnstest.Eventually(5*time.Second, func() bool { return started(here.Process.Pid) && started(there.Process.Pid) }) {
		t.Fatal("the sleeps did not start")
	}
	procs := processesHere()
	if procs[here.Process.Pid] != "sleep" {
		t.Errorf("sleep %d of this namespace not listed", here.Process.Pid)
	}
	if name, ok := procs[there.Process.Pid]; ok {
		t.Errorf("%s %d of another namespace listed", name, there.Process.Pid)
	}
}
