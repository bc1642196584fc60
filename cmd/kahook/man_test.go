//go:build !urfave_cli_no_docs

package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kahook/kahook/internal/kaconftest"
	"github.com/kahook/kahook/internal/testbin"
)

// TestManExampleKeepalivedConf: the keepalived.conf lines of kahook(8)'s
// EXAMPLES (the notify instance and the vrrp_script), put together as an
// operator would, pass keepalived -t, as written and in its strict and
// VRRPv3 modes (kahook at /usr/sbin/kahook is replaced by the test build,
// since keepalived checks that scripts exist and are secure).
func TestManExampleKeepalivedConf(t *testing.T) {
	i := strings.Index(kahook8Sections, "# EXAMPLES")
	if i < 0 {
		t.Fatal("kahook(8) has no EXAMPLES")
	}
	var conf strings.Builder
	for _, m := range regexp.MustCompile("(?s)```\n(.*?)```").FindAllStringSubmatch(kahook8Sections[i:], -1) {
		if strings.Contains(m[1], "vrrp_instance") || strings.Contains(m[1], "vrrp_script") {
			conf.WriteString(m[1])
		}
	}
	if !strings.Contains(conf.String(), `notify "/usr/sbin/kahook notify"`) {
		t.Fatalf("no notify example found in:\n%s", conf.String())
	}
	kc := kaconftest.New(t, testbin.Kahook(t))
	for _, v := range kaconftest.Variants {
		t.Run(v.Name, func(t *testing.T) {
			if r := kc.Check(kaconftest.WithGlobal(conf.String(), v.GlobalDefs)); r.Code != 0 {
				t.Errorf("keepalived -t exit %d:\n%s\n--- config:\n%s", r.Code, r.Output, conf.String())
			}
		})
	}
}

// TestManFilesListsPackagedDropIns: kahook(8)'s FILES names every systemd
// unit and keepalived drop-in the Debian package installs (nfpm.yaml).
func TestManFilesListsPackagedDropIns(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testbin.RepoRoot(), "nfpm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files := kahook8Sections[strings.Index(kahook8Sections, "# FILES"):strings.Index(kahook8Sections, "# EXAMPLES")]
	dsts := regexp.MustCompile(`(?m)^\s*dst: (/lib/systemd/system/\S+)$`).FindAllStringSubmatch(string(data), -1)
	if len(dsts) < 3 {
		t.Fatalf("only %d systemd files in nfpm.yaml", len(dsts))
	}
	for _, d := range dsts {
		t.Run(filepath.Base(d[1]), func(t *testing.T) {
			if !strings.Contains(files, "*"+d[1]+"*") {
				t.Errorf("FILES does not list %s", d[1])
			}
		})
	}
}
