package ipvs_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var expireColumn = regexp.MustCompile(`^(\S+ +)(\d\d):(\d\d)( .*)$`)

// sameConnList compares two `ipvsadm -Lnc` listings read a moment apart:
// byte for byte except the expire column, which the kernel counts down
// between the reads (by at most 3 s here).
func sameConnList(want, got string) error {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	if len(wl) != len(gl) {
		return fmt.Errorf("%d lines, want %d", len(gl), len(wl))
	}
	for i := range wl {
		if wl[i] == gl[i] {
			continue
		}
		wm, gm := expireColumn.FindStringSubmatch(wl[i]), expireColumn.FindStringSubmatch(gl[i])
		if wm == nil || gm == nil || wm[1] != gm[1] || wm[4] != gm[4] {
			return fmt.Errorf("line %d: %q, want %q", i+1, gl[i], wl[i])
		}
		secs := func(m []string) int {
			mm, _ := strconv.Atoi(m[2])
			ss, _ := strconv.Atoi(m[3])
			return mm*60 + ss
		}
		if d := secs(wm) - secs(gm); d < -3 || d > 3 {
			return fmt.Errorf("line %d: expires %s:%s, want %s:%s", i+1, gm[2], gm[3], wm[2], wm[3])
		}
	}
	return nil
}

// TestSameConnList checks the comparison on a listing the VM produced.
func TestSameConnList(t *testing.T) {
	ipvsadm := "IPVS connection entries\n" +
		"pro expire state       source             virtual            destination\n" +
		"TCP 00:41  SYN_RECV    10.1.0.1:54678     10.1.0.1:80        10.2.0.2:8080\n" +
		"TCP 00:43  SYN_RECV    10.1.0.1:54702     10.1.0.1:80        10.2.0.1:8080\n"
	kahook := strings.ReplaceAll(strings.ReplaceAll(ipvsadm, "00:41", "00:40"), "00:43", "00:42")
	if err := sameConnList(ipvsadm, kahook); err != nil {
		t.Errorf("a second's countdown: %v", err)
	}
	for name, bad := range map[string]string{
		"other port":   strings.ReplaceAll(ipvsadm, "54678", "54679"),
		"other state":  strings.ReplaceAll(ipvsadm, "SYN_RECV    10.1.0.1:54678", "ESTABLISHED 10.1.0.1:54678"),
		"padding":      strings.ReplaceAll(ipvsadm, "00:41  SYN", "00:41 SYN"),
		"long ago":     strings.ReplaceAll(ipvsadm, "00:41", "00:10"),
		"missing line": strings.TrimSuffix(ipvsadm, "TCP 00:43  SYN_RECV    10.1.0.1:54702     10.1.0.1:80        10.2.0.1:8080\n"),
	} {
		if sameConnList(ipvsadm, bad) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
